#!/usr/bin/python3
"""Reference KSG-1 (Kraskov et al. 2004, alg. 1) on scipy's cKDTree, for `make bench`.

Dev-only (python3-numpy, python3-scipy).  The same formulas as docs/design.md §1:
max-norm joint space, eps_i = distance to the k-th joint neighbour (self
excluded), strict marginal counts n_x(i) = #{j != i : |x_j - x_i|_inf < eps_i},
I = psi(k) + psi(N) - <psi(n_x + 1) + psi(n_y + 1)>.

usage: bench_ksg_ref.py gen N DX DY RHO SEED OUTDIR   write x.npy, y.npy
       bench_ksg_ref.py ksg1 X.npy Y.npy K            print {"value":..,"seconds":..}
"""
import json
import sys
import time

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def gen(n, dx, dy, rho, seed, outdir):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dx))
    noise = rng.standard_normal((n, dy))
    y = rho * x[:, :dy] + np.sqrt(1 - rho * rho) * noise
    np.save(f"{outdir}/x.npy", x)
    np.save(f"{outdir}/y.npy", y)


def ksg1(x, y, k):
    n = len(x)
    joint = np.hstack([x, y])
    t0 = time.perf_counter()
    dist, _ = cKDTree(joint).query(joint, k=k + 1, p=np.inf, workers=1)
    eps = dist[:, k]
    # Strict "<": cKDTree counts "<=", so shrink the radius to the next double below.
    r = np.nextafter(eps, 0)
    nx = cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True, workers=1) - 1
    ny = cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True, workers=1) - 1
    value = digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    return value, time.perf_counter() - t0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        n, dx, dy = map(int, sys.argv[2:5])
        gen(n, dx, dy, float(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
    elif sys.argv[1] == "ksg1":
        v, s = ksg1(np.load(sys.argv[2]), np.load(sys.argv[3]), int(sys.argv[4]))
        print(json.dumps({"value": float(v), "seconds": s}, separators=(",", ":")))
    else:
        sys.exit(__doc__)
