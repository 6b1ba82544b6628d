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
