"""A small DDP training run with fixed seeds; rank 0 writes the initial and final parameters.

    ddp_train.py --backend rfab|gloo --out params.pt [--steps 30] [--die-rank R --die-step S]

Every rank starts from the same model (seed 0) and trains on its own data (seed 1000 + rank), so the result
depends on the gradients' allreduce. One intra-op thread: matmuls then sum in a fixed order, so two runs differ
only through the backend. With --die-rank, that rank SIGKILLs itself at step S; every other rank must get a
RuntimeError from the backend: it prints "rank R raised after T s: ..." and exits with 3.
"""
import argparse
import datetime
import os
import signal
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="rfab")
    ap.add_argument("--out", default="")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--die-rank", type=int, default=-1)
    ap.add_argument("--die-step", type=int, default=5)
    a = ap.parse_args()
    if a.backend == "rfab":
        import rfab_torch  # noqa: F401
    torch.set_num_threads(1)
    dist.init_process_group(a.backend, timeout=datetime.timedelta(seconds=a.timeout))
    rank = dist.get_rank()

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    # Small buckets: several allreduces per step, overlapped with the backward pass through their futures.
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ddp = DDP(model, bucket_cap_mb=0.01)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(1000 + rank)
    x = torch.randn(64, 32, generator=g)
    y = torch.randn(64, 8, generator=g)
    t0 = time.monotonic()
    try:
        for step in range(a.steps):
            if rank == a.die_rank and step == a.die_step:
                os.kill(os.getpid(), signal.SIGKILL)
            if step == a.die_step:
                t0 = time.monotonic()
            opt.zero_grad()
            loss = nn.functional.mse_loss(ddp(x), y)
            loss.backward()
            opt.step()
    except RuntimeError as e:
        if a.die_rank < 0:
            raise
        print(f"rank {rank} raised after {time.monotonic() - t0:.1f} s: {e}", flush=True)
        os._exit(3)  # the process group cannot be torn down cleanly with a dead peer
    if a.die_rank >= 0:
        print(f"rank {rank}: training finished although rank {a.die_rank} died", flush=True)
        sys.exit(1)
    if rank == 0 and a.out:
        final = {k: v.detach().clone() for k, v in model.state_dict().items()}
        torch.save({"initial": initial, "final": final}, a.out)
    print(f"rank {rank}: final loss {loss.item():.6f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
