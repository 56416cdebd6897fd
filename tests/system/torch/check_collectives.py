"""Every collective of the rfab backend against exact expectations, for every dtype and odd sizes.

Run by every rank of a job (rfab run, torchrun, or env:// by hand): init_process_group(backend="rfab"). Values are
small integers, so sums, products, minima and maxima are exact in every dtype (int8 and bfloat16 included) and
the expectation is computed independently of any reduction order. Exits non-zero naming the first mismatch.
Usage: check_collectives.py [--sizes 1,7,1000003] [--dtypes all|float32,...]
"""
import argparse
import datetime
import sys

import torch
import torch.distributed as dist

import rfab_torch  # noqa: F401  (registers the backend)

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int8": torch.int8, "uint8": torch.uint8, "int32": torch.int32, "int64": torch.int64,
}
FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)

failures = []


def expect(name, got, want):
    if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
        bad = (got.to(torch.float64) != want.to(torch.float64)).nonzero()
        where = bad[0].tolist() if len(bad) else "dtype/shape"
        failures.append(f"{name}: first difference at {where}: got {got.flatten()[:8].tolist()}..., "
                        f"want {want.flatten()[:8].tolist()}...")


def base(n):  # 1..5, repeating
    return torch.arange(n, dtype=torch.int64) % 5 + 1


def check(n, dt, rank, size):
    tag = f"[{dt} x {n}]"
    ranks = torch.arange(size, dtype=torch.int64)
    b = base(n)

    # all_reduce: sum, min, max, product, avg (floats)
    for op, want in ((dist.ReduceOp.SUM, size * b + size * (size - 1) // 2),
                     (dist.ReduceOp.MIN, b),
                     (dist.ReduceOp.MAX, b + size - 1)):
        t = (b + rank).to(dt)
        dist.all_reduce(t, op=op)
        expect(f"all_reduce {op} {tag}", t, want.to(dt))
    pb = torch.arange(n, dtype=torch.int64)
    t = ((pb + rank) % 2 + 1).to(dt)
    dist.all_reduce(t, op=dist.ReduceOp.PRODUCT)
    want = torch.ones(n, dtype=torch.int64)
    for r in range(size):
        want *= (pb + r) % 2 + 1
    expect(f"all_reduce PRODUCT {tag}", t, want.to(dt))
    if dt in FLOATS:
        t = (b + rank).to(dt)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        total = (size * b + size * (size - 1) // 2)
        # rfab sums exactly (small integers), then divides once in float32 (float64 for float64).
        acc = torch.float64 if dt == torch.float64 else torch.float32
        expect(f"all_reduce AVG {tag}", t, (total.to(acc) / size).to(dt))

    # broadcast from the last rank, reduce to rank 1 (or 0)
    root = size - 1
    t = (b + rank).to(dt)
    dist.broadcast(t, src=root)
    expect(f"broadcast {tag}", t, (b + root).to(dt))
    root = 1 % size
    t = (b + rank).to(dt)
    dist.reduce(t, dst=root, op=dist.ReduceOp.SUM)
    if rank == root:
        expect(f"reduce {tag}", t, (size * b + size * (size - 1) // 2).to(dt))

    # all_gather (list) and _allgather_base (one flat tensor)
    outs = [torch.zeros(n, dtype=dt) for _ in range(size)]
    dist.all_gather(outs, (b + rank).to(dt))
    for r in range(size):
        expect(f"all_gather[{r}] {tag}", outs[r], (b + r).to(dt))
    flat = torch.zeros(n * size, dtype=dt)
    dist.all_gather_into_tensor(flat, (b + rank).to(dt))  # ProcessGroup::_allgather_base
    expect(f"all_gather_into_tensor {tag}", flat, torch.cat([b + r for r in range(size)]).to(dt))

    # reduce_scatter (list) and _reduce_scatter_base: part k of rank r holds b + r + k
    want = (size * b + size * (size - 1) // 2 + size * rank).to(dt)
    out = torch.zeros(n, dtype=dt)
    dist.reduce_scatter(out, [(b + rank + k).to(dt) for k in range(size)])
    expect(f"reduce_scatter {tag}", out, want)
    out = torch.zeros(n, dtype=dt)
    dist.reduce_scatter_tensor(out, torch.cat([b + rank + k for k in range(size)]).to(dt))  # _reduce_scatter_base
    expect(f"reduce_scatter_tensor {tag}", out, want)

    # all_to_all_single, equal splits: chunk k of rank r holds b + 10r + k
    inp = torch.cat([b + 10 * rank + k for k in range(size)]).to(dt)
    out = torch.zeros(n * size, dtype=dt)
    dist.all_to_all_single(out, inp)
    expect(f"all_to_all_single {tag}", out, torch.cat([b + 10 * s + rank for s in range(size)]).to(dt))

    # uneven splits, rows of 3 elements: rank r sends k + r + 1 rows to rank k
    def rows(src, dst):
        m = dst + src + 1
        return (torch.arange(m * 3, dtype=torch.int64).reshape(m, 3) % 5 + 10 * src + dst).to(dt)
    inp = torch.cat([rows(rank, k) for k in range(size)])
    out = torch.zeros(sum(rank + s + 1 for s in range(size)), 3, dtype=dt)
    dist.all_to_all_single(out, inp, output_split_sizes=[rank + s + 1 for s in range(size)],
                           input_split_sizes=[rank + k + 1 for k in range(size)])
    expect(f"all_to_all_single uneven {tag}", out, torch.cat([rows(s, rank) for s in range(size)]))
    outs = [torch.zeros(rank + s + 1, 3, dtype=dt) for s in range(size)]
    dist.all_to_all(outs, [rows(rank, k) for k in range(size)])
    for s in range(size):
        expect(f"all_to_all[{s}] {tag}", outs[s], rows(s, rank))

    # point to point around the ring, as isend/irecv and as batch_isend_irecv
    if size > 1:
        nxt, prv = (rank + 1) % size, (rank - 1) % size
        t = torch.zeros(n, dtype=dt)
        reqs = [dist.isend((b + rank).to(dt), nxt), dist.irecv(t, prv)]
        for q in reqs:
            q.wait()
        expect(f"isend/irecv {tag}", t, (b + prv).to(dt))
        t = torch.zeros(n, dtype=dt)
        ops = [dist.P2POp(dist.isend, (b + rank).to(dt), nxt), dist.P2POp(dist.irecv, t, prv)]
        for q in dist.batch_isend_irecv(ops):
            q.wait()
        expect(f"batch_isend_irecv {tag}", t, (b + prv).to(dt))

    # gather and scatter to/from rank 0
    outs = [torch.zeros(n, dtype=dt) for _ in range(size)] if rank == 0 else None
    dist.gather((b + rank).to(dt), gather_list=outs, dst=0)
    if rank == 0:
        for r in range(size):
            expect(f"gather[{r}] {tag}", outs[r], (b + r).to(dt))
    out = torch.zeros(n, dtype=dt)
    dist.scatter(out, scatter_list=[(b + k).to(dt) for k in range(size)] if rank == 0 else None, src=0)
    expect(f"scatter {tag}", out, (b + rank).to(dt))


def check_special(rank, size):
    # Non-contiguous tensors: a transposed view is reduced through a contiguous copy and written back.
    m = torch.arange(12, dtype=torch.float32).reshape(3, 4) + rank
    v = m.t()
    dist.all_reduce(v)
    expect("all_reduce of a transposed view", m, (torch.arange(12, dtype=torch.float32).reshape(3, 4) * size
                                                   + size * (size - 1) // 2))
    # async work: wait() and the future's value (the output tensors, as DDP's comm hooks read them)
    t = torch.ones(5)
    w = dist.all_reduce(t, async_op=True)
    fut = w.get_future()
    w.wait()
    expect("future value", fut.value()[0], torch.full((5,), float(size)))
    # Refusals are RuntimeErrors that say what is wrong.
    for what, fn, needle in (
            ("bool dtype", lambda: dist.all_reduce(torch.ones(3, dtype=torch.bool)), "dtype"),
            ("int16 dtype", lambda: dist.all_reduce(torch.ones(3, dtype=torch.int16)), "dtype"),
            ("BAND", lambda: dist.all_reduce(torch.ones(3, dtype=torch.int32), op=dist.ReduceOp.BAND), "BAND"),
            ("bad split sizes", lambda: dist.all_to_all_single(torch.zeros(size), torch.zeros(size),
                                                               [1] * size, [2] * size), "split")):
        try:
            fn()
            failures.append(f"{what}: accepted, expected a RuntimeError")
        except RuntimeError as e:
            if needle not in str(e):
                failures.append(f"{what}: RuntimeError without '{needle}': {e}")
    dist.barrier()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,7,1000003")
    ap.add_argument("--dtypes", default="all")
    a = ap.parse_args()
    dist.init_process_group("rfab", timeout=datetime.timedelta(seconds=60))
    rank, size = dist.get_rank(), dist.get_world_size()
    assert dist.get_backend() == "rfab", dist.get_backend()
    dtypes = list(DTYPES.values()) if a.dtypes == "all" else [DTYPES[d] for d in a.dtypes.split(",")]
    for n in (int(s) for s in a.sizes.split(",")):
        for dt in dtypes:
            check(n, dt, rank, size)
    check_special(rank, size)
    dist.destroy_process_group()
    if failures:
        for f in failures[:20]:
            print(f"rank {rank}: FAIL {f}", file=sys.stderr)
        sys.exit(1)
    print(f"rank {rank} of {size}: every collective exact")


if __name__ == "__main__":
    main()
