"""One rank of scripts/bench-torch.sh: torch.distributed all_reduce busbw over 1-64 MiB and a DDP step time,
for the backend given. Rank 0 prints one JSON object per line.

    bench_worker.py --backend rfab|gloo [--min-mib 1] [--max-mib 64] [--ddp-steps 20] [--batch 16]

all_reduce: float32 sum, in place; each size is warmed up twice, then timed call by call (blocking calls back to
back); time = the slowest rank's median call, busbw = 2(n-1)/n * bytes / time.
DDP: 4 Linear(1024, 1024) layers (4.2 M parameters, 16 MiB of gradients; DDP's default buckets: 1 MiB, then
25 MiB), batch 16, one intra-op thread per rank; step = forward + backward (with the bucket allreduces) + SGD
step; the slowest rank's median step, beside the same step without DDP (the computation alone).
"""
import argparse
import json
import statistics
import time

import torch
import torch.distributed as dist
import torch.nn as nn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", required=True)
    ap.add_argument("--min-mib", type=int, default=1)
    ap.add_argument("--max-mib", type=int, default=64)
    ap.add_argument("--ddp-steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    if a.backend == "rfab":
        import rfab_torch  # noqa: F401
    torch.set_num_threads(1)
    dist.init_process_group(a.backend)
    rank, n = dist.get_rank(), dist.get_world_size()

    mib = a.min_mib
    while mib <= a.max_mib:
        nbytes = mib << 20
        t = torch.ones(nbytes // 4)
        for _ in range(2):
            dist.all_reduce(t)
        iters = max(5, min(40, (512 << 20) // nbytes))
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        # Every rank's median, the slowest counts (as rfab coll and nccl-tests report the slowest rank).
        med = torch.tensor([statistics.median(times)], dtype=torch.float64)
        dist.all_reduce(med, op=dist.ReduceOp.MAX)
        sec = med.item()
        if rank == 0:
            print(json.dumps({"kind": "allreduce", "backend": a.backend, "bytes": nbytes, "time_us": sec * 1e6,
                              "busbw_GBps": 2 * (n - 1) / n * nbytes / sec / 1e9}), flush=True)
        mib *= 2

    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(1024, 1024) for _ in range(4)])
    x = torch.randn(a.batch, 1024)

    def median_step(net, params):
        opt = torch.optim.SGD(params, lr=0.001)
        steps = []
        for i in range(a.ddp_steps + 3):
            t0 = time.perf_counter()
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
            if i >= 3:
                steps.append(time.perf_counter() - t0)
        med = torch.tensor([statistics.median(steps)], dtype=torch.float64)
        dist.all_reduce(med, op=dist.ReduceOp.MAX)
        return med.item() * 1e3

    # The same step without DDP: what the computation alone costs on this machine (both ranks computing).
    local = median_step(model, model.parameters())
    ddp = nn.parallel.DistributedDataParallel(model)
    step = median_step(ddp, ddp.parameters())
    if rank == 0:
        print(json.dumps({"kind": "ddp", "backend": a.backend, "step_ms": step, "compute_ms": local,
                          "params": sum(p.numel() for p in model.parameters())}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
