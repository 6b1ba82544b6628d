#!/usr/bin/env bash
# Run every cmocka test binary in BUILD/tests, the fuzz smoke runs of
# BUILD/fuzz (if built) and the Python module's pytest suite, then print one closing line
# "tests: N passed, N failed, N skipped".  Exit 1 if anything failed.
#   tests/run.sh BUILD [valgrind]
set -uo pipefail
build=${1:?usage: tests/run.sh BUILD [valgrind]}
mode=${2:-}
export SM_BIN="$build/simsiam-mi"
export SM_TMP="$build/tmp"
rm -rf "$SM_TMP"; mkdir -p "$SM_TMP"
if [ -n "$SM_BIN" ] && [ "$build" != "${build#build/asan}" ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
wrap=()
if [ "$mode" = valgrind ]; then
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 SM_VALGRIND=1
  wrap=(valgrind -q --error-exitcode=99 --leak-check=full
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect)
fi

passed=0; failed=0; skipped=0
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.o|*.d) continue ;; esac
  out=$("${wrap[@]}" "$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed.*/\1/p' | tail -1)
  s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed.*/\1/p' | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
    echo "run.sh: $t exited with status $rc" >&2
    failed=$((failed + 1))
  fi
done
# The libFuzzer harnesses (mk/fuzz.mk), when built: each over its seed corpus
# plus 10000 new inputs, counted as one test each.  Not under valgrind (they
# carry their own sanitizers).
for h in "$build"/fuzz/fuzz_*; do
  [ -x "$h" ] && [ "$mode" != valgrind ] || continue
  seeds=$(find "tests/fuzz/corpus/${h##*/fuzz_}" -type f | wc -l)
  if tests/fuzz/run.sh "$h" "$SM_TMP/fuzz/${h##*/fuzz_}" -runs=$((seeds + 10000)) -seed=1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
# The Python module's tests (python/tests, pytest) against BUILD's shared
# library, counted like a cmocka binary's; a build without the library (the
# sanitized ones, mk/install.mk) skips them.
if [ -e "$build/libsimsiam-mi.so" ]; then
  out=$(SIMSIAM_MI_LIB="$(cd "$build" && pwd)/libsimsiam-mi.so" PYTHONPATH=python \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests 2>&1); rc=$?
  printf '%s\n' "$out"
  last=$(printf '%s\n' "$out" | tail -1)
  p=$(grep -o '[0-9]* passed' <<<"$last" | cut -d' ' -f1)
  f=$(grep -o '[0-9]* failed' <<<"$last" | cut -d' ' -f1)
  s=$(grep -o '[0-9]* skipped' <<<"$last" | cut -d' ' -f1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
    echo "run.sh: python/tests (pytest) exited with status $rc" >&2
    failed=$((failed + 1))
  fi
else
  echo "run.sh: python/tests skipped: no $build/libsimsiam-mi.so"
  skipped=$((skipped + 1))
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
