#!/usr/bin/env bash
# `make bench`: speed against references measured in the same run.
set -euo pipefail
bin=${1:-build/simsiam-mi}
sgemm=${2:-build/sgemm_peak}
ksg_sphere=${3:-build/ksg_sphere_bench}
dir=build/bench
mkdir -p "$dir/1e5" "$dir/1e6"
py=/usr/bin/python3
json() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"; }
run_or_show() { # run "$@" with stdout to the caller; on failure show its stderr and fail
  "$@" 2>"$dir/stderr.log" || { cat "$dir/stderr.log" >&2; echo "bench: failed: $*" >&2; exit 1; }
}
least_of() { # run "$@" (a JSON line with "seconds") N=$1 times; print the fastest run's line
  local n=$1 best="" line; shift
  for _ in $(seq "$n"); do
    line=$(run_or_show "$@") || return 1 # set -e does not reach into $(...)
    if [ -z "$best" ] || awk -v a="$(json "$line" seconds)" -v b="$(json "$best" seconds)" 'BEGIN { exit !(a < b) }'; then
      best=$line
    fi
  done
  echo "$best"
}

echo "== KSG-1, 2+2 dimensions, k = 3, one thread (reference: scipy cKDTree, same formulas) =="
$py scripts/bench_ksg_ref.py gen 100000 2 2 0.6 1 "$dir/1e5"
$py scripts/bench_ksg_ref.py gen 1000000 2 2 0.6 1 "$dir/1e6"
ref=$($py scripts/bench_ksg_ref.py ksg1 "$dir/1e5/x.npy" "$dir/1e5/y.npy" 3)
# ours: the fastest of 5 runs at each size, so that one slow run (another
# process on the core) does not decide the growth ratio
c5=$(least_of 5 "$bin" estimate mi --x "$dir/1e5/x.npy" --y "$dir/1e5/y.npy" --estimator ksg1 --k 3 --threads 1)
c6=$(least_of 5 "$bin" estimate mi --x "$dir/1e6/x.npy" --y "$dir/1e6/y.npy" --estimator ksg1 --k 3 --threads 1)
awk -v rv="$(json "$ref" value)" -v rs="$(json "$ref" seconds)" \
    -v cv="$(json "$c5" value)" -v cs="$(json "$c5" seconds)" \
    -v c6v="$(json "$c6" value)" -v c6s="$(json "$c6" seconds)" 'BEGIN {
  d = cv - rv; if (d < 0) d = -d; rel = d / (rv < 0 ? -rv : rv);
  printf "N=1e5  reference %.3f s  simsiam-mi %.3f s (least of 5)  speed-up %.1fx (target >= 5x, aim 10x)\n", rs, cs, rs / cs;
  printf "N=1e5  I reference %.12f  simsiam-mi %.12f  relative difference %.2e (target <= 1e-9)\n", rv, cv, rel;
  printf "N=1e6  simsiam-mi %.3f s (least of 5)  I = %.6f  t(1e6)/t(1e5) = %.1f (target <= 13)\n", c6s, c6v, c6s / cs;
}'

# The sphere's k-NN path (KSG-1 with sphere set, as estimate bound --family
# vmf runs it; the command's O(N²) InfoNCE would hide it): growth from
# N = 1e4 to 1e5, the two sizes timed in turns in one run (the median of the
# rounds' ratios).  N log N alone would give 12.5; the counts on each sphere
# grow faster (README, "Speed"; docs/speed.md).
echo "== KSG-1 on S2 x S2 (unit vectors, 3 + 3 coordinates), k = 3, one thread =="
s=$(run_or_show "$ksg_sphere" 10000 100000)
awk -v s4="$(json "$s" cpu_seconds_1)" -v s5="$(json "$s" cpu_seconds_2)" -v i5="$(json "$s" mi)" \
    -v g="$(json "$s" growth)" 'BEGIN {
  printf "N=1e4  %.3f s  N=1e5  %.3f s (CPU, least of 7)  I = %.6f  t(1e5)/t(1e4) = %.1f (median of 7 rounds; target <= 15)\n", s4, s5, i5, g;
}'

# The trainer against PyTorch on the CPU (same network, loss, optimiser, batch
# and thread count), at all cores and at one thread.  Ours times the steps
# after its first 3 (docs/design.md §2), so PyTorch warms up 3 steps and times the
# same number.  GFLOP/s = images/s × training FLOPs per source image (counted
# by the reference from its conv and Linear layers: both views, forward and
# both gradients) against OpenBLAS sgemm's best square product at the same
# thread count, measured after each pair of trainer runs (the share uses the
# median of those peaks, so that it compares the same minutes: the host's
# speed drifts by up to 25% between one measurement and the next).
# Both sides use OpenMP, so both get the same OMP_WAIT_POLICY, passive unless
# the caller sets one: with another process on a core, spinning team threads
# cost both sides 2-5x at 2 threads (measured; README, "Speed"), which would measure the
# machine's load, not the code.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
steps=20 warmup=3
cores=$(nproc)
thread_counts=$cores
[ "$cores" -gt 1 ] && thread_counts="$cores 1"
# Peak resident set size (kB) of the command, recorded in $dir/<name>.rss.
with_rss() { local name=$1; shift; /usr/bin/time -f %M -o "$dir/$name.rss" "$@"; }
# The references' network and optimiser (scripts/simsiam_torch.py, bench_train_ref.py): the small
# configuration's (experiments/small.config), on random images.
net="dataset=random arch=resnet width=16 stem_stride=1 batch=256 lr=0.03 pred_fixed_lr=0 pred_hidden=128"
# Each side runs `repeats` times, alternating, so drift in the machine's load
# falls on both; the ratio is of the medians, min and median both printed.
repeats=${BENCH_REPEATS:-3}
stats() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                                             printf "%s %s\n", v[1], m }'; }
for t in $thread_counts; do
  echo "== trainer, resnet width 16, batch 256, dataset=random, $t thread(s) of $cores (reference: PyTorch CPU," \
       "$((steps - warmup)) timed steps each, $repeats runs each, OMP_WAIT_POLICY=$OMP_WAIT_POLICY) =="
  ours_ips="" ref_ips="" peaks=""
  for r in $(seq "$repeats"); do
    rm -rf "$dir/train" # a fresh run each time: train refuses a directory holding another run's checkpoint
    ours=$(run_or_show with_rss ours "$bin" train $net steps=$steps threads=$t knn_every=0 checkpoint_every=0 \
             out="$dir/train")
    ref=$(run_or_show with_rss ref $py scripts/bench_train_ref.py train $t $warmup $((steps - warmup)))
    peak=$(run_or_show "$sgemm" $t)
    ours_ips+="$(json "$ours" images_per_s) " ref_ips+="$(json "$ref" images_per_s) "
    peaks+="$(json "$peak" gflops) "
  done
  ours_params=$(run_or_show $py scripts/bench_train_ref.py ckpt-params "$dir/train/checkpoint.bin")
  if [ "$ours_params" != "$(json "$ref" params)" ] || [ "$(json "$ref" threads)" != "$t" ]; then
    echo "bench: the reference is not the same network or thread count:" >&2
    echo "  simsiam-mi $ours_params parameters; reference $ref" >&2
    exit 1
  fi
  read -r cmin cmed <<<"$(tr ' ' '\n' <<<"$ours_ips" | grep . | stats)"
  read -r rmin rmed <<<"$(tr ' ' '\n' <<<"$ref_ips" | grep . | stats)"
  read -r pmin pmed <<<"$(tr ' ' '\n' <<<"$peaks" | grep . | stats)"
  awk -v t="$t" -v n="$ours_params" -v cmin="$cmin" -v ci="$cmed" -v rmin="$rmin" -v ri="$rmed" -v runs="$repeats" \
      -v fl="$(json "$ref" flops_per_image)" -v pmin="$pmin" -v pk="$pmed" \
      -v cm="$(cat "$dir/ours.rss")" -v rm="$(cat "$dir/ref.rss")" 'BEGIN {
    cg = ci * fl / 1e9; rg = ri * fl / 1e9;
    printf "T=%d  parameters %d (both)  training FLOPs per source image %.1f M\n", t, n, fl / 1e6;
    printf "T=%d  img/s over %d runs (min / median): PyTorch %.1f / %.1f  simsiam-mi %.1f / %.1f\n", t, runs, rmin, ri, cmin, ci;
    printf "T=%d  ratio of medians %.2fx (target >= 1.5x, aim 2x)\n", t, ci / ri;
    printf "T=%d  simsiam-mi %.1f GFLOP/s  PyTorch %.1f GFLOP/s  sgemm peak (min / median) %.1f / %.1f GFLOP/s  simsiam-mi at %.0f%% of the median (target 60%%)\n", t, cg, rg, pmin, pk, 100 * cg / pk;
    printf "T=%d  peak RSS PyTorch %.0f MB  simsiam-mi %.0f MB  ratio %.2fx (target <= 0.5x)\n", t, rm / 1024, cm / 1024, cm / rm;
  }'
done

# Data parallelism (docs/design.md §6): mpirun -np R build/simsiam-mi-mpi at R = 1
# and 2, one thread per rank, global batch 256, next to PyTorch DDP (gloo, CPU)
# with the same network, batch and threads.  Efficiency = img/s at R / (R ×
# img/s at 1).  SM_DIST_STATS=1 makes rank 0 report the mean wall time of the
# gradient allreduce (one per step) and of SyncBN's gathers (several per
# step); both include waiting for the slower rank.  R = 1 and 2 alternate
# `repeats` times and every figure is the median of its runs, as above.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # harmless when not root
echo "== data-parallel trainer, resnet width 16, global batch 256, dataset=random, R ranks x 1 thread" \
     "(reference: PyTorch DDP, gloo, CPU, per-rank BatchNorm: its SyncBatchNorm refuses CPU modules;" \
     "$repeats runs each) =="
: >"$dir/dp.txt" # a line a run: R, our img/s, DDP's img/s, allreduce ms and gathers ms a step
for rep in $(seq "$repeats"); do
  for r in 1 2; do
    rm -rf "$dir/mpi$r"
    ours=$(SM_DIST_STATS=1 run_or_show mpirun -np $r "$bin-mpi" train $net \
             steps=$steps threads=1 knn_every=0 checkpoint_every=0 out="$dir/mpi$r")
    stats=$(grep '^dist: ' "$dir/stderr.log")
    ddp=$(run_or_show $py scripts/bench_ddp_ref.py $r $warmup $((steps - warmup)))
    awk -v steps=$steps '{ print $1, $2, $3, $8, $12 * substr($13, 2) / steps }' \
      <<<"$r $(json "$ours" images_per_s) $(json "$ddp" images_per_s) $stats" >>"$dir/dp.txt"
  done
done
median_of() { awk -v r="$1" -v col="$2" '$1 == r { print $col }' "$dir/dp.txt" | stats | cut -d' ' -f2; }
awk -v o1="$(median_of 1 2)" -v o2="$(median_of 2 2)" -v d1="$(median_of 1 3)" -v d2="$(median_of 2 3)" \
    -v ar="$(median_of 2 4)" -v ag="$(median_of 2 5)" 'BEGIN {
  printf "R=1  simsiam-mi %.1f img/s  PyTorch DDP %.1f img/s (medians)\n", o1, d1;
  printf "R=2  simsiam-mi %.1f img/s  efficiency %.2f (target >= 0.9)  PyTorch DDP %.1f img/s  efficiency %.2f\n",
         o2, o2 / (2 * o1), d2, d2 / (2 * d1);
  printf "R=2  simsiam-mi per step: gradient allreduce %.2f ms, SyncBN gathers %.2f ms\n", ar, ag;
}'

scripts/bench_track.sh "$bin"
