#!/usr/bin/env bash
# Run a refit experiment (an experiment directory with a `source` file, e.g.
# experiments/predictor_convergence): first the source experiment's training
# runs at the same size (scripts/experiment.sh; finished runs are skipped),
# then one `simsiam-mi refit` per line of EXPDIR/runs,
#   <name> source=<source run> checkpoint=early|middle|late refit_reinit=0|1 [refit_lr=R]
# on the source run's kept checkpoints (OUT/checkpoint-<step>.bin, written with
# checkpoint_keep = 1): early = the first, middle = the median, late = the
# last.  The size file's keys (refit_* and track_*) go to every refit, a run
# line's refit_lr after them (so it wins).  Each
# refit writes RESULTS/<size>/<name>/ (refit.csv, refit_config.txt, refit.log);
# one whose refit.csv reached refit_steps is skipped, any other is redone.
#   scripts/refit-experiment.sh EXPDIR [quick|medium|full]
# Its results directory is locked as scripts/experiment.sh's (scripts/lock.sh),
# and SIGINT / SIGHUP / SIGTERM stop it as they stop scripts/experiment.sh
# (exit 130 / 129 / 143; the refits in progress are redone by the next
# invocation).
# Environment as scripts/experiment.sh, plus SM_SOURCE_RESULTS: where the source
# experiment's results are (default: SM_RESULTS/<source> when SM_RESULTS is
# set, else experiments/<source>/results).
set -uo pipefail
fail() { echo "experiment: error: $1" >&2; exit "${2:-1}"; }

exp=${1%/}
size=${2:-quick}
here=$(dirname "$0")
name=$(basename "$exp")
bin=${SM_BIN:-build/simsiam-mi}
. "$here/jobs.sh"
resolve_jobs
source_results_dir "$exp"
source_exp=$(dirname "$exp")/$source_name
[ -f "$source_exp/runs" ] || fail "source experiment $source_name not found ($exp/source)" 2
results=${SM_RESULTS:-$exp/results}/$size
mkdir -p "$results" 2>/dev/null || fail "cannot create the results directory ($results)"
. "$here/lock.sh"
lock_results "$results"
# Read before the source experiment runs (a malformed file is said at once)
# and before the traps are set (scripts/jobs.sh: no $(...) under them).
runs_text=$(awk -v who=experiment -v file="$exp/runs" -f "$here/runs.awk" <"$exp/runs") || exit 1
read_size_file "$exp" "$size"
mapfile -t run_lines <<<"$runs_text"
# parse_line LINE: run, src, when, reinit, lr from a runs line (no $(...):
# it runs under the traps too); a bad line ends the command (exit 2).
parse_line() {
  local words kv
  read -r -a words <<<"$1"
  run=${words[0]} src="" when="" reinit="" lr=""
  for kv in "${words[@]:1}"; do
    case $kv in source=*) src=${kv#*=} ;; checkpoint=*) when=${kv#*=} ;; refit_reinit=*) reinit=${kv#*=} ;;
      refit_lr=*) lr=${kv#*=} ;;
      *) fail "refit $run: unknown key $kv (source, checkpoint, refit_reinit, refit_lr) ($exp/runs)" 2 ;; esac
  done
  [ -n "$src" ] && [ -n "$reinit" ] || fail "refit $run needs source=, checkpoint= and refit_reinit= ($exp/runs)" 2
  case $when in early|middle|late) ;; *) fail "refit $run: checkpoint= must be early, middle or late ($exp/runs)" 2 ;; esac
  [[ $source_runs == *" $src "* ]] || fail "refit $run: source=$src is not a run of $source_name ($exp/runs)" 2
}
# Every line checked now, before the source experiment trains for an hour.
source_text=$(awk -v who=experiment -v file="$source_exp/runs" -f "$here/runs.awk" <"$source_exp/runs") || exit 1
source_runs=" "
while read -r word _; do source_runs+="$word "; done <<<"$source_text"
for line in "${run_lines[@]}"; do parse_line "$line"; done
mapfile -t size_keys <<<"$size_text"
[ -n "$size_text" ] || size_keys=()
refit_steps=$(size_value refit_steps)
status_file=$(mktemp "$results/.status.XXXXXX") || fail "cannot write in $results"
trap 'rm -f "$status_file"' EXIT
trap_interrupts

run_in_session env SM_RESULTS="$source_results" "$here/experiment.sh" "$source_exp" "$size"
rc=$?
[ "$interrupted" -ne 0 ] && fail "interrupted in the source experiment $source_name; the same command resumes" "$interrupted"
[ $rc -eq 0 ] || fail "the source experiment $source_name failed"

# The kept checkpoint of source run $1 at position $2 (early, middle, late;
# check_kept has made sure there is one).
checkpoint_of() {
  local kept
  kept_checkpoints "$source_results/$size/$1"
  [ ${#kept[@]} -gt 0 ] || return 1
  case $2 in
    early) echo "${kept[0]}" ;;
    middle) echo "${kept[$(((${#kept[@]} - 1) / 2))]}" ;;
    late) echo "${kept[-1]}" ;;
  esac
}

# last_step ← the refit_step of $1/refit.csv's last row (empty when there is
# none).  Read by bash itself: the planning below runs under the traps, where
# no $(...) may (scripts/jobs.sh).
read_last_refit_step() {
  local step rest
  last_step=""
  [ -f "$1/refit.csv" ] || return 0
  { read -r _ && while IFS=, read -r step rest; do last_step=$step; done; } <"$1/refit.csv"
}

# A source run without kept checkpoints fails every refit of it: said once,
# before any refit.  Finished runs are skipped by the source experiment, so a
# run whose checkpoints are gone (results committed without their .bin files)
# must be deleted to be trained again.
check_kept() {
  local dir=$source_results/$size/$1 kept
  kept_checkpoints "$dir"
  [ ${#kept[@]} -gt 0 ] && return 0
  [ -f "$dir/summary.json" ] &&
    fail "the source run $dir finished but keeps no checkpoint-<step>.bin (results copied without them?); delete $dir to train it again"
  fail "no kept checkpoint in $dir (checkpoint_keep = 1 in $source_exp/$size.config?)"
}

refit_one() {
  local run=$1 src=$2 when=$3 reinit=$4 lr=${5:-} dir=$results/$1 ckpt now rc start=$SECONDS
  # before the traps (scripts/jobs.sh: no $(...) under them); a signal now
  # ends this subshell, the refit not started
  ckpt=$(checkpoint_of "$src" "$when")
  printf -v now '%(%F %T)T' -1
  trap_interrupts
  [ "$interrupted" -ne 0 ] && return # not started: the interrupt came first
  mkdir -p "$dir"
  rm -f "$dir/refit.csv" # a refit cut short is redone (refit refuses to replace a refit.csv)
  local args=(refit --checkpoint "$ckpt" threads=1 "${size_keys[@]}" refit_reinit="$reinit" ${lr:+refit_lr="$lr"}
              out="$dir")
  echo "# $now $bin ${args[*]}" >>"$dir/refit.log"
  run_in_session "$bin" "${args[@]}" >>"$dir/refit.log" 2>&1 </dev/null
  rc=$?
  if stopped_by_interrupt $rc "$dir/refit.log"; then
    echo "$rc $run stopped" >>"$status_file"
    echo "refit $run: stopped; the next invocation redoes it"
    return
  fi
  echo "$rc $run" >>"$status_file"
  if [ $rc -eq 0 ]; then echo "refit $run: done in $((SECONDS - start)) s ($ckpt)"
  else echo "refit $run: failed (exit $rc), log $dir/refit.log" >&2; fi
}

[ "$jobs" -gt ${#run_lines[@]} ] && jobs=${#run_lines[@]}
echo "experiment $name ($size): ${#run_lines[@]} refits of $source_name, up to $jobs at once, results in $results"
# The refits to do, "<run> <source run> <when> <reinit> [<lr>]" each, their
# sources' kept checkpoints checked first.
skipped=0 todo=()
for line in "${run_lines[@]}"; do
  parse_line "$line"
  read_last_refit_step "$results/$run"
  if [ -n "$refit_steps" ] && [ "$last_step" = "$refit_steps" ]; then
    echo "refit $run: skipped (finished: $results/$run/refit.csv)"
    skipped=$((skipped + 1))
    continue
  fi
  check_kept "$src"
  todo+=("$run $src $when $reinit $lr")
done
launch_all refit_one "${todo[@]}"
report_status "experiment $name ($size)" refit ${#run_lines[@]} $skipped refit.log refits
