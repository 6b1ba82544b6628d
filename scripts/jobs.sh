# Sourced by the experiment runners (scripts/experiment.sh,
# scripts/refit-experiment.sh, scripts/slurm-experiment.sh) and the refit
# report (analysis/convergence-report.sh), after their fail().
#
# read_size_file EXPDIR SIZE: size_text = EXPDIR/SIZE.config's keys, one
# "key=value" a line (scripts/keys.awk: its one-line error and exit 1 when a
# line is malformed).  size_value KEY: KEY's last value there, empty if none.
read_size_file() {
  size_text=$(awk -v who=experiment -v file="$1/$2.config" -f "$(dirname "${BASH_SOURCE[0]}")/keys.awk" \
    <"$1/$2.config") || exit 1
}
size_value() { sed -n "s/^$1=//p" <<<"$size_text" | tail -1; }
#
# resolve_jobs: set `jobs`, how many runs go at once, to $JOBS or, unset, to
# the cores this process may run on (scripts/cores.sh); anything but a
# positive integer is a usage error (exit 2) before any run starts.
resolve_jobs() {
  jobs=${JOBS:-$("$(dirname "${BASH_SOURCE[0]}")/cores.sh")}
  [[ $jobs =~ ^[1-9][0-9]*$ ]] || fail "JOBS must be a positive integer, not '$jobs'" 2
}

# source_results_dir EXPDIR: where a refit experiment's source experiment (named
# in EXPDIR/source, read into source_name) keeps its results:
# SM_SOURCE_RESULTS, else SM_RESULTS/<source> when SM_RESULTS is set (the
# source runs go under it too, in a directory of their own), else
# <experiments>/<source>/results; set in source_results.
source_results_dir() {
  source_name=$(tr -d '[:space:]' <"$1/source")
  source_results=${SM_SOURCE_RESULTS:-${SM_RESULTS:+$SM_RESULTS/$source_name}}
  source_results=${source_results:-$(dirname "$1")/$source_name/results}
}

# kept_checkpoints DIR: kept = DIR's kept checkpoint-<step>.bin files in
# step order (a glob and bash's arithmetic, no $(...): callable under the
# traps below).
kept_checkpoints() {
  local f step i
  local -a steps=()
  kept=()
  for f in "$1"/checkpoint-*.bin; do
    step=${f##*/checkpoint-} step=${step%.bin}
    [[ $step =~ ^[0-9]{1,18}$ ]] && [ -f "$f" ] || continue
    step=$((10#$step))
    for ((i = ${#kept[@]}; i > 0 && steps[i - 1] > step; i--)); do kept[i]=${kept[i - 1]} steps[i]=${steps[i - 1]}; done
    kept[i]=$f steps[i]=$step
  done
}

# Interrupts (Ctrl-C at `make experiment`, a closed terminal, kill -TERM of
# make or of the runner).  Each run's binary has a session of its own
# (run_in_session), so a Ctrl-C reaches the runner and not the runs; the
# runner then starts no new run and sends each run in progress one SIGTERM
# (stop_runs): the trainer writes its checkpoint at the next step boundary and
# exits 143, a refit stops (it is redone).  The runner waits for them and
# exits 130 (SIGINT), 129 (SIGHUP) or 143 (SIGTERM) with `interrupted` set;
# the same command resumes.  To force a stop, kill the binaries themselves
# (`pkill -KILL -f 'simsiam-mi (train|refit)'`): the runner then reports them
# failed, and the next invocation resumes from their last checkpoints.
#   trap_interrupts: in the runner and in each run's subshell (whose traps
#   start reset).  The traps fork nothing and the runners expand no $(...)
#   while they are set: bash runs a trap that lands inside a command
#   substitution there, where it fails to parse and the runner goes on
#   as if nothing had come.  run_pids holds what stop_runs signals.
interrupted=0 run_pids=()
trap_interrupts() {
  run_pids=()
  trap 'stop_runs 130' INT
  trap 'stop_runs 129' HUP
  trap 'stop_runs 143' TERM
}
stop_runs() {
  [ "$interrupted" -ne 0 ] && return
  interrupted=$1
  local p
  for p in ${run_pids[@]+"${run_pids[@]}"}; do kill -TERM "$p" 2>/dev/null; done
}

# "$@" in a session of its own, in the background, waited for through
# trapped signals: its exit code.  A background job of a shell without job
# control never leads a process group, so setsid does not fork and $! is the
# command itself (-w would make setsid wait for it, should it ever fork).
# An interrupt that came before the command started stops it at once.
run_in_session() {
  setsid -w "$@" &
  local child=$!
  run_pids=("$child")
  [ "$interrupted" -ne 0 ] && kill -TERM "$child"
  local rc
  while kill -0 "$child" 2>/dev/null; do wait "$child"; done
  wait "$child" # its status again: bash keeps it once reaped, but not always
  rc=$?         # when a trap interrupted the wait it exited in (then -1)
  if [ "$rc" -lt 0 ] || [ "$rc" -gt 255 ]; then rc=$((interrupted ? 143 : 1)); fi
  return "$rc"
}

# The lines a run's log $1 holds from its last invocation (after its last
# "# " header line, which the runners write before each).
last_invocation() {
  awk '/^# / { n = 0; next } { line[++n] = $0 } END { for (i = 1; i <= n; i++) print line[i] }' 2>/dev/null <"$1"
}

# Did the command of run_in_session (exit code $1, log $2) stop for an
# interrupt?  Its own 130 or 143, or under mpirun, which exits 1, the
# trainer's stop line in what this invocation logged.
stopped_by_interrupt() {
  [ "$interrupted" -ne 0 ] || return 1
  [ "$1" -eq 130 ] || [ "$1" -eq 143 ] && return 0
  last_invocation "$2" | grep -q '^simsiam-mi: stopped by '
}

# launch_all FUNC ITEM...: FUNC with each item's words, in the background,
# `jobs` at a time, none after an interrupt; then wait for all of them
# (wait -n: 127 when none is left, above 128 when a trap interrupted it).
launch_all() {
  local func=$1 item words running=0 rc
  shift
  for item in "$@"; do
    while [ "$running" -ge "$jobs" ]; do
      wait -n; rc=$?
      if [ "$rc" -eq 127 ]; then running=0; elif [ "$rc" -le 128 ]; then running=$((running - 1)); fi
    done
    [ "$interrupted" -ne 0 ] && break
    read -r -a words <<<"$item"
    "$func" "${words[@]}" &
    run_pids+=($!)
    running=$((running + 1))
  done
  while :; do wait -n; [ $? -eq 127 ] && break; done
}

# report_status LABEL NOUN TOTAL SKIPPED LOG [COUNTED]: the runner's summary
# from $status_file ("<rc> <run> [stopped]" per run that ran;
# $results/<run>/LOG its log), each failure named with its log's last line,
# "N COUNTED finished"; exits 129/130/143 when interrupted, 1 when a run
# failed.  Of the log's last invocation, its last error line if it has
# one: under mpirun the last lines are mpirun's own banner.
report_status() {
  local label=$1 noun=$2 total=$3 skipped=$4 logname=$5 counted=${6:+ $6} rc run how last log
  local ran=0 failed=0 stopped=0
  while read -r rc run how; do
    ran=$((ran + 1))
    [ "$rc" -eq 0 ] && continue
    [ "$how" = stopped ] && { stopped=$((stopped + 1)); continue; }
    failed=$((failed + 1))
    log=$results/$run/$logname
    last=$(last_invocation "$log" | awk '{ last = $0 } /^simsiam-mi: error: / { err = $0 }
                                         END { print err != "" ? err : last }')
    [ -f "$log" ] || last="cannot write its log (is $results/$run a directory?)"
    echo "$label: $noun $run failed (exit $rc): ${last:-no output}; log $log" >&2
  done <"$status_file"
  echo "$label: $((ran - failed - stopped))$counted finished, $skipped skipped, $failed failed"
  if [ "$interrupted" -eq 0 ] && [ $((ran + skipped)) -ne "$total" ]; then # never silent about a run not run
    echo "$label: $((total - skipped - ran)) not started, with no interrupt seen; run the same command again" >&2
    exit 1
  fi
  if [ "$interrupted" -ne 0 ]; then
    echo "$label: interrupted: $stopped stopped, $((total - skipped - ran)) not started; the same command resumes" >&2
    exit "$interrupted"
  fi
  [ $failed -eq 0 ] || exit 1
}
