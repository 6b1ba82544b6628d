#!/usr/bin/env bash
# The report of a refit experiment (a `source` file in EXPDIR, e.g.
# experiments/predictor_convergence), RESULTS/<size>/report.md with
# convergence.csv (analysis/convergence.awk) and one plot per source run and
# chain (plots/convergence.gp): the gap at a fixed encoder vs the predictor's
# refit steps.  Called by analysis/experiment-report.sh.
#   analysis/convergence-report.sh EXPDIR [quick|medium|full]
# Exit 1 when there are no finished refits or a refit_config.txt names no
# loss (one line naming the file), and after writing the report when a
# refit.csv is garbled (that refit is named and left out; one line per such
# file on stderr).  A refit cut short is left out of the tables and named.
set -uo pipefail
# shellcheck source=analysis/lib.sh
. "$(dirname "$0")/lib.sh"

exp=$(awk_path "${1%/}")
size=${2:-quick}
name=$(basename "$exp")
results=$(awk_path "${SM_RESULTS:-$exp/results}/$size")
scripts_dir=$analysis_dir/../scripts
# shellcheck source=scripts/jobs.sh
. "$scripts_dir/jobs.sh"
source_results_dir "$exp"
source_results+=/$size
[ -d "$results" ] || fail "no results for $name ($size): run make experiment NAME=$name SIZE=$size first ($results)"
runs_text=$(awk -v who=analysis -v file="$exp/runs" -f "$scripts_dir/runs.awk" <"$exp/runs") || exit 1
mapfile -t run_lines <<<"$runs_text"

REFIT_COLUMNS="refit_step step nll_r nll_r_lo nll_r_hi nll_r_opt h_z_given_z1 h_z_given_z1_lo h_z_given_z1_hi \
nll_vmf nll_vmf_lo nll_vmf_hi h_s_given_z1 h_s_given_z1_lo h_s_given_z1_hi nll_mlp nll_mix"

# The awk arguments: refit=, source=, mode=, lr= before each refit.csv.
args=() sources=() missing=() unfinished=() damaged=() damage_errors="" loss_of=""
for line in "${run_lines[@]}"; do
  read -r -a words <<<"$line"
  run=${words[0]} src="" mode=""
  for kv in "${words[@]:1}"; do
    case $kv in source=*) src=${kv#*=} ;; refit_reinit=1) mode=reinit ;; refit_reinit=0) mode=continue ;; esac
  done
  csv=$results/$run/refit.csv
  if [ ! -f "$csv" ] || [ "$(csv_rows "$csv")" -eq 0 ]; then missing+=("$run"); continue; fi
  # a damaged refit.csv is named and left out; the command exits 1 after the report
  if ! err=$(check_csv "$csv" "$REFIT_COLUMNS" refit_step 2>&1); then # its exit ends only the $(...)
    damaged+=("$run") damage_errors+="$err"$'\n'
    continue
  fi
  # a refit cut short is left out: its last row is not "after all its refit steps"
  done_steps=$(last_row "$csv" refit_step)
  want=$(config_value "$results/$run" refit_steps refit_config.txt)
  if [ -n "$want" ] && [ "$done_steps" != "$want" ]; then unfinished+=("$run (refit step $done_steps of $want)"); continue; fi
  lr=$(config_value "$results/$run" refit_lr refit_config.txt)
  args+=("refit=$run" "source=$src" "mode=$mode" "lr=${lr:-nan}" "$csv")
  [[ " ${sources[*]} " == *" $src "* ]] && continue
  sources+=("$src")
  # the source run's loss, as its refit recorded it (the source results may be elsewhere or gone)
  loss=$(config_value "$results/$run" loss refit_config.txt)
  [ -n "$loss" ] || fail "no loss in $results/$run/refit_config.txt: cannot tell which chain is the loss's own"
  loss_of+="$src=$loss "
done
[ ${#args[@]} -gt 0 ] || { printf '%s' "$damage_errors" >&2; fail "no finished refit for $name ($size) yet ($results)"; }
conv=$results/convergence.csv
awk -f "$analysis_dir/links.awk" -f "$analysis_dir/convergence.awk" "${args[@]}" | write_file "$conv"

mkdir -p "$results/plots" || fail "cannot create $results/plots"
for src in "${sources[@]}"; do
  for chain in gauss sphere; do
    blocks=$results/plots/.convergence-$src-$chain.csv titles=""
    awk -F, -v src="$src" -v chain="$chain" 'NR > 1 && $2 == src && $4 == chain {
        if ($1 != last) { if (last != "") printf "\n\n"; last = $1; printf "# %s\n", $1 }
        print $7 "," $14 "," $15 "," $16 "," $17 "," $18 }' "$conv" >"$blocks"
    titles=$(awk -F, -v src="$src" -v chain="$chain" 'NR > 1 && $2 == src && $4 == chain && !($1 in s) { s[$1]; printf "%s ", $1 }' "$conv")
    if awk -F, 'NF && !/^#/ && $2 ~ /^[-+]?[0-9]/ { ok = 1 } END { exit !ok }' "$blocks"; then
      render convergence in "$blocks" out "$results/plots/convergence-$src-$chain" titles "$titles" chain "$chain"
    fi
    rm -f "$blocks"
  done
done

plot_lines() {
  local src chain
  for src in "${sources[@]}"; do
    for chain in gauss sphere; do
      local p=plots/convergence-$src-$chain
      [ -f "$results/$p.png" ] && printf '![%s, %s chain](%s.png) ([SVG](%s.svg))\n\n' "$src" "$chain" "$p" "$p"
    done
  done
}

tables=$(awk -v loss_of="$loss_of" -f "$analysis_dir/convergence_md.awk" "$conv") || fail "could not summarise $conv"
{
  echo "# Experiment report: $name ($size)"
  echo
  sed -n 's/^# \{0,1\}//p' "$exp/config"
  echo
  echo "Encoders: the kept checkpoints of \`$source_results\` (experiment $source_name, same size);"
  echo "refit settings: \`$(awk -v who=analysis -v file="$exp/$size.config" -f "$scripts_dir/keys.awk" <"$exp/$size.config" | tr '\n' ' ' | sed 's/ $//')\`"
  echo "(a refit's own refit_lr, from its refit_config.txt, is in the tables)."
  echo "Regenerate: \`make experiment NAME=$name SIZE=$size\` then \`make report EXP=$name SIZE=$size\`."
  [ ${#missing[@]} -eq 0 ] || { echo; echo "Not run yet (no refit.csv): ${missing[*]}."; }
  [ ${#unfinished[@]} -eq 0 ] || { echo; printf 'Not finished, left out of the tables and the conclusion: %s.\n' "$(printf '%s, ' "${unfinished[@]}" | sed 's/, $//')"; }
  [ ${#damaged[@]} -eq 0 ] || { echo; echo "Damaged, left out of the tables and the conclusion: ${damaged[*]}:"
    printf '%s' "$damage_errors" | sed 's/^analysis: error: /- /'; }
  echo
  plot_lines
  printf '%s\n' "$tables"
} | write_file "$results/report.md" || exit 1
echo "report: $results/report.md (plots in $results/plots/)"
[ -z "$damage_errors" ] || { printf '%s' "$damage_errors" >&2; exit 1; }
