#!/usr/bin/env bash
# `make run`: a short real SimSiam run on Fashion-MNIST (default ResNet, 200
# steps of 256 images, kNN monitor at the end) with MI tracking every 20
# steps, its plots and report (analysis/run-report.sh, as `make plots`),
# then the estimator demo (correlated Gaussians with a known MI).
set -euo pipefail
bin=${1:-build/simsiam-mi}
steps=${STEPS:-200}
run=runs/quick-$(date +%Y%m%d-%H%M%S)
"$bin" train steps="$steps" batch=256 track_every=$(((steps + 9) / 10)) out="$run" | tail -1
analysis/run-report.sh "$run"
ls "$run"/plots/*.png | sed 's/^/plot: /'

out=runs/estimator-demo
mkdir -p "$out"
n=5000 rho=0.8
# (x, y) standard bivariate normal with correlation rho: I = -1/2 log(1 - rho^2).
awk -v n=$n -v rho=$rho -v seed=1 -v out="$out" 'BEGIN {
  srand(seed); pi = atan2(0, -1);
  print "x" > (out "/x.csv"); print "y" > (out "/y.csv");
  for (i = 0; i < n; i++) {
    u = 1 - rand(); v = rand();
    g1 = sqrt(-2 * log(u)) * cos(2 * pi * v); g2 = sqrt(-2 * log(u)) * sin(2 * pi * v);
    printf "%.17g\n", g1 > (out "/x.csv");
    printf "%.17g\n", rho * g1 + sqrt(1 - rho * rho) * g2 > (out "/y.csv");
  } }'
echo "estimator demo: closed form I = $(awk -v r=$rho 'BEGIN { printf "%.4f", -0.5 * log(1 - r * r) }') nats (N = $n, rho = $rho)"
for est in ksg1 ksg2 gauss; do
  "$bin" estimate mi --x "$out/x.csv" --y "$out/y.csv" --estimator $est | tee "$out/mi_$est.json"
done
echo "outputs: $run/ and $out/"
