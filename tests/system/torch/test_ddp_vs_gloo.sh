#!/usr/bin/env bash
# test_ddp_vs_gloo.sh N: the same DDP training with backend rfab and gloo, N ranks under `rfab run`; the final
# parameters must be equal. With 2 ranks exactly: every element's sum has two terms, and a + b == b + a in
# floating point, whatever the algorithm. With 3 ranks the two backends group the three terms differently
# ((a + b) + c vs a + (b + c)), which changes a sum by at most ~1 ulp; over 30 momentum-SGD steps that stayed
# below 5e-8 on parameters of magnitude ~0.1-1, so 1e-6 is the bound (and the parameters move > 1e-3).
source "$(dirname "$0")/common.sh"
N=${1:-2}
ATOL=0
[ "$N" -le 2 ] || ATOL=1e-6
for backend in rfab gloo; do
  "$RFAB" run -n "$N" --timeout 120 -- "$PY" "$HERE/ddp_train.py" --backend "$backend" --out "$WORK/$backend.pt"
done
"$PY" "$HERE/compare_params.py" "$WORK/rfab.pt" "$WORK/gloo.pt" --atol "$ATOL"
