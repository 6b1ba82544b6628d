#!/usr/bin/python3
"""How often the subsampling intervals cover what they claim (docs/design.md §1.6, "Calibration").

Dev-only: numpy, and the Python module (python/) on the shared library (`make shared`).  Data:
correlated Gaussian pairs, z1 ~ N(0, I_d), z2 = rho z1 + sqrt(1 - rho^2) e, rho set so that
I(z1; z2) = I nats, and the predictor p1 = c rho z1, c set so that the true gap
E[NLL_full] - H(z2|z1) of the link E[NLL] >= H(z2|z1) is GAP nats (c = 1, the exact predictor, for
GAP 0).  For REPS fresh data sets it takes
  - estimate("entropy", z2) with kl and gauss, estimate("mi", z1, z2) with ksg1 and gauss, each
    with subsample=B;
  - one Tracker(resamples=B_TRACK) row: nll_r, h_z_given_z1, i_ksg and the gap (nll_r -
    h_z_given_z1, its paired interval gap_lo/gap_hi) with their intervals;
and prints, per quantity: the truth, the bias of the estimates (their mean over the replicates
minus the truth), how often the interval held the truth and how often it held the estimates' own
mean (the spread it claims to cover, bias aside), and its mean half-width over 1.96 x the SD of
the estimates; then how often the link read holds / within noise / fails by each of
analysis/links.awk's rules: the two intervals ordered one way, overlapping, or ordered the other way
(runs tracked before the paired interval existed), and the paired gap interval above 0, holding 0,
or below 0.

usage: interval_coverage.py D N I REPS [B [B_TRACK [GAP]]]   (B 100, B_TRACK 20: tracking's default, GAP 0)
  e.g. SIMSIAM_MI_LIB=build/libsimsiam-mi.so PYTHONPATH=python scripts/interval_coverage.py 4 256 0.5 200
"""
import math
import sys

import numpy as np

import simsiam_mi as sm


def draw(rng, d, n, rho):
    z1 = rng.standard_normal((n, d))
    return z1, rho * z1 + math.sqrt(1 - rho * rho) * rng.standard_normal((n, d))


def shrink(d, rho, gap):
    """c such that p1 = c rho z1 leaves E[NLL_full] - H(z2|z1) = gap: the residual's variance per
    coordinate is 1 - rho^2 + (1 - c)^2 rho^2 against 1 - rho^2 for the exact predictor."""
    return 1 - math.sqrt((1 - rho * rho) * math.expm1(2 * gap / d)) / rho


def verdict(lo, hi):
    """The link a >= b as analysis/links.awk reads lo and hi: a - b's lower and upper bound."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    return "holds" if lo > 0 else "fails" if hi < 0 else "within noise"


def replicate(rep, d, n, mi, b, tracker, c):
    """{quantity: (value, lo, hi)} and the link's verdicts (overlap, paired) for data set `rep`."""
    rho = math.sqrt(1 - math.exp(-2 * mi / d))
    z1, z2 = draw(np.random.default_rng([d, n, rep]), d, n, rho)
    out = {}
    for quantity, x, y, estimator in (("entropy", z2, None, "kl"), ("entropy", z2, None, "gauss"),
                                      ("mi", z1, z2, "ksg1"), ("mi", z1, z2, "gauss")):
        r = sm.estimate(quantity, x, y, estimator=estimator, subsample=b, seed=rep + 1)
        out[f"{quantity} {estimator}"] = (r["value"], r["ci_low"], r["ci_high"])
    row = tracker(z1, z2, c * rho * z1, step=rep, detail=True)
    for name in ("nll_r", "h_z_given_z1", "i_ksg"):
        out["tracker " + name] = (row[name], row[name + "_lo"], row[name + "_hi"])
    out["tracker gap (paired)"] = (row["nll_r"] - row["h_z_given_z1"], row["gap_lo"], row["gap_hi"])
    nll, h = out["tracker nll_r"], out["tracker h_z_given_z1"]
    return out, (verdict(nll[1] - h[2], nll[2] - h[1]), verdict(row["gap_lo"], row["gap_hi"]))


def main(argv):
    if len(argv) not in (5, 6, 7, 8):
        sys.exit(__doc__)
    d, n, mi, reps = int(argv[1]), int(argv[2]), float(argv[3]), int(argv[4])
    b = int(argv[5]) if len(argv) > 5 else 100
    b_track = int(argv[6]) if len(argv) > 6 else 20
    gap = float(argv[7]) if len(argv) > 7 else 0.0
    h_z2 = d / 2 * math.log(2 * math.pi * math.e)
    truth = {"entropy kl": h_z2, "entropy gauss": h_z2, "mi ksg1": mi, "mi gauss": mi,
             "tracker nll_r": h_z2 - mi + gap, "tracker h_z_given_z1": h_z2 - mi, "tracker i_ksg": mi,
             "tracker gap (paired)": gap}
    c = shrink(d, math.sqrt(1 - math.exp(-2 * mi / d)), gap)
    tracker = sm.Tracker(resamples=b_track, seed=1, mix=0, mlp=False)
    rows, verdicts = [], []
    for rep in range(reps):
        row, v = replicate(rep, d, n, mi, b, tracker, c)
        rows.append(row)
        verdicts.append(v)
    print(f"d = {d} per side, N = {n}, I = {mi} nats, true gap {gap} nats (p1 = {c:.4f} E[z2|z1]), {reps} data "
          f"sets; B = {b} (estimate), {b_track} (tracker)")
    print(f"{'quantity':24} {'truth':>8} {'bias':>8} {'covers truth':>13} {'covers mean':>12} {'width/1.96SD':>13}")
    for name, true in truth.items():
        v = np.array([r[name] for r in rows])
        mean, sd = v[:, 0].mean(), v[:, 0].std(ddof=1)
        held = lambda t: np.mean((v[:, 1] <= t) & (t <= v[:, 2]))
        width = np.mean(v[:, 2] - v[:, 1]) / 2 / (1.96 * sd) if sd > 0 else math.nan
        print(f"{name:24} {true:8.4f} {mean - true:+8.4f} {held(true):13.3f} {held(mean):12.3f} {width:13.2f}")
    se = math.sqrt(0.95 * 0.05 / reps)
    print(f"coverage's Monte-Carlo SE at 0.95: {se:.3f}; the link E[NLL] >= H(z2|z1), true gap {gap}:")
    for i, rule in enumerate(("two intervals' overlap", "paired gap interval")):
        counts = ", ".join(f"{v} {[x[i] for x in verdicts].count(v)}" for v in ("holds", "within noise", "fails"))
        print(f"  {rule:22} {counts}")


if __name__ == "__main__":
    main(sys.argv)
