#!/usr/bin/env bash
# test_kill_rank.sh [netns]: a rank SIGKILLs itself mid-training; every survivor must get a RuntimeError
# within the timeout given to init_process_group (plus 3 s for a loaded machine). Local: 3 ranks on shared
# memory; the death is seen at once through the peer's pidfd, and the survivor that sees it first aborts the
# communicator, so the other survivor's error may name that survivor instead: at least one error must name
# the dead rank, every one a rank. netns: 2 ranks in two namespaces over RoCE; with rfab's default selective
# loss recovery the RC engine backs off between resends, so the death is reported by the no-progress
# timeout (10 s here) rather than by retry exhaustion. The ranks are started by hand, not by `rfab run`,
# which would stop the survivors itself as soon as one rank dies.
source "$(dirname "$0")/common.sh"
MODE=${1:-local}
TIMEOUT_S=$([ "$MODE" = netns ] && echo 10 || echo 20)
check_survivor() {  # LOG RANK
  local log=$1 rank=$2
  grep -q "rank $rank raised after" "$log" || { echo "rank $rank did not raise:"; cat "$log"; return 1; } >&2
  grep "raised after" "$log" | grep -q "rank [0-9]" ||
    { echo "rank $rank's error names no rank:"; cat "$log"; return 1; } >&2
  local secs
  secs=$(sed -n "s/.*rank $rank raised after \([0-9.]*\) s.*/\1/p" "$log" | head -1)
  awk -v s="$secs" -v t="$TIMEOUT_S" 'BEGIN { exit !(s <= t + 3) }' ||
    { echo "rank $rank raised after $secs s, not within $TIMEOUT_S s" >&2; return 1; }
  grep -m1 "raised after" "$log"
}
args=(--backend rfab --steps 1000 --die-step 5 --timeout "$TIMEOUT_S")
if [ "$MODE" = netns ]; then
  make_namespaces
  DEAD=1
  port=$(( 20000 + $$ % 20000 ))
  common=(MASTER_ADDR="$NET.1" MASTER_PORT="$port" WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 LOCAL_RANK=0 PYTHONPATH="$PYTHONPATH")
  ip netns exec "${NS_TAG}b" env "${common[@]}" RANK=1 timeout -s KILL 60 "$PY" "$HERE/ddp_train.py" "${args[@]}" \
    --die-rank 1 >"$WORK/rank1.log" 2>&1 &
  PIDS+=($!)
  rc=0
  ip netns exec "${NS_TAG}a" env "${common[@]}" RANK=0 timeout -s KILL 60 "$PY" "$HERE/ddp_train.py" "${args[@]}" \
    --die-rank 1 >"$WORK/rank0.log" 2>&1 || rc=$?
  wait || true
  [ "$rc" -eq 3 ] || { echo "rank 0 exited with $rc, expected 3 (raised):"; cat "$WORK/rank0.log"; exit 1; } >&2
  check_survivor "$WORK/rank0.log" 0
else
  DEAD=2
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  for r in 0 1 2; do
    env MASTER_ADDR=127.0.0.1 MASTER_PORT="$port" WORLD_SIZE=3 RANK=$r LOCAL_RANK=$r LOCAL_WORLD_SIZE=3 \
      timeout -s KILL 60 "$PY" "$HERE/ddp_train.py" "${args[@]}" --die-rank $DEAD >"$WORK/rank$r.log" 2>&1 &
    PIDS+=($!)
  done
  for r in 0 1 2; do
    rc=0
    wait "${PIDS[$r]}" || rc=$?
    if [ $r -eq $DEAD ]; then
      [ "$rc" -eq 137 ] || { echo "rank $DEAD exited with $rc, expected SIGKILL (137)" >&2; exit 1; }
    else
      [ "$rc" -eq 3 ] || { echo "rank $r exited with $rc, expected 3 (raised):"; cat "$WORK/rank$r.log"; exit 1; } >&2
      check_survivor "$WORK/rank$r.log" $r
    fi
  done
  cat "$WORK/rank0.log" "$WORK/rank1.log" | grep "raised after" | grep -q "rank $DEAD" ||
    { echo "no survivor's error names the dead rank $DEAD" >&2; exit 1; }
fi
