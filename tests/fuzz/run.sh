#!/usr/bin/env bash
# Run one libFuzzer harness from its committed seeds and print one line:
#   fuzz npy: 123456 executions in 60 s, corpus 10 seeds + 25 new, peak RSS 40 MB: no findings
#   tests/fuzz/run.sh HARNESS NEW_CORPUS_DIR [libFuzzer options, e.g. -runs=N or -max_total_time=S]
# HARNESS is build/fuzz/fuzz_<parser>; its seeds are tests/fuzz/corpus/<parser>/
# (only read: inputs that reach new code go to NEW_CORPUS_DIR, and a failing
# input to NEW_CORPUS_DIR/../<parser>-crash-<sha1>).  The whole log is
# NEW_CORPUS_DIR.log.  Exit 0 when nothing was found, 1 otherwise (with the
# sanitizer's or the harness's first error line).
set -uo pipefail
harness=${1:?usage: tests/fuzz/run.sh HARNESS NEW_CORPUS_DIR [libFuzzer options]}
new=${2:?usage: tests/fuzz/run.sh HARNESS NEW_CORPUS_DIR [libFuzzer options]}
shift 2
name=${harness##*/fuzz_}
seeds=$(dirname "$0")/corpus/$name
[ -x "$harness" ] && [ -d "$seeds" ] || { echo "fuzz $name: no harness $harness or no seeds $seeds" >&2; exit 1; }
mkdir -p "$new"
log=$new.log
n_seeds=$(find "$seeds" -type f | wc -l)
n_before=$(find "$new" -type f | wc -l)
# A malloc over 256 MB from inputs of a few KB is itself a finding: every
# reader's memory is bounded by the bytes it was given.
"$harness" -print_final_stats=1 -malloc_limit_mb=256 -rss_limit_mb=1024 -timeout=20 \
  -artifact_prefix="$(dirname "$new")/$name-" "$@" "$new" "$seeds" >"$log" 2>&1
rc=$?
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
runs=$(stat number_of_executed_units)
secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
n_new=$(($(find "$new" -type f | wc -l) - n_before))
summary="${runs:-?} executions in ${secs:-?} s, corpus $n_seeds seeds + $n_before earlier + $n_new new, peak RSS $(stat peak_rss_mb) MB"
if [ $rc -eq 0 ]; then
  echo "fuzz $name: $summary: no findings"
  exit 0
fi
what=$(grep -m1 -E '^(==[0-9]+==ERROR|fuzz harness:|.*runtime error:|SUMMARY:)' "$log")
saved=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
echo "fuzz $name: FAILED (exit $rc) after $summary: ${what:-see the log}; input ${saved:-not saved}; log $log" >&2
exit 1
