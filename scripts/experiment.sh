#!/usr/bin/env bash
# Run one experiment of experiments/ (the shared runner behind every
# experiments/<name>/run.sh and `make experiment`).
#   scripts/experiment.sh EXPDIR [quick|medium|full]
# EXPDIR holds: config (shared keys, passed as --config), quick.config and
# full.config (the size: steps/epochs, tracking, architecture), runs (one line
# per run: "<name> key=value ...").  Every experiment trains the small
# configuration, experiments/small.config, with these on top; later wins:
# small.config < config < threads=1 < size file < run line < SM_KEYS.  The files go to
# the trainer as --config, so an error in one is reported with its file and line.
# Each run writes to RESULTS/<size>/<name>/ (RESULTS = $SM_RESULTS or
# EXPDIR/results), its stdout and stderr appended to train.log there.  A run
# with summary.json is skipped; one with checkpoint.bin (or, without it, kept
# checkpoint-<step>.bin copies: the newest) but no summary.json resumes from it.  Runs go JOBS at a time (default: the number of cores),
# each with threads=1 unless the size file sets threads (an experiment of one
# run uses all cores that way; several runs at once with several threads each
# slow each other down).  A second invocation on the same results directory
# while one runs refuses at once (scripts/lock.sh).  Exit 0 when every run finished,
# 1 when one failed (after the others finished; each failure is named with its
# log), 2 on usage errors, 130 / 129 / 143 when SIGINT / SIGHUP / SIGTERM
# stopped it: the runs in progress write their checkpoints, no new one starts,
# and the same command resumes (scripts/jobs.sh).  Binary: $SM_BIN (default build/simsiam-mi).
# SM_SCHEDULER=slurm (make experiment SCHEDULER=slurm) writes and submits a
# Slurm job array instead (scripts/slurm-experiment.sh), whose task i runs
# this script with SM_TASK=i: run line i alone, skipped or resumed as here;
# SM_LAUNCH (e.g. "mpirun") prefixes the binary, for data-parallel runs.
# SM_KEYS (make KEYS="seed=1 ..."): key=value words added to every run after
# its runs line, e.g. a replicate of the experiment under another seed; give
# it its own SM_RESULTS, since finished runs are skipped whatever their keys.
set -uo pipefail

usage() {
  echo "usage: scripts/experiment.sh EXPDIR [quick|medium|full]  (or experiments/<name>/run.sh [quick|medium|full]; environment: SM_BIN, SM_RESULTS, SM_KEYS, JOBS)" >&2
  exit 2
}
fail() { echo "experiment: error: $1" >&2; exit "${2:-1}"; }

exp=${1:-}
size=${2:-quick}
[ $# -le 2 ] && [ -n "$exp" ] || usage
case $size in quick|medium|full) ;; *) fail "unknown size '$size' (quick, medium or full)" 2 ;; esac
[ -d "$exp" ] || fail "no such experiment directory ($exp)" 2
exp=${exp%/}
read -r -d '' -a extra_keys <<<"${SM_KEYS:-}" # every line's words
for kv in "${extra_keys[@]}"; do # the Slurm array script quotes them: no quotes, $ or blanks inside
  [[ $kv =~ ^[a-z_]+=[A-Za-z0-9._+,:/@%~=-]*$ ]] || fail "KEYS: expected key=value words, got \"$kv\"" 2
  case ${kv%%=*} in out|resume|threads) fail "KEYS: ${kv%%=*} is the runner's to set, not KEYS'" 2 ;; esac
done
export SM_KEYS="${extra_keys[*]}"
[ -f "$exp/source" ] && [ ${#extra_keys[@]} -gt 0 ] &&
  fail "KEYS applies to training experiments; $(basename "$exp") refits its source runs' checkpoints" 2
case ${SM_SCHEDULER:-local} in
  local) # (a Slurm array task, SM_TASK set, inherits them from its submission)
    [ -n "${SM_TASK:-}" ] || [ -z "${SM_NODES:-}${SM_TASKS_PER_NODE:-}${SM_SBATCH_ARGS:-}" ] ||
      fail "NODES, TASKS_PER_NODE and SBATCH_ARGS apply to SCHEDULER=slurm only" 2 ;;
  slurm) exec "$(dirname "$0")/slurm-experiment.sh" "$exp" "$size" ;;
  *) fail "SCHEDULER must be local or slurm, not '$SM_SCHEDULER'" 2 ;;
esac
# A refit experiment (a `source` file): its own runner.
[ -f "$exp/source" ] && exec "$(dirname "$0")/refit-experiment.sh" "$exp" "$size"
name=$(basename "$exp")
bin=${SM_BIN:-build/simsiam-mi}
[ -x "$bin" ] || fail "no executable simsiam-mi, run make first ($bin)"
. "$(dirname "$0")/jobs.sh"
resolve_jobs
for f in config runs "$size.config"; do
  [ -f "$exp/$f" ] || fail "missing experiment file ($exp/$f)"
done
base=$(cd "$(dirname "$0")/.." && pwd)/experiments/small.config
[ -f "$base" ] || fail "missing the small configuration ($base)"
results=${SM_RESULTS:-$exp/results}/$size

# The runs file: "<name> key=value ..." per line (scripts/runs.awk checks it).
runs_text=$(awk -v who=experiment -v file="$exp/runs" -f "$(dirname "$0")/runs.awk" <"$exp/runs") || exit 1
read_size_file "$exp" "$size"
# threads=1 unless the size file sets threads (the size file itself goes as --config)
size_threads=$(size_value threads)
mapfile -t run_lines <<<"$runs_text"
if [ -n "${SM_TASK:-}" ]; then
  [[ $SM_TASK =~ ^[0-9]+$ ]] && [ "$SM_TASK" -lt ${#run_lines[@]} ] || fail "SM_TASK=$SM_TASK is not a run of $exp/runs" 2
  run_lines=("${run_lines[$SM_TASK]}")
fi
read -r -a launch <<<"${SM_LAUNCH:-}"

[ "$jobs" -gt ${#run_lines[@]} ] && jobs=${#run_lines[@]}

mkdir -p "$results" 2>/dev/null || fail "cannot create the results directory ($results)"
. "$(dirname "$0")/lock.sh"
task_run=
[ -n "${SM_TASK:-}" ] && read -r task_run _ <<<"${run_lines[0]}"
lock_results "$results" "$task_run"
status_file=$(mktemp "$results/.status.XXXXXX") || fail "cannot write in $results"
trap 'rm -f "$status_file"' EXIT
trap_interrupts

# One run in the background: its outcome goes to the status file as
# "<rc> <name> [stopped]" (one short O_APPEND write, so concurrent runs do not
# interleave); stopped when an interrupt ended it.
run_one() {
  trap_interrupts
  [ "$interrupted" -ne 0 ] && return # not started: the interrupt came first
  local run=$1; shift
  local dir=$results/$run start=$SECONDS rc
  local args=(train --config "$base" --config "$exp/config" --config "$exp/$size.config" threads="${size_threads:-1}"
               "$@" "${extra_keys[@]}" out="$dir")
  local how=started ckpt=$dir/checkpoint.bin kept
  # no checkpoint.bin but kept copies (killed between the two writes of its
  # first checkpoint, or checkpoint.bin deleted): the newest copy, which
  # train resumes and would not let a fresh run overwrite
  if [ ! -f "$ckpt" ]; then
    kept_checkpoints "$dir"
    ckpt=""
    [ ${#kept[@]} -eq 0 ] || ckpt=${kept[-1]} # kept[-1] of an empty array is an error in bash
  fi
  if [ -n "$ckpt" ]; then
    args+=(resume="$ckpt")
    how="resumed from $ckpt"
  fi
  local now; printf -v now '%(%F %T)T' -1
  if ! mkdir -p "$dir" 2>/dev/null || ! echo "# $now $bin ${args[*]}" 2>/dev/null >>"$dir/train.log"; then
    [ "$interrupted" -ne 0 ] && return # its mkdir killed by the group's signal: not started
    echo "1 $run" >>"$status_file"
    echo "run $run: cannot write its log $dir/train.log" >&2
    return
  fi
  echo "run $run: $how"
  run_in_session "${launch[@]}" "$bin" "${args[@]}" >>"$dir/train.log" 2>&1 </dev/null
  rc=$?
  local stopped=
  stopped_by_interrupt $rc "$dir/train.log" && stopped=stopped
  echo "$rc $run $stopped" >>"$status_file"
  if [ $rc -eq 0 ]; then
    echo "run $run: done in $((SECONDS - start)) s"
  elif [ -n "$stopped" ]; then
    echo "run $run: stopped (exit $rc) after $((SECONDS - start)) s; its checkpoint resumes it"
  else
    echo "run $run: failed (exit $rc) after $((SECONDS - start)) s, log $dir/train.log" >&2
  fi
}

echo "experiment $name ($size): ${#run_lines[@]} runs, up to $jobs at once, results in $results"
skipped=0 todo=()
for line in "${run_lines[@]}"; do
  read -r run _ <<<"$line"
  if [ -f "$results/$run/summary.json" ]; then
    echo "run $run: skipped (finished: $results/$run/summary.json)"
    skipped=$((skipped + 1))
  else
    todo+=("$line")
  fi
done
launch_all run_one "${todo[@]}"
report_status "experiment $name ($size)" run ${#run_lines[@]} $skipped train.log
