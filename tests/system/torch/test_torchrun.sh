#!/usr/bin/env bash
# The backend under torchrun (its agent store: TORCHELASTIC_USE_AGENT_STORE=True). Debian's torch 1.13 on
# Python 3.11 needs explicit --redirects/--tee (its default trips an IntFlag change in 3.11).
source "$(dirname "$0")/common.sh"
cd "$WORK"
timeout -s KILL 120 "$PY" -m torch.distributed.run --standalone --nproc_per_node 2 --redirects 1 --tee 1 \
  "$HERE/check_collectives.py" --sizes 7,1000003 --dtypes float32,bfloat16,int8,int64
timeout -s KILL 120 "$PY" -m torch.distributed.run --standalone --nproc_per_node 3 --redirects 1 --tee 1 \
  "$HERE/ddp_train.py" --backend rfab
