#!/usr/bin/env bash
# `make run`.  Until the trainer lands this is the estimator demo: correlated
# Gaussian pairs with a known mutual information, estimated by every MI
# estimator of `simsiam-mi estimate`, next to the closed form.
set -euo pipefail
bin=${1:-build/simsiam-mi}
out=runs/estimator-demo
mkdir -p "$out"
n=5000 rho=0.8
# (x, y) standard bivariate normal with correlation rho: I = -1/2 log(1 - rho^2).
awk -v n=$n -v rho=$rho -v seed=1 'BEGIN {
  srand(seed); pi = atan2(0, -1);
  print "x" > "'"$out"'/x.csv"; print "y" > "'"$out"'/y.csv";
  for (i = 0; i < n; i++) {
    u = 1 - rand(); v = rand();
    g1 = sqrt(-2 * log(u)) * cos(2 * pi * v); g2 = sqrt(-2 * log(u)) * sin(2 * pi * v);
    printf "%.17g\n", g1 > "'"$out"'/x.csv";
    printf "%.17g\n", rho * g1 + sqrt(1 - rho * rho) * g2 > "'"$out"'/y.csv";
  } }'
echo "closed form: I = $(awk -v r=$rho 'BEGIN { printf "%.4f", -0.5 * log(1 - r * r) }') nats (N = $n, rho = $rho)"
for est in ksg1 ksg2 gauss; do
  "$bin" estimate mi --x "$out/x.csv" --y "$out/y.csv" --estimator $est --k 3 | tee "$out/mi_$est.json"
done
"$bin" estimate entropy --x "$out/x.csv" --estimator kl --k 3 | tee "$out/h_x.json"
echo "closed form: H(x) = $(awk 'BEGIN { printf "%.4f", 0.5 * log(2 * atan2(0, -1) * exp(1)) }') nats"
echo "outputs in $out/"
