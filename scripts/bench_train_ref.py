#!/usr/bin/python3
"""PyTorch reference of `simsiam-mi train dataset=random arch=resnet`, for `make bench`.

Dev-only (python3-torch; never used by the C program).  The same network as
docs/design.md §3 and src/simsiam/model.c (simsiam_torch.py), resnet on 1 x 28 x 28
inputs with P = 512, z_dim = 64, H = 128.  Loss: L = 1/2 D(p1, sg(z2)) +
1/2 D(p2, sg(z1)), D = -mean cosine, sg = detach.  torch.optim.SGD(lr 0.03,
momentum 0.9, weight_decay 5e-4) on all parameters (BN included, as ours).
The two views are separate forward passes (BatchNorm statistics per view), as
in the C trainer; dataset=random has no augmentation, so both views are the
same batch of random images (uniform bytes / 255, like the C data set).

FLOPs per source image (printed as "flops_per_image"): forward hooks count the
multiply-adds of every conv and Linear (conv: c_out*h_out*w_out*c_in*k*k,
Linear: in*out per image).  Training costs 2*MACs for the forward, 2*MACs for
the weight gradient and 2*MACs for the input gradient, for each of the two
views.  The input gradient is counted only where the layer's input requires
a gradient: the stem conv's input is the image, whose gradient neither this
script nor the C trainer computes, so its input gradient is NOT counted.
BatchNorm, ReLU, pooling, the residual adds, the bias, the loss and the
optimiser are not counted (they are not matrix products: well under 1% here).

usage: bench_train_ref.py train THREADS WARMUP STEPS [WIDTH BATCH]
           warm up, time STEPS steps, print one JSON line like the C trainer's
       bench_train_ref.py ckpt-params CHECKPOINT
           print the number of floats in a simsiam-mi checkpoint's "params"
"""
import json
import struct
import sys
import time

import torch
import torch.nn as nn

from simsiam_torch import SimSiam, symmetric_loss

IMAGE = (1, 28, 28)
PROJ_HIDDEN, Z_DIM, PRED_HIDDEN = 512, 64, 128
LR, MOMENTUM, WEIGHT_DECAY = 0.03, 0.9, 5e-4
POOL_BATCHES = 4  # distinct random batches cycled through, so no step reuses the last one's data


def train_step(model, opt, x1, x2):
    opt.zero_grad(set_to_none=True)
    z1, p1 = model(x1)  # separate passes: BatchNorm statistics per view
    z2, p2 = model(x2)
    loss = symmetric_loss("cosine", p1, p2, z1, z2)
    loss.backward()
    opt.step()
    return loss


def macs(layer, inp, out):
    """Multiply-adds per image of one conv or Linear call."""
    if isinstance(layer, nn.Conv2d):
        k = layer.kernel_size[0] * layer.kernel_size[1]
        return out[0].numel() * layer.in_channels // layer.groups * k
    return layer.in_features * layer.out_features


def flops_per_image(model):
    """Training FLOPs per source image (two views), counted as the docstring says."""
    total = []

    def hook(layer, inputs, out):
        m = macs(layer, inputs[0], out)
        passes = 3 if inputs[0].requires_grad else 2  # forward, weight grad (, input grad)
        total.append(2 * m * passes)

    layers = [l for l in model.modules() if isinstance(l, (nn.Conv2d, nn.Linear))]
    handles = [l.register_forward_hook(hook) for l in layers]
    model.eval()  # leaves the running statistics alone
    model(torch.zeros(2, *IMAGE))
    model.train()
    for h in handles:
        h.remove()
    return 2 * sum(total)


def train(threads, warmup, steps, width, batch):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = SimSiam("resnet", width, PROJ_HIDDEN, Z_DIM, PRED_HIDDEN, IMAGE)
    flops = flops_per_image(model)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    pool = torch.randint(0, 256, (POOL_BATCHES, batch, *IMAGE)).float() / 255
    for s in range(warmup):
        train_step(model, opt, pool[s % POOL_BATCHES], pool[s % POOL_BATCHES])
    t0 = time.perf_counter()
    for s in range(steps):
        loss = train_step(model, opt, pool[s % POOL_BATCHES], pool[s % POOL_BATCHES])
    seconds = time.perf_counter() - t0
    return {"steps": warmup + steps, "timed_steps": steps, "threads": torch.get_num_threads(),
            "images_per_s": round(steps * batch / seconds, 1), "final_loss": float(loss),
            "params": sum(p.numel() for p in model.parameters()), "flops_per_image": flops,
            "seconds": round(seconds, 3)}


def ckpt_params(path):
    """Float count of the "params" section of a checkpoint (src/io/checkpoint.h, version 1)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"SSMICKPT" or struct.unpack_from("<I", data, 8)[0] != 1:
        sys.exit(f"bench_train_ref.py: not a version-1 simsiam-mi checkpoint ({path})")
    (count,) = struct.unpack_from("<I", data, 12)
    at = 16
    for _ in range(count):
        (name_len,) = struct.unpack_from("<I", data, at)
        name = data[at + 4:at + 4 + name_len].decode()
        _tag, payload = struct.unpack_from("<IQ", data, at + 4 + name_len)
        if name == "params":
            return payload // 4
        at += 4 + name_len + 12 + payload
    sys.exit(f"bench_train_ref.py: no params section ({path})")


if __name__ == "__main__":
    if len(sys.argv) in (5, 7) and sys.argv[1] == "train":
        args = [int(a) for a in sys.argv[2:]]
        width, batch = args[3:] if len(args) == 5 else (16, 256)
        print(json.dumps(train(*args[:3], width, batch), separators=(",", ":")))
    elif len(sys.argv) == 3 and sys.argv[1] == "ckpt-params":
        print(ckpt_params(sys.argv[2]))
    else:
        sys.exit(__doc__)
