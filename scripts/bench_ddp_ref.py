#!/usr/bin/python3
"""PyTorch DistributedDataParallel reference of `mpirun -np R simsiam-mi-mpi train
dataset=random arch=resnet`, for `make bench`.

Dev-only (python3-torch).  The network, loss and optimiser of bench_train_ref.py
(the same SimSiam as src/simsiam/model.c), R processes on the gloo backend
(CPU), one thread each, the global batch split into R equal slices, DDP's
averaged gradient allreduce (bucketed and overlapped with the backward).  One
difference: PyTorch's SyncBatchNorm refuses CPU modules ("SyncBatchNorm layers
only work with GPU modules"), so each rank's BatchNorm uses its own slice's
statistics here, where simsiam-mi synchronises them (SyncBN): the reference
skips that communication.

usage: bench_ddp_ref.py RANKS WARMUP STEPS [WIDTH BATCH]
    prints one JSON line (rank 0): images_per_s over the timed steps (global
    batch), params, ranks
"""
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from bench_train_ref import IMAGE, LR, MOMENTUM, PRED_HIDDEN, PROJ_HIDDEN, WEIGHT_DECAY, Z_DIM
from simsiam_torch import SimSiam, symmetric_loss


class TwoViews(nn.Module):
    """Both views in one forward, so DDP sees one forward per backward."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x1, x2):
        return self.model(x1) + self.model(x2)  # (z1, p1, z2, p2)


def worker(rank, ranks, warmup, steps, width, batch, port, queue):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=ranks)
    torch.manual_seed(0)  # every rank starts from the same parameters, as DDP also broadcasts
    model = nn.parallel.DistributedDataParallel(TwoViews(SimSiam("resnet", width, PROJ_HIDDEN, Z_DIM, PRED_HIDDEN,
                                                                 IMAGE)))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    local = batch // ranks
    pool = torch.randint(0, 256, (4, local, *IMAGE), generator=torch.Generator().manual_seed(rank)).float() / 255
    t0 = 0.0
    for s in range(warmup + steps):
        if s == warmup:
            dist.barrier()
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        x = pool[s % 4]
        z1, p1, z2, p2 = model(x, x)
        loss = symmetric_loss("cosine", p1, p2, z1, z2)
        loss.backward()
        opt.step()
    dist.barrier()
    seconds = time.perf_counter() - t0
    if rank == 0:
        queue.put({"ranks": ranks, "threads": torch.get_num_threads(), "timed_steps": steps,
                   "images_per_s": round(steps * batch / seconds, 1),
                   "params": sum(p.numel() for p in model.parameters()), "seconds": round(seconds, 3)})
    dist.destroy_process_group()


def main():
    if len(sys.argv) not in (4, 6):
        sys.exit(__doc__)
    ranks, warmup, steps = (int(a) for a in sys.argv[1:4])
    width, batch = (int(a) for a in sys.argv[4:6]) if len(sys.argv) == 6 else (16, 256)
    if batch % ranks:
        sys.exit(f"bench_ddp_ref.py: batch {batch} does not split into {ranks} ranks")
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    port = 29500 + os.getpid() % 1000
    mp.spawn(worker, args=(ranks, warmup, steps, width, batch, port, queue), nprocs=ranks, join=True)
    print(json.dumps(queue.get(), separators=(",", ":")))


if __name__ == "__main__":
    main()
