#!/usr/bin/env bash
# `make bench`: speed against references measured in the same run.
set -euo pipefail
bin=${1:-build/simsiam-mi}
dir=build/bench
mkdir -p "$dir/1e5" "$dir/1e6"
py=/usr/bin/python3
json() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"; }

echo "== KSG-1, 2+2 dimensions, k = 3, one thread (reference: scipy cKDTree, same formulas) =="
$py scripts/bench_ksg_ref.py gen 100000 2 2 0.6 1 "$dir/1e5"
$py scripts/bench_ksg_ref.py gen 1000000 2 2 0.6 1 "$dir/1e6"
ref=$($py scripts/bench_ksg_ref.py ksg1 "$dir/1e5/x.npy" "$dir/1e5/y.npy" 3)
c5=$("$bin" estimate mi --x "$dir/1e5/x.npy" --y "$dir/1e5/y.npy" --estimator ksg1 --k 3 --threads 1)
c6=$("$bin" estimate mi --x "$dir/1e6/x.npy" --y "$dir/1e6/y.npy" --estimator ksg1 --k 3 --threads 1)
awk -v rv="$(json "$ref" value)" -v rs="$(json "$ref" seconds)" \
    -v cv="$(json "$c5" value)" -v cs="$(json "$c5" seconds)" \
    -v c6v="$(json "$c6" value)" -v c6s="$(json "$c6" seconds)" 'BEGIN {
  d = cv - rv; if (d < 0) d = -d; rel = d / (rv < 0 ? -rv : rv);
  printf "N=1e5  reference %.3f s  simsiam-mi %.3f s  speed-up %.1fx (target >= 5x, aim 10x)\n", rs, cs, rs / cs;
  printf "N=1e5  I reference %.12f  simsiam-mi %.12f  relative difference %.2e (target <= 1e-9)\n", rv, cv, rel;
  printf "N=1e6  simsiam-mi %.3f s  I = %.6f  t(1e6)/t(1e5) = %.1f (target <= 13)\n", c6s, c6v, c6s / cs;
}'
