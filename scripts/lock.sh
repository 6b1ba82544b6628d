# Sourced by the experiment runners (scripts/experiment.sh,
# scripts/refit-experiment.sh) and the Slurm submission
# (scripts/slurm-experiment.sh), after their fail().
#
# lock_results DIR [RUN]: hold an exclusive flock(1) on DIR/.lock until the
# runner exits, or refuse at once (exit 1) when another invocation holds it,
# so two `make experiment` on the same results never run the same run twice
# nor interleave their logs and CSVs.  With RUN (one Slurm array task, which
# runs that run only) the lock on DIR/.lock is shared, so the array's tasks
# run side by side while a whole-experiment runner is still kept out, and
# DIR/.lock-RUN is held exclusively.  The locks' descriptors (9, 8) are
# inherited by the runs, so a run that outlives its runner (the runner
# killed) still holds them.
lock_results() {
  local lock=$1/.lock mode=-x
  [ -n "${2:-}" ] && mode=-s
  { exec 9>>"$lock"; } 2>/dev/null || fail "cannot create the lock file ($lock)"
  flock -n $mode 9 || fail "another experiment is running on $1 (lock $lock is held); wait for it to finish, or set RESULTS to another directory"
  [ -n "${2:-}" ] || return 0
  { exec 8>>"$lock-$2"; } 2>/dev/null || fail "cannot create the lock file ($lock-$2)"
  flock -n 8 || fail "run $2 is already running in $1 (lock $lock-$2 is held)"
}
