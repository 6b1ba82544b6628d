#!/usr/bin/env bash
# `make plots RUN=DIR`: the plots of one run into DIR/plots/ (PNG and SVG) and
# DIR/report.md: the chain E[NLL_Q] >= H(z2|z1) >= H(z2|x) per tracked step with
# its intervals and verdicts, the gap and its two shares, the last tracked row
# (analysis/README.md).  Also writes DIR/chain.csv (analysis/chain.awk), the
# table behind the chain plot and the experiment reports.
#   analysis/run-report.sh DIR
# A run without track.csv gets its training plot and a "no tracking data" line.
# Exit 1 on a missing train.csv or a CSV that is not numbers (one line naming
# the file), 2 on usage errors.
set -uo pipefail
# shellcheck source=analysis/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] && [ -n "$1" ] || usage "analysis/run-report.sh RUN_DIR   (or: make plots RUN=DIR)"
dir=$(awk_path "${1%/}")
[ -d "$dir" ] || { echo "analysis: error: not a run directory ($dir)" >&2; exit 2; }
name=$(basename "$dir")
train=$dir/train.csv track=$dir/track.csv detail=$dir/track_detail.csv chain=$dir/chain.csv
sphere=$dir/chain_sphere.csv

[ -f "$train" ] || fail "no train.csv: the run has not logged a step ($train)"
check_csv "$train" "$TRAIN_COLUMNS" step
[ "$(csv_rows "$train")" -gt 0 ] || fail "no logged step yet ($train)"
tracked=0 detailed=0 chained=0
if [ -f "$track" ]; then
  check_csv "$track" "$TRACK_COLUMNS" step
  tracked=$(csv_rows "$track")
fi
if [ -f "$detail" ]; then
  check_csv "$detail" "$DETAIL_COLUMNS" step
  detailed=$(csv_rows "$detail")
fi
rm -f "$chain" "$sphere"
sphered=0
if [ "$tracked" -gt 0 ] && [ "$detailed" -gt 0 ]; then
  awk -f "$analysis_dir/links.awk" -f "$analysis_dir/chain.awk" "$track" "$detail" | write_file "$chain" || { rm -f "$chain"; exit 1; }
  chained=$(csv_rows "$chain")
  # The sphere chain, where track_detail.csv has it (tracked with d <= 8 by a version that writes it).
  if [[ " $(head -1 "$detail" | tr , ' ') " == *" h_s_given_z1 "* ]]; then
    awk -v sphere=1 -f "$analysis_dir/links.awk" -f "$analysis_dir/chain.awk" "$track" "$detail" | write_file "$sphere" || { rm -f "$sphere"; exit 1; }
    if [[ " $(empty_columns "$sphere") " == *" h_z_given_z1 "* ]]; then
      rm -f "$sphere" # no sphere chain at this z_dim (dim_used < z_dim): nothing to report
    else
      sphered=$(csv_rows "$sphere")
    fi
  fi
fi

mkdir -p "$dir/plots" || fail "cannot create the plots directory ($dir/plots)"
# every plot drawn again below where its data are: one of data since gone is neither left nor linked
rm -f "$dir"/plots/*.png "$dir"/plots/*.svg
note=" — $name"
train_skip=$(empty_columns "$train")
loss=$(config_value "$dir" loss) # what the training loss's values are: its labels and axis in the plots
render train run "$dir" skip "$train_skip" loss "$loss"
if [ "$tracked" -gt 0 ]; then
  skip=$(empty_columns "$track")
  render loss in "$track" train "$train" out "$dir/plots/loss" skip "$skip" train_skip "$train_skip" note "$note" \
    loss "$loss"
  render info in "$track" out "$dir/plots/info" skip "$skip" note "$note"
  render zstd in "$track" train "$train" out "$dir/plots/zstd" skip "$skip" train_skip "$train_skip" note "$note"
  # runs is a list of words: one name, its blanks made underscores (its words would count as runs)
  render mi_loss in "$track" out "$dir/plots/mi_loss" runs "${name//[[:blank:]]/_}" skip "$skip" note "$note"
fi
if [ "$chained" -gt 0 ]; then
  render chain in "$chain" out "$dir/plots/chain" skip "$(empty_columns "$chain")" note "$note"
fi
if [ "$sphered" -gt 0 ]; then
  render chain in "$sphere" out "$dir/plots/chain_sphere" skip "$(empty_columns "$sphere")" note "$note" sphere 1 \
    what 'E[NLL_vMF] ≥ Ĥ_S(ẑ2|ẑ1) ≥ Ĥ_S(ẑ2|x) on the sphere'
fi

# One Markdown line on how far the run got.
run_status() {
  local s=$dir/summary.json
  if [ -f "$s" ]; then
    local knn
    knn=$(json_value "$s" knn_acc)
    [ "$knn" = null ] && knn="n/a" # trained with knn_every = 0
    printf 'Finished: %s steps (%s epochs), final loss %s, kNN accuracy %s, %s images/s.\n' \
      "$(json_value "$s" steps)" "$(json_value "$s" epochs)" "$(json_value "$s" final_loss)" \
      "$knn" "$(json_value "$s" images_per_s)"
  else
    local log="" # the experiment runner's log, where there is one
    [ -f "$dir/train.log" ] && log="; see train.log"
    printf 'Not finished (no summary.json: still running, interrupted or failed%s): last logged step %s.\n' \
      "$log" "$(awk -F, 'END { print $1 }' "$train")"
  fi
}

# The configuration keys that matter for reading the numbers, those config.txt has (the trainer's
# has them all; another loop's, such as python/examples/torch_simsiam_track.py's, those that apply);
# epochs only where steps = 0 leaves the run's length to it.
config_line() {
  [ -f "$dir/config.txt" ] || { echo "no config.txt"; return; }
  local k v line="" steps
  steps=$(config_value "$dir" steps)
  for k in dataset arch width z_dim batch steps epochs loss lr pred_lr_mult pred_fixed_lr pred_steps pred_mode \
           seed track_every track_samples track_views track_images track_resamples; do
    [ "$k" = epochs ] && [ "${steps:-0}" != 0 ] && continue
    v=$(config_value "$dir" "$k")
    [ -n "$v" ] && line+="$k=$v "
  done
  if [ -n "$line" ]; then echo "\`${line% }\`"; else echo "config.txt has no key this report quotes"; fi
}

plot_line() { [ -f "$dir/plots/$1.png" ] && echo "![$2](plots/$1.png) ([SVG](plots/$1.svg))" && echo; }

{
  echo "# Run report: $name"
  echo
  echo "Run directory \`$dir\`. $(run_status)"
  echo
  echo "Configuration: $(config_line)"
  echo
  echo "## Plots"
  echo
  plot_line train "training loss and z_std"
  plot_line loss "loss and E[NLL_Q] vs step"
  plot_line info "entropies and mutual information vs step"
  plot_line chain "the chain with intervals vs step"
  plot_line chain_sphere "the sphere chain (cosine loss) with intervals vs step"
  plot_line zstd "z_std vs step"
  plot_line mi_loss "mutual information vs loss"
  if [ ! -f "$track" ]; then
    echo "no tracking data: $track is missing (trained with track_every = 0, or by a binary that does not track)."
  elif [ "$tracked" -eq 0 ]; then
    echo "no tracking data: $track has no rows yet."
  elif [ "$chained" -eq 0 ]; then
    echo "no chain data: $detail is missing, empty or shares no step with track.csv, so the chain and the gap"
    echo "cannot be checked."
    echo
    awk -f "$analysis_dir/track_md.awk" "$track"
  else
    # The loss's own chain first: the sphere's for the cosine loss.
    if [ "$sphered" -gt 0 ] && [ "$loss" = cosine ]; then
      awk -v sphere=1 -f "$analysis_dir/chain_md.awk" "$sphere"
      echo
    fi
    awk -v z_dim="$(config_value "$dir" z_dim)" -f "$analysis_dir/chain_md.awk" "$chain"
    echo
    if [ "$sphered" -gt 0 ] && [ "$loss" != cosine ]; then
      awk -v sphere=1 -f "$analysis_dir/chain_md.awk" "$sphere"
      echo
    fi
    awk -f "$analysis_dir/track_md.awk" "$track"
  fi
} | write_file "$dir/report.md" || exit 1
echo "report: $dir/report.md (plots in $dir/plots/)"
