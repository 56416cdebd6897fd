"""Rank and size from Slurm's variables, init_method tcp:// (no MASTER_ADDR, no torchrun), and a subgroup:
ranks 1 and 2 allreduce in their own communicator, then everyone in the world's. Exits 1 on a wrong sum."""
import os
import sys

import torch
import torch.distributed as dist

import rfab_torch  # noqa: F401

rank, size = int(os.environ["SLURM_PROCID"]), int(os.environ["SLURM_NTASKS"])
dist.init_process_group("rfab", init_method=f"tcp://127.0.0.1:{os.environ['TEST_PORT']}", rank=rank, world_size=size)
sub = dist.new_group([1, 2])
t = torch.full((1000,), float(rank))
ok = True
if rank in (1, 2):
    dist.all_reduce(t, group=sub)
    ok &= bool((t == 3).all())
dist.all_reduce(t)
want = 3 + 3 + 0 + sum(range(3, size))  # ranks 1 and 2 hold 3 each now
ok &= bool((t == want).all())
print(f"rank {rank}: {'ok' if ok else 'WRONG'} {t[0].item()}", flush=True)
dist.destroy_process_group()
sys.exit(0 if ok else 1)
