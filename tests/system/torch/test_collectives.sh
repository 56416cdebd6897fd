#!/usr/bin/env bash
# test_collectives.sh N: every collective and dtype on sizes 1, 7 and 1000003, N ranks on one host (shared
# memory) under `rfab run`, exact (check_collectives.py).
source "$(dirname "$0")/common.sh"
"$RFAB" run -n "${1:-3}" --timeout 120 -- "$PY" "$HERE/check_collectives.py" --sizes 1,7,1000003
