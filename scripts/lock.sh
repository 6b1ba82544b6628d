# Sourced by the experiment runners (scripts/experiment.sh,
# scripts/refit-experiment.sh), after their fail().
#
# lock_results DIR: hold an exclusive flock(1) on DIR/.lock until the runner
# exits, or refuse at once (exit 1) when another invocation holds it, so two
# `make experiment` on the same results never run the same run twice nor
# interleave their logs and CSVs.  The lock's descriptor (9) is inherited by
# the runs, so a run that outlives its runner (the runner killed) still
# holds it.
lock_results() {
  local lock=$1/.lock
  { exec 9>>"$lock"; } 2>/dev/null || fail "cannot create the lock file ($lock)"
  flock -n 9 || fail "another experiment is running on $1 (lock $lock is held); wait for it to finish, or set RESULTS to another directory"
}
