"""compare_params.py A.pt B.pt [--atol X]: compares the final parameters of two ddp_train.py runs.

Exits 0 when they match (exactly unless --atol) and training moved the parameters at least 1000x the
tolerance (at least 1e-3) from where they started, so a run that did not train cannot pass."""
import argparse
import sys

import torch

ap = argparse.ArgumentParser()
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("--atol", type=float, default=0.0)
a = ap.parse_args()
ra, rb = torch.load(a.a), torch.load(a.b)
pa, pb = ra["final"], rb["final"]
assert pa.keys() == pb.keys(), (pa.keys(), pb.keys())
worst = max((pa[k] - pb[k]).abs().max().item() for k in pa)
moved = max((pa[k] - ra["initial"][k]).abs().max().item() for k in pa)
n = sum(v.numel() for v in pa.values())
print(f"max |difference| {worst:.3g} (allowed {a.atol:g}) over {n} parameters; training moved them up to {moved:.3g}")
if worst > a.atol:
    sys.exit(1)
if moved < max(1e-3, 1000 * a.atol):
    print("the parameters barely moved: the comparison proves nothing", file=sys.stderr)
    sys.exit(1)
