#!/usr/bin/env bash
# `make report EXP=NAME [SIZE=quick|medium|full]`: the report of one experiment,
# RESULTS/<size>/report.md (RESULTS = $SM_RESULTS or experiments/NAME/results):
# per run its varied keys, how far it got, the chain verdict counts and its
# last tracked row; the gap and its two shares vs the varied keys as a table
# (gap.csv) and a plot; Î vs loss across runs (mi_loss.csv and a plot); and a
# conclusion computed from those tables (analysis/README.md).  Every run with a
# train.csv also gets its own report (analysis/run-report.sh).
#   analysis/experiment-report.sh EXPDIR [quick|medium|full]
# Exit 1 when there are no results, or after writing the report when a run's
# CSV is not numbers (that run is named and left out; one line per such run
# naming the file on stderr); 2 on usage errors.
set -uo pipefail
# shellcheck source=analysis/lib.sh
. "$(dirname "$0")/lib.sh"

usage_text="analysis/experiment-report.sh EXPDIR [quick|medium|full]   (or: make report EXP=NAME [SIZE=quick|medium|full])"
[ $# -ge 1 ] && [ $# -le 2 ] && [ -n "$1" ] || usage "$usage_text"
exp=$(awk_path "${1%/}")
size=${2:-quick}
case $size in quick|medium|full) ;; *) usage "$usage_text" ;; esac
[ -f "$exp/runs" ] || { echo "analysis: error: not an experiment directory, no runs file ($exp)" >&2; exit 2; }
# A refit experiment (a `source` file): its own report.
[ -f "$exp/source" ] && exec "$(dirname "$0")/convergence-report.sh" "$exp" "$size"
name=$(basename "$exp")
results=$(awk_path "${SM_RESULTS:-$exp/results}/$size")
[ -d "$results" ] || fail "no results for $name ($size): run make experiment NAME=$name SIZE=$size first ($results)"
scripts_dir=$analysis_dir/../scripts
runs_text=$(awk -v who=analysis -v file="$exp/runs" -f "$scripts_dir/runs.awk" <"$exp/runs") || exit 1
mapfile -t run_lines <<<"$runs_text"
# The keys some run line sets, in order of first appearance: what the experiment varies.
varied=$(printf '%s\n' "${run_lines[@]}" | awk '{ for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k)
                                                   if (!(k in seen)) { seen[k] = 1; printf "%s ", k } } }')
varied=${varied% }
varied_prose=${varied// /, }

# value_of RUN_DIR KEY RUN_LINE: KEY as the run ran with it (its config.txt,
# which also holds the defaults), else as the runs line sets it (a run not
# started yet), else "?"; in the runs line's spelling where both are the same
# number (10 where an older binary's config.txt wrote 1e+01).  A runs line
# edited since is said with the shared files' changes below.
value_of() {
  local v r
  v=$(config_value "$1" "$2")
  r=$(printf '%s\n' "$3" | tr ' ' '\n' | sed -n "s/^$2=//p")
  if [ -z "$v" ] || { [ -n "$r" ] && awk -v a="$v" -v b="$r" 'BEGIN { n = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
                                                                 exit !(a ~ n && b ~ n && a + 0 == b + 0) }'; }; then
    v=$r
  fi
  echo "${v:-?}"
}

# Markdown number: 3 decimals, nan kept.
md_num() { awk -v x="$1" 'BEGIN { if (x ~ /^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$/) printf "%.3f", x; else printf "%s", x }'; }

# The settings every run shares: the small configuration, the config file,
# then the size's keys (scripts/experiment.sh layers them so, a later value
# winning), each key once with the value the runs get, the varied keys apart.
shared_lines=""
for f in "$scripts_dir/../experiments/small.config" "$exp/config" "$exp/$size.config"; do
  [ -f "$f" ] || continue
  keys=$(awk -v who=analysis -v file="$f" -f "$scripts_dir/keys.awk" <"$f") || exit 1
  shared_lines+="$keys"$'\n'
done
shared=$(printf '%s' "$shared_lines" | awk -v varied=" $varied " 'NF { k = $0; sub(/=.*/, "", k)
    if (index(varied, " " k " ")) next; if (!(k in v)) order[++n] = k; v[k] = $0 }
  END { for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), v[order[i]] }')
# Those files and the runs file are read today: a shared key, or a key of
# the run's line, whose value the run's config.txt records otherwise means
# they changed after the run.  (A key the run's config.txt lacks predates it,
# and the run read that key's old default.)
drift=$(for line in "${run_lines[@]}"; do
  run=${line%% *} own=""
  [[ $line == *" "* ]] && own=${line#* }
  [ -f "$results/$run/config.txt" ] || continue
  awk -v run="$run" -v shared="$shared $own" 'BEGIN { n = split(shared, kv, " ")
      for (i = 1; i <= n; i++) { k = kv[i]; sub(/=.*/, "", k); want[k] = substr(kv[i], length(k) + 2) } }
    { sub(/[ \t]*=[ \t]*/, "=") } { k = $0; sub(/=.*/, "", k); got = substr($0, length(k) + 2) }
    (k in want) && got != want[k] && !(got ~ /^[-+.0-9eE]+$/ && want[k] ~ /^[-+.0-9eE]+$/ && got + 0 == want[k] + 0) {
      ran = ran " " k "=" got }
    END { if (ran != "") printf "%s ran with%s\n", run, ran }' "$results/$run/config.txt"
done | paste -sd ';' | sed 's/;/; /g')

gap_csv=$results/gap.csv mi_csv=$results/mi_loss.csv
gap_rows="index,run,step,dim_used,n,views,images,gap,gap_lo,gap_hi,predictor_share,family_share${varied:+,${varied// /,}}"$'\n'
mi_blocks="" mi_runs=""
runs_table="" final_table="" gap_table="" notes="" failures="" unfinished="" unfinished_runs=" "
total_holds=0 total_noise=0 total_fails=0 total_na=0 total_steps=0 tracked_runs=0 gap_runs=0 paired_runs=0 index=0 z_dim_max=0 dim_min=""
sphere_holds=0 sphere_noise=0 sphere_fails=0 sphere_na=0 sphere_steps=0

# verdict_counts CHAIN_CSV: "holds noise fails n/a steps" over its rows.
verdict_counts() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { c[$col["verdict"]]++; n++ } END { printf "%d %d %d %d %d\n", c["holds"], c["holds within noise"], c["fails"], c["n/a"], n }' "$1"
}
ns=() vs=() damaged=() damage_errors=""
for line in "${run_lines[@]}"; do
  read -r run keys <<<"$line"
  dir=$results/$run
  index=$((index + 1))
  settings=""
  for k in $varied; do settings+="$k=$(value_of "$dir" "$k" "$line") "; done
  settings=${settings% }
  if [ ! -f "$dir/train.csv" ] || [ "$(csv_rows "$dir/train.csv")" -eq 0 ]; then
    # train writes config.txt first: with it the run started, and is still
    # going or stopped before its first logged step (make experiment starts
    # it again, or resumes it from a checkpoint if it wrote one)
    if [ -f "$dir/config.txt" ]; then
      runs_table+="| $run | $settings | started, no step logged | | | | | | | |"$'\n'
      notes+="- $run: started ($dir/config.txt) but no step logged yet in $dir/train.csv: still running, or stopped before its first logged step."$'\n'
    else
      runs_table+="| $run | $settings | not run | | | | | | | |"$'\n'
      notes+="- $run: not run yet (no logged step in $dir/train.csv)."$'\n'
    fi
    continue
  fi
  # A run whose files are damaged is named and left out; the others are
  # still reported, and the command exits 1 with its error after writing.
  # summary.json is the trainer's one JSON line, written whole (atomically):
  # anything else is damage too, not a finished run with blank numbers.
  intact=1
  if ! err=$("$analysis_dir/run-report.sh" "$dir" 2>&1 >/dev/null); then
    intact=0
  else
    [ -z "$err" ] || printf '%s\n' "$err" >&2
    if [ -f "$dir/summary.json" ] && ! grep -qE '^\{"steps":[0-9]+,.*"final_loss":.*"knn_acc":.*\}$' "$dir/summary.json"; then
      intact=0 err="analysis: error: not the trainer's summary line ($dir/summary.json)"
    fi
  fi
  if [ $intact -eq 0 ]; then
    runs_table+="| $run | $settings | damaged | | | | | | | |"$'\n'
    notes+="- $run: damaged, left out of the tables below and of the conclusion: ${err#analysis: error: }"$'\n'
    damaged+=("$run") damage_errors+="$err"$'\n'
    continue
  fi
  if [ -f "$dir/summary.json" ]; then
    status=finished steps=$(json_value "$dir/summary.json" steps) loss=$(json_value "$dir/summary.json" final_loss)
    knn=$(json_value "$dir/summary.json" knn_acc)
    [ "$knn" = null ] && knn="n/a"
  else
    status="not finished" steps=$(awk -F, 'END { print $1 }' "$dir/train.csv") loss="" knn=""
  fi
  z=$(config_value "$dir" z_dim)
  [ -n "$z" ] && [ "$z" -gt "$z_dim_max" ] && z_dim_max=$z
  tracked=0
  [ -f "$dir/track.csv" ] && tracked=$(csv_rows "$dir/track.csv")
  if [ "$tracked" -eq 0 ]; then
    runs_table+="| $run | $settings | $status | $steps | $(md_num "$loss") | $(md_num "$knn") | no tracking data | | | [report]($run/report.md) |"$'\n'
    notes+="- $run: no tracking data ($dir/track.csv missing or empty)."$'\n'
    continue
  fi
  tracked_runs=$((tracked_runs + 1))
  IFS=, read -r t_step t_loss t_nll t_hkl t_hz1 t_hx t_iksg t_igauss t_iba t_inf t_cap t_zstd t_dim \
    <<<"$(last_row "$dir/track.csv" "step loss_cos nll_full h_z_kl h_z_given_z1 h_z_given_x i_ksg i_gauss i_ba i_infonce infonce_cap z_std dim_used")"
  final_table+="| $run | $t_step | $t_dim | $(md_num "$t_loss") | $(md_num "$t_nll") | $(md_num "$t_hkl") | $(md_num "$t_hz1") | $(md_num "$t_hx") | $(md_num "$t_iksg") | $(md_num "$t_igauss") | $(md_num "$t_iba") | $(md_num "$t_inf") ($(md_num "$t_cap")) | $(md_num "$t_zstd") |"$'\n'
  if [ -z "$dim_min" ] || { [[ $t_dim =~ ^[0-9]+$ ]] && [ "$t_dim" -lt "$dim_min" ]; }; then dim_min=$t_dim; fi
  # Î vs loss: this run's finite (loss_cos, i_ksg) pairs as one block.
  block=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; print "step,loss_cos,i_ksg"; next }
                   $c["loss_cos"] ~ /^[-+]?[0-9.]/ && $c["i_ksg"] ~ /^[-+]?[0-9.]/ { print $c["step"] "," $c["loss_cos"] "," $c["i_ksg"]; n++ }
                   END { exit n == 0 }' "$dir/track.csv") && { mi_blocks+="$block"$'\n\n\n'; mi_runs+="$run "; }
  if [ ! -f "$dir/chain.csv" ]; then
    runs_table+="| $run | $settings | $status | $steps | $(md_num "$loss") | $(md_num "$knn") | $tracked | no chain data | | [report]($run/report.md) |"$'\n'
    notes+="- $run: no chain data ($dir/track_detail.csv missing, empty or without a step of track.csv)."$'\n'
    continue
  fi
  read -r holds noise fails na steps_chained <<<"$(verdict_counts "$dir/chain.csv")"
  sphere_cell="n/a"
  if [ -f "$dir/chain_sphere.csv" ]; then
    read -r sh sn sf sa ss <<<"$(verdict_counts "$dir/chain_sphere.csv")"
    sphere_cell="$sh / $sn / $sf / $sa"
    if [ "$(config_value "$dir" loss)" = cosine ]; then
      sphere_holds=$((sphere_holds + sh)) sphere_noise=$((sphere_noise + sn)) sphere_fails=$((sphere_fails + sf))
      sphere_na=$((sphere_na + sa)) sphere_steps=$((sphere_steps + ss))
    fi
  fi
  total_holds=$((total_holds + holds)) total_noise=$((total_noise + noise)) total_fails=$((total_fails + fails))
  total_na=$((total_na + na)) total_steps=$((total_steps + steps_chained))
  runs_table+="| $run | $settings | $status | $steps | $(md_num "$loss") | $(md_num "$knn") | $tracked | $holds / $noise / $fails / $na | $sphere_cell | [report]($run/report.md) |"$'\n'
  failures+=$(awk -F, -v run="$run" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["verdict"] == "fails" { s = s sprintf(", %s (%s)", $c["step"],
        ($c["nll_vs_z1"] == "fails" ? "E[NLL_Q] below Ĥ(z2|z1)" : "Ĥ(z2|z1) below Ĥ(z2|x)")) }
    END { if (s != "") printf "; %s at step%s", run, substr(s, 2) }' "$dir/chain.csv")
  IFS=, read -r c_step c_dim c_n c_views c_images c_gap c_lo c_hi c_pred c_fam c_rule \
    <<<"$(last_row "$dir/chain.csv" "step dim_used n views images gap gap_lo gap_hi predictor_share family_share gap_interval")"
  gap_runs=$((gap_runs + 1))
  [ "$c_rule" = paired ] && paired_runs=$((paired_runs + 1))
  ns+=("$c_n") vs+=("$c_views×$c_images")
  [ "$status" = finished ] || { unfinished+="$run (step $c_step), "; unfinished_runs+="$run "; }
  gap_rows+="$index,$run,$c_step,$c_dim,$c_n,$c_views,$c_images,$c_gap,$c_lo,$c_hi,$c_pred,$c_fam"
  for k in $varied; do gap_rows+=",$(value_of "$dir" "$k" "$line")"; done
  gap_rows+=$'\n'
  gap_table+="| $run | $settings | $c_step | $c_dim | $c_n | $c_views × $c_images | $(md_num "$c_gap") [$(md_num "$c_lo"), $(md_num "$c_hi")] | $(md_num "$c_pred") | $(md_num "$c_fam") |"$'\n'
done

printf '%s' "$gap_rows" | write_file "$gap_csv" || exit 1
mkdir -p "$results/plots" || fail "cannot create the plots directory ($results/plots)"
note=" — $name ($size)"
if [ "$(csv_rows "$gap_csv")" -gt 0 ]; then
  render gap in "$gap_csv" out "$results/plots/gap" skip "$(empty_columns "$gap_csv")" note "$note"
fi
rm -f "$mi_csv"
if [ -n "$mi_runs" ]; then
  printf '%s' "$mi_blocks" | write_file "$mi_csv" || exit 1
  render mi_loss in "$mi_csv" out "$results/plots/mi_loss" runs "${mi_runs% }" series i_ksg note "$note"
fi

# Pearson correlation of the probe loss and Î_KSG over every tracked step of every run.
correlation() {
  [ -f "$mi_csv" ] || { echo "- Î vs loss: no run has finite (loss, Î_KSG) pairs."; return; }
  awk -F, '$1 ~ /^[0-9]/ { n++; x = $2; y = $3; sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y }
    END {
      vx = sxx - sx * sx / n; vy = syy - sy * sy / n
      if (n < 3 || vx <= 0 || vy <= 0) { printf "- Î vs loss: too few distinct points (%d) for a correlation.\n", n; exit }
      r = (sxy - sx * sy / n) / sqrt(vx * vy)
      what = "no clear linear relation."
      if (r < -0.5) what = "a lower loss goes with a higher estimated mutual information."
      if (r > 0.5) what = "a lower loss goes with a lower estimated mutual information."
      printf "- **Î_KSG(z1;z2) vs the probe loss**: Pearson r = %.2f over %d tracked steps (all runs pooled): %s\n", r, n, what
    }' "$mi_csv"
}

conclusion() {
  if [ "$tracked_runs" -eq 0 ]; then
    echo "No run has tracking data: nothing to conclude about the bound, the gap or Î vs loss."
    return
  fi
  if [ "$total_steps" -gt 0 ]; then
    echo "- **The chain E[NLL_Q] ≥ Ĥ(z2|z1) ≥ Ĥ(z2|x)** over $total_steps tracked steps of the runs above: holds at" \
         "$total_holds, holds within noise at $total_noise, fails at $total_fails, n/a at $total_na."
    [ -n "$failures" ] && echo "  It fails in ${failures#; }."
  fi
  if [ "$sphere_steps" -gt 0 ]; then
    echo "- **The sphere chain E[NLL_vMF] ≥ Ĥ_S(ẑ2|ẑ1) ≥ Ĥ_S(ẑ2|x)** (the cosine loss's own Q) over $sphere_steps tracked steps" \
         "of the cosine runs: holds at $sphere_holds, holds within noise at $sphere_noise, fails at $sphere_fails, n/a at $sphere_na."
  fi
  # the trend compares the runs' ends: a run not finished yet is left out, named
  awk -F, -v skip="$unfinished_runs" 'NR == 1 || !index(skip, " " $2 " ")' "$gap_csv" |
    awk -v keys="$varied" -f "$analysis_dir/trend.awk"
  [ -z "$unfinished" ] || echo "- Not finished, so left out of the trends above: ${unfinished%, }."
  [ ${#damaged[@]} -eq 0 ] || echo "- Damaged, so left out of the tables and of the trends above: ${damaged[*]} (see Runs)."
  correlation
  local distinct_n distinct_v
  distinct_n=$(printf '%s\n' "${ns[@]}" | sort -u | tr '\n' ' ')
  distinct_v=$(printf '%s\n' "${vs[@]}" | sort -u | tr '\n' ' ')
  [ ${#ns[@]} -eq 0 ] ||
    echo "- Sample sizes: N = ${distinct_n% } probe pairs, V × images = ${distinct_v% } for Ĥ(z2|x). k-NN estimates at" \
         "different N (or V) are not directly comparable; Ĥ(z2|x) from few views is biased upward."
  if [ -n "$dim_min" ] && [ "$z_dim_max" -gt 0 ] && [ "$dim_min" -lt "$z_dim_max" ]; then
    echo "- The k-NN columns and the chain are on a PCA reduction of z (dim_used = $dim_min of z_dim = $z_dim_max):" \
         "they are not the full-dimensional values, and the chain there is a heuristic (docs/design.md §1.8):" \
         "its verdicts order the reduced chain, and only dim_used = z_dim makes them rigorous."
  fi
  if [ "$size" = quick ]; then
    echo "- Quick size: a smoke test of the pipeline on a small model trained for seconds; its numbers say nothing"\
         "about SimSiam."
  fi
}

{
  echo "# Experiment $name ($size size)"
  echo
  sed -n '/^#/!q; s/^# \{0,1\}//p' "$exp/config"
  echo
  echo "Results in \`$results\`. Shared settings (\`experiments/small.config\`, \`$exp/config\`, then \`$exp/$size.config\`, a later value winning; the varied keys apart): \`$shared\`."
  [ -z "$drift" ] || echo "**These files or \`$exp/runs\` changed after the runs**: $drift (from each run's config.txt; the tables show what each run ran with)."
  echo "Varied between runs: ${varied_prose:-nothing}. All values in nats unless marked."
  echo
  echo "## Runs"
  echo
  echo "| run | settings | status | steps | final loss | kNN acc. | tracked steps | chain: holds / within noise / fails / n/a | sphere chain (vMF): the same | report |"
  echo "|---|---|---|---:|---:|---:|---:|---|---|---|"
  printf '%s' "$runs_table"
  echo
  printf '%s' "$notes"
  [ -n "$notes" ] && echo
  echo "## Last tracked step of each run"
  echo
  if [ -n "$final_table" ]; then
    echo "d = dim_used, the coordinates of the k-NN columns (Ĥ(z2) KL, Ĥ(z2|z1), Ĥ(z2|x), Î_KSG); E[NLL_full], Î_Gauss and"
    echo "Î_BA use all dimensions. The probe loss is a negative cosine (no unit)."
    echo
    echo "| run | step | d | probe loss | E[NLL_full] | Ĥ(z2) KL | Ĥ(z2\\|z1) | Ĥ(z2\\|x) | Î_KSG | Î_Gauss | Î_BA | Î_InfoNCE (cap) | z_std |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$final_table"
  else
    echo "no tracking data in any run."
  fi
  echo
  echo "## The gap and its shares vs ${varied_prose:-the runs}"
  echo
  if [ -n "$gap_table" ]; then
    if [ "$paired_runs" -eq "$gap_runs" ]; then gap_interval="the paired interval: the difference subsampled, both terms on the same rows"
    elif [ "$paired_runs" -eq 0 ]; then gap_interval="interval combining the two intervals at their worst"
    else gap_interval="the paired interval in $paired_runs of the $gap_runs runs, in the others the two intervals combined at their worst"; fi
    echo "At each run's last tracked step: gap = E[NLL_Q] − Ĥ(z2|z1) [$gap_interval]"
    echo "= predictor share E[NLL_Q(h)] − E[NLL_Q(h*)] + family share E[NLL_Q(h*)] − Ĥ(z2|z1), with h* the best"
    echo "affine predictor (cross-fitted least squares). Table: \`gap.csv\`."
    echo
    echo "| run | settings | step | d | N | V × images | gap | predictor share | family share |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$gap_table"
    echo
    echo "![gap and its shares](plots/gap.png) ([SVG](plots/gap.svg))"
  else
    echo "no chain data in any run."
  fi
  echo
  echo "## Î vs loss across runs"
  echo
  if [ -f "$mi_csv" ]; then
    echo "![Î_KSG vs probe loss, one colour per run](plots/mi_loss.png) ([SVG](plots/mi_loss.svg)) Table: \`mi_loss.csv\`."
  else
    echo "no tracking data in any run."
  fi
  echo
  echo "## Conclusion (computed from the tables above)"
  echo
  conclusion
} | write_file "$results/report.md" || exit 1
echo "report: $results/report.md"
[ -z "$damage_errors" ] || { printf '%s' "$damage_errors" >&2; exit 1; }
