#!/usr/bin/python3
"""PyTorch reference of one SimSiam training step, for tests/test_simsiam_parity.c.

Dev-only (python3-torch; never used by the C program).  Each DIR holds a case
written by the test:
  config.txt      simsiam-mi key=value lines; read: arch, width, stem_stride, proj_hidden,
                  z_dim, pred_hidden, loss, lr, momentum, wd, pred_lr_mult,
                  pred_steps (batch comes from the views)
  params.npy      float32 (n_params,): the initial parameters, the C model's flat array
  stats.npy       float32 (n_stats,): the BN running statistics, per BN layer its
                  running mean then its running variance
  x1.npy, x2.npy  float32 (n, C*H*W): the two views
and receives, as float64:
  ref_loss.npy      (1,) L of the step
  ref_grad.npy      (n_params,) dL/dtheta of the step's first (full) backward
  ref_pred_grad.npy (n_params,) the gradient of the last predictor-only step
                    (0 outside the predictor; the full gradient if pred_steps = 1)
  ref_params.npy, ref_momentum.npy, ref_stats.npy   the state after the step.

The step (src/simsiam/train.h, steps 2-4; sm_model_train_step): both views
forward in training mode as separate batches, view 1 first;
L = 1/2 D(p1, sg(z2)) + 1/2 D(p2, sg(z1)); one torch.optim.SGD step over two
groups, encoder + projector at lr and the predictor at pred_lr_mult * lr, both
with momentum and weight_decay (on every parameter, BN's and biases included,
as in the official SimSiam); then pred_steps - 1 times: p_v = predictor(z_v)
with z1, z2 of the first forward held fixed (predictor in training mode, view
1 first), the same loss, and an SGD step on the predictor alone (the other
parameters have no gradient, so SGD skips them, momentum buffers included).
lr is the step's learning rate: the trainer's batch scaling and schedule come
before the step and are not part of it.

Conventions, all PyTorch's defaults and the C code's documented ones: BN eps
1e-5, momentum 0.1, the batch variance biased in the normalisation and
unbiased (m / (m - 1)) in the running variance; conv weights c_out x c_in x k x k
and Linear weights out x in, as stored in the flat array; the losses as
simsiam_torch.distance (gauss is this project's own, src/nn/loss.h).

The network runs in float64 from the float32 inputs, so the reference carries
no rounding of its own worth comparing against float32.

usage: ref_step.py CHANNELS HEIGHT WIDTH DIR...
"""
import sys

import numpy as np
import torch

from simsiam_torch import SimSiam, batchnorms, symmetric_loss

CONFIG_KEYS = {"arch": str, "width": int, "stem_stride": int, "proj_hidden": int, "z_dim": int, "pred_hidden": int,
               "loss": str, "lr": float, "momentum": float, "wd": float, "pred_lr_mult": float,
               "pred_steps": int}


def read_config(path):
    """The CONFIG_KEYS of a key=value file (sm_config_write's output: no comments)."""
    cfg = {}
    with open(path) as f:
        for line in f:
            key, _, value = (part.strip() for part in line.partition("="))
            if key in CONFIG_KEYS:
                cfg[key] = CONFIG_KEYS[key](value)
    missing = CONFIG_KEYS.keys() - cfg.keys()
    if missing:
        sys.exit(f"ref_step.py: {path} lacks {sorted(missing)}")
    return cfg


def load_flat(tensors, flat, what):
    """Copy consecutive slices of flat into tensors (the C layout's order)."""
    at = 0
    for t in tensors:
        t.copy_(torch.from_numpy(flat[at:at + t.numel()]).view_as(t))
        at += t.numel()
    if at != flat.size:
        sys.exit(f"ref_step.py: {what} has {flat.size} floats, the network {at}")


def flat(tensors):
    return np.concatenate([t.detach().reshape(-1).numpy() for t in tensors])


def bn_stats(model):
    return [s for bn in batchnorms(model) for s in (bn.running_mean, bn.running_var)]


def grads(params):
    return flat([torch.zeros_like(p) if p.grad is None else p.grad for p in params])


def build(case, cfg, image):
    model = SimSiam(cfg["arch"], cfg["width"], cfg["proj_hidden"], cfg["z_dim"], cfg["pred_hidden"],
                    image, cfg["stem_stride"]).double().train()
    with torch.no_grad():
        load_flat(list(model.parameters()), np.load(f"{case}/params.npy").astype(np.float64), "params.npy")
        load_flat(bn_stats(model), np.load(f"{case}/stats.npy").astype(np.float64), "stats.npy")
    return model


def view(case, name, image):
    return torch.from_numpy(np.load(f"{case}/{name}.npy").astype(np.float64)).view(-1, *image)


def step(case, image):
    """Run the case's step and write its ref_*.npy files."""
    cfg = read_config(f"{case}/config.txt")
    model = build(case, cfg, image)
    params = list(model.parameters())
    backbone = list(model.encoder.parameters()) + list(model.projector.parameters())
    opt = torch.optim.SGD([{"params": backbone, "lr": cfg["lr"]},
                           {"params": model.predictor.parameters(), "lr": cfg["pred_lr_mult"] * cfg["lr"]}],
                          lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["wd"])
    z1, p1 = model(view(case, "x1", image))
    z2, p2 = model(view(case, "x2", image))
    loss = symmetric_loss(cfg["loss"], p1, p2, z1, z2)
    loss.backward()
    out = {"loss": np.array([loss.item()]), "grad": grads(params)}
    opt.step()
    z1, z2 = z1.detach(), z2.detach()
    for _ in range(cfg["pred_steps"] - 1):
        opt.zero_grad(set_to_none=True)
        p1 = model.predictor(z1)
        p2 = model.predictor(z2)
        symmetric_loss(cfg["loss"], p1, p2, z1, z2).backward()
        opt.step()
    out["pred_grad"] = grads(params)
    out["params"] = flat(params)
    out["momentum"] = flat([opt.state[p]["momentum_buffer"] for p in params])
    out["stats"] = flat(bn_stats(model))
    for name, value in out.items():
        np.save(f"{case}/ref_{name}.npy", value)


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    image = tuple(int(a) for a in sys.argv[1:4])
    for case in sys.argv[4:]:
        step(case, image)
