# Sourced by the experiment runners (scripts/experiment.sh,
# scripts/refit-experiment.sh), after their fail().
#
# resolve_jobs: set `jobs`, how many runs go at once, to $JOBS or, unset, to
# the cores this process may run on (scripts/cores.sh); anything but a
# positive integer is a usage error (exit 2) before any run starts.
resolve_jobs() {
  jobs=${JOBS:-$("$(dirname "${BASH_SOURCE[0]}")/cores.sh")}
  [[ $jobs =~ ^[1-9][0-9]*$ ]] || fail "JOBS must be a positive integer, not '$jobs'" 2
}

# Interrupts (Ctrl-C at `make experiment`, kill -TERM of make or of the
# runner).  Each run's binary has a session of its own (run_in_session), so a
# Ctrl-C reaches the runner and not the runs; the runner then starts no new
# run and sends each run in progress one SIGTERM (stop_runs): the trainer writes
# its checkpoint at the next step boundary and exits 143, a refit stops (it
# is redone).  The runner waits for them and exits 130 (SIGINT) or 143
# (SIGTERM) with `interrupted` set; the same command resumes.
#   trap_interrupts: in the runner and in each run's subshell (whose traps
#   start reset).
interrupted=0
trap_interrupts() {
  trap 'stop_runs 130' INT
  trap 'stop_runs 143' TERM
}
stop_runs() {
  [ "$interrupted" -ne 0 ] && return
  interrupted=$1
  local p
  for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
}

# "$@" in a session of its own, in the background, waited for through
# trapped signals: its exit code.  (setsid -w: should setsid have to fork,
# it waits for the command and returns its status.)
run_in_session() {
  setsid -w "$@" &
  local child=$! rc
  while :; do
    wait "$child"
    rc=$?
    [ "$rc" -gt 128 ] && kill -0 "$child" 2>/dev/null || return "$rc"
  done
}

# Wait until no background job is left, through trapped signals.
wait_runs() { while [ -n "$(jobs -rp)" ]; do wait -n; done; }
