#!/usr/bin/env bash
# Slurm-style launch by hand (SLURM_PROCID/SLURM_NTASKS, init_method tcp://, no MASTER_ADDR) with a subgroup.
source "$(dirname "$0")/common.sh"
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for r in 0 1 2; do
  env -u MASTER_ADDR -u MASTER_PORT -u RANK -u WORLD_SIZE SLURM_PROCID=$r SLURM_NTASKS=3 TEST_PORT="$port" \
    timeout -s KILL 60 "$PY" "$HERE/slurm_groups.py" &
  PIDS+=($!)
done
rc=0
for p in "${PIDS[@]}"; do wait "$p" || rc=1; done
exit $rc
