#!/usr/bin/env bash
# The gap of each run across replicates of one experiment, as Markdown on
# stdout (analysis/replicates.awk): each replicate is the experiment run again
# under another seed and reported, e.g.
#   make experiment NAME=pred_steps SIZE=medium KEYS=seed=1 RESULTS=DIR
#   make report EXP=pred_steps SIZE=medium RESULTS=DIR
#   analysis/replicates.sh experiments/pred_steps/results/medium/gap.csv DIR/medium/gap.csv
# Exit 1 when a file is missing or not a gap.csv (one line naming it), 2 on usage.
set -uo pipefail
# shellcheck source=analysis/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || usage "analysis/replicates.sh GAP_CSV GAP_CSV...   (the gap.csv of each replicate's experiment report)"
files=()
for f in "$@"; do
  [ -f "$f" ] && [ -r "$f" ] || fail "no readable gap.csv ($f)"
  files+=("$(awk_path "$f")")
done
exec awk -f "$analysis_dir/replicates.awk" "${files[@]}"
