# Shared by the torch tests. The test registration (CMakeLists.txt) sets RFAB (the rfab CLI), PY (the Python
# with torch) and PYTHONPATH (the built rfab_torch package).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../../../scripts/lib/netns-pair.sh"
: "${RFAB:?RFAB (the rfab binary) is not set}"
: "${PY:?PY (python with torch) is not set}"
WORK=$(mktemp -d /tmp/rfab-torch-test.XXXXXX)
NS_TAG=""
PIDS=()  # ranks a test started in the background: killed on exit, so a failing test leaves none behind
cleanup() {
  for p in "${PIDS[@]}"; do pkill -KILL -P "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
  if [ -n "$NS_TAG" ]; then netns_remove "${NS_TAG}a" "${NS_TAG}b"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two namespaces ${NS_TAG}a (NET.1) and ${NS_TAG}b (NET.2) joined by a veth pair: two "hosts" to rfab, which
# then talks RoCE v2 between them. Traffic stays on the veth.
make_namespaces() {
  [ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
  NS_TAG="rft$$"
  NET="10.81.$(( $$ % 250 + 1 ))"
  netns_pair_up "${NS_TAG}a" "${NS_TAG}b" "$NET"
}

# run_in_namespaces SCRIPT ARGS...: rank 0 in ${NS_TAG}a, rank 1 in ${NS_TAG}b, env:// rendezvous at NET.1.
run_in_namespaces() {
  local port=$(( 20000 + $$ % 20000 )) rc0=0 rc1=0 pid1
  local common=(MASTER_ADDR="$NET.1" MASTER_PORT="$port" WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 LOCAL_RANK=0
                PYTHONPATH="$PYTHONPATH" RFAB_ROCE_DEBUG=1)
  ip netns exec "${NS_TAG}b" env "${common[@]}" RANK=1 timeout -s KILL 120 "$PY" "$@" >"$WORK/rank1.log" 2>&1 &
  pid1=$!
  ip netns exec "${NS_TAG}a" env "${common[@]}" RANK=0 timeout -s KILL 120 "$PY" "$@" >"$WORK/rank0.log" 2>&1 || rc0=$?
  wait "$pid1" || rc1=$?
  sed 's/^/[0] /' "$WORK/rank0.log"
  sed 's/^/[1] /' "$WORK/rank1.log"
  [ "$rc0" -eq 0 ] && [ "$rc1" -eq 0 ] || { echo "a rank failed: rank 0 exit $rc0, rank 1 exit $rc1" >&2; return 1; }
  # rfab's RoCE transport carried the job (its counters are printed at teardown with RFAB_ROCE_DEBUG=1).
  grep -q "rfab roce rank 0" "$WORK/rank0.log" || { echo "rank 0 did not use RoCE" >&2; return 1; }
}
