"""A minimal SimSiam training loop in PyTorch on Fashion-MNIST that tracks the mutual-information
view of its loss with simsiam_mi.Tracker, the C trainer's tracking event, every few steps.

It writes a run directory that `make plots RUN=DIR` renders as it renders `simsiam-mi train`'s:
train.csv (step, epoch, lr, pred_lr, loss, z_std, seconds), track.csv and track_detail.csv (the
Tracker's rows, formatted by the same C code), config.txt (those of the keys the report quotes that
apply to this loop) and, when the loop ends, summary.json (the trainer's summary line: steps,
epochs, images_per_s, final_loss, knn_acc null, out).

    PYTHONPATH=python /usr/bin/python3 python/examples/torch_simsiam_track.py --steps 100 --out runs/torch
    make plots RUN=runs/torch

Dev-only: needs python3-torch and the packaged data set (dataset-fashion-mnist, installed by
`make deps`).  The network is deliberately small (three convolutions); the point is the calls.
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import simsiam_mi

FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training pixels


def load_images(path):
    """IDX3 (big-endian header: magic 2051, count, rows, cols) → N × 1 × 28 × 28 floats in [0, 1]."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = np.frombuffer(raw[:16], ">u4")
    if magic != 2051:
        raise SystemExit(f"not an IDX image file: magic {magic} ({path})")
    pixels = np.frombuffer(raw[16:], np.uint8).reshape(n, 1, rows, cols)
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)


def augment(x, g):
    """A random resized crop (scale 0.6-1, shifted), a horizontal flip, brightness, normalisation."""
    b = x.shape[0]
    scale = torch.empty(b).uniform_(0.6, 1.0, generator=g)
    shift = (torch.rand(b, 2, generator=g) * 2 - 1) * (1 - scale)[:, None]
    flip = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, :, 2] = scale * flip, scale, shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False)
    x = x * torch.empty(b, 1, 1, 1).uniform_(0.7, 1.3, generator=g)
    return (x - MEAN) / STD


class SimSiam(nn.Module):
    def __init__(self, z_dim, width=32, pred_hidden=32):
        super().__init__()
        conv = lambda i, o, s: [nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
        self.encoder = nn.Sequential(*conv(1, width, 1), *conv(width, 2 * width, 2), *conv(2 * width, 2 * width, 2),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten())
        f = 2 * width
        self.projector = nn.Sequential(nn.Linear(f, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
                                       nn.Linear(128, z_dim, bias=False), nn.BatchNorm1d(z_dim, affine=False))
        self.predictor = nn.Sequential(nn.Linear(z_dim, pred_hidden, bias=False), nn.BatchNorm1d(pred_hidden),
                                       nn.ReLU(), nn.Linear(pred_hidden, z_dim))

    def forward(self, x):
        z = self.projector(self.encoder(x))
        return z, self.predictor(z)


def neg_cos(p, z):
    return -F.cosine_similarity(p, z.detach(), dim=1).mean()  # stop-gradient on z


def z_std(z):
    """The collapse metric of track.csv's z_std (src/simsiam/track.h) on a batch."""
    z = F.normalize(z, dim=1)
    return (z.std(dim=0, unbiased=False).mean() * z.shape[1] ** 0.5).item()


def track(model, tracker, probe, images, views, step, seed):
    """One event: fresh views of the probe set in inference mode, as the C tracker takes them."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    model.eval()
    with torch.no_grad():
        z1, p1 = model(augment(probe, g))
        z2, p2 = model(augment(probe, g))
        zv = None
        if images:  # several views of a few images, for Ĥ(z2|x)
            zv, _ = model(augment(probe[:images].repeat_interleave(views, dim=0), g))
            zv = zv.reshape(images, views, -1)
    model.train()
    return tracker(z1, z2, p1, zv=zv, p2=p2, step=step)  # tensors go in as they are


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--z-dim", type=int, default=8, help="<= 8: every k-NN column in all dimensions, and the sphere chain")
    ap.add_argument("--track-every", type=int, default=20)
    ap.add_argument("--track-samples", type=int, default=512)
    ap.add_argument("--track-images", type=int, default=8)
    ap.add_argument("--track-views", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="0: every core")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/torch-track")
    a = ap.parse_args()
    # checked before anything is written: the Tracker's own refusals would come after config.txt
    k = 3  # the Tracker's k-NN neighbours (its default)
    for ok, what in ((a.steps >= 1 and a.track_every >= 1, "--steps and --track-every must be at least 1"),
                     (2 <= a.batch <= 60000, "--batch must be in [2, 60000] (BatchNorm needs two rows)"),
                     (a.z_dim >= 2, "--z-dim must be at least 2 (the tracker's sphere and k-NN columns)"),
                     (k + 1 <= a.track_samples <= 60000, f"--track-samples must be in [{k + 1}, 60000]"),
                     (0 <= a.track_images <= a.track_samples, "--track-images must be in [0, --track-samples] "
                                                              "(0: no Ĥ(z2|x) columns)"),
                     (a.track_views > k or a.track_images == 0, f"--track-views must be above k = {k}"),
                     (a.threads >= 0, "--threads must be 0 (every core) or more"),
                     (math.isfinite(a.lr), "--lr must be a finite number")):
        if not ok:
            ap.error(what)

    threads = a.threads or os.cpu_count()
    torch.set_num_threads(threads)
    simsiam_mi.set_threads(threads)
    torch.manual_seed(a.seed)
    data = load_images(FASHION)
    g = torch.Generator().manual_seed(a.seed)
    probe = data[torch.randperm(len(data), generator=g)[:a.track_samples]]
    model = SimSiam(a.z_dim)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
    tracker = simsiam_mi.Tracker(seed=a.seed)

    os.makedirs(a.out, exist_ok=True)
    summary = os.path.join(a.out, "summary.json")
    if os.path.exists(summary):  # an earlier run's: this one is not finished until it ends
        os.remove(summary)
    with open(os.path.join(a.out, "config.txt"), "w") as f:
        # width: the first convolution's channels; the predictor: an MLP trained by SGD, one step per
        # step, at the encoder's constant lr
        for key, value in (("dataset", "fashion-mnist"), ("arch", "torch-example"),
                           ("width", model.encoder[0].out_channels), ("z_dim", a.z_dim), ("batch", a.batch),
                           ("steps", a.steps), ("loss", "cosine"), ("lr", a.lr), ("pred_lr_mult", 1),
                           ("pred_steps", 1), ("pred_mode", "sgd"), ("seed", a.seed), ("track_every", a.track_every),
                           ("track_samples", a.track_samples), ("track_views", a.track_views),
                           ("track_images", a.track_images)):
            f.write(f"{key} = {value}\n")
    train = open(os.path.join(a.out, "train.csv"), "w")
    train.write("step,epoch,lr,pred_lr,loss,z_std,seconds\n")
    files = {name: open(os.path.join(a.out, name + ".csv"), "w") for name in ("track", "track_detail")}
    for name, f in files.items():
        f.write(tracker.csv_header(name))

    def event(step):
        t0 = time.perf_counter()
        row = track(model, tracker, probe, a.track_images, a.track_views, step, a.seed)
        for name, f in files.items():
            f.write(tracker.csv_row(name))
            f.flush()
        print(f"step {step}: loss_cos {row['loss_cos']:.4f}  nll_vmf {row['nll_vmf']:.3f}  "
              f"i_ksg {row['i_ksg']:.3f}  h_z_given_z1 {row['h_z_given_z1']:.3f}  z_std {row['z_std']:.3f}  "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)

    start = time.perf_counter()
    step_seconds = []  # the optimizer steps' wall times, tracking excluded: images_per_s as the trainer's
    order = torch.randperm(len(data), generator=g)
    event(0)  # the starting point of every curve, as the C trainer does
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        at = (step - 1) * a.batch % len(data)
        x = data[order[(at + torch.arange(a.batch)) % len(data)]]  # whole batches across the epoch's end
        (z1, p1), (z2, p2) = model(augment(x, g)), model(augment(x, g))
        loss = 0.5 * neg_cos(p1, z2) + 0.5 * neg_cos(p2, z1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step_seconds.append(time.perf_counter() - t0)
        train.write(f"{step},{step * a.batch / len(data):.6g},{a.lr},{a.lr},{loss.item():.8g},"
                    f"{z_std(z1.detach()):.8g},{time.perf_counter() - start:.3f}\n")
        train.flush()
        if step % a.track_every == 0 or step == a.steps:
            event(step)
    train.close()
    for f in files.values():
        f.close()
    tracker.close()
    # The trainer's summary line (docs/design.md §2.2), written when the run ends as its summary.json
    # is: the run report reads it as "finished".  The rate skips the first 3 steps as the trainer's
    # does (all of them when there are no more); epochs counts the images seen, as batches wrap
    # across the epoch's end here.
    timed = step_seconds[3:] or step_seconds
    line = json.dumps({"steps": a.steps, "epochs": float(f"{a.steps * a.batch / len(data):.6g}"),
                       "images_per_s": round(len(timed) * a.batch / sum(timed), 1),
                       "final_loss": float(f"{loss.item():.6g}"), "knn_acc": None, "out": a.out},
                      separators=(",", ":"))
    with open(summary + ".tmp", "w") as f:
        f.write(line + "\n")
    os.replace(summary + ".tmp", summary)  # whole or absent, as every file of a trainer's run
    print(f"{a.steps} steps in {time.perf_counter() - start:.1f} s; now: make plots RUN={a.out}")


if __name__ == "__main__":
    main()
