#!/usr/bin/env bash
# DDP across two network namespaces over rfab's RoCE transport (one rank per namespace), compared with gloo on
# one host: 2 ranks, so the parameters must be equal exactly (see test_ddp_vs_gloo.sh).
source "$(dirname "$0")/common.sh"
make_namespaces
run_in_namespaces "$HERE/ddp_train.py" --backend rfab --out "$WORK/rfab.pt"
"$RFAB" run -n 2 --timeout 120 -- "$PY" "$HERE/ddp_train.py" --backend gloo --out "$WORK/gloo.pt"
"$PY" "$HERE/compare_params.py" "$WORK/rfab.pt" "$WORK/gloo.pt"
