#!/usr/bin/env bash
# A 2-rank `rfab coll` across two network namespaces joined by a veth pair: rank 0 in one namespace, rank 1
# in the other, talking RoCE v2 (rfab's RC engine over kernel UDP sockets) through the veth. Namespaces and
# ranks are removed on exit, also on failure or Ctrl-C. Needs root.
#
# Usage: scripts/coll-netns.sh [BUILD_DIR] [rfab coll arguments...]
#   default arguments: allreduce -b 1M -e 64M -f 2 -n 10 -w 2 -c 1
# Environment: MTU (veth MTU, default 9000), TIMEOUT (seconds for the whole run, default 300), and any
# RFAB_* variable (passed to both ranks).
set -euo pipefail
BUILD=${1:-build/release}
shift || true
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(allreduce -b 1M -e 64M -f 2 -n 10 -w 2 -c 1)
RFAB="$(cd "$BUILD" 2>/dev/null && pwd)/cli/rfab"
[ -x "$RFAB" ] || { echo "coll-netns: $BUILD/cli/rfab not built" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "coll-netns: needs root (network namespaces)" >&2; exit 2; }

TAG="rfc$$"
NS0="${TAG}a"
NS1="${TAG}b"
NET="10.79.$(( $$ % 250 + 1 ))"
PORT=$(( 20000 + $$ % 20000 ))
LOG=$(mktemp /tmp/rfab-coll-netns.XXXXXX)
RANK1_PID=""

source "$(dirname "$0")/lib/netns-pair.sh"
cleanup() {
  [ -n "$RANK1_PID" ] && kill -9 "$RANK1_PID" 2>/dev/null || true
  netns_remove "$NS0" "$NS1"
  rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_pair_up "$NS0" "$NS1" "$NET" "${MTU:-9000}"
echo "# $NS0 ($NET.1, rank 0) <-veth-> $NS1 ($NET.2, rank 1), MTU ${MTU:-9000}: rfab coll ${ARGS[*]}"

# RFAB_HOSTNAME names each namespace as a host in messages and for the hierarchical grouping.
common=(MASTER_ADDR="$NET.1" MASTER_PORT="$PORT" WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 LOCAL_RANK=0)
ip netns exec "$NS1" env "${common[@]}" RANK=1 RFAB_HOSTNAME="$NS1" timeout -s KILL "${TIMEOUT:-300}" \
  "$RFAB" coll "${ARGS[@]}" >"$LOG" 2>&1 &
RANK1_PID=$!
rc0=0
ip netns exec "$NS0" env "${common[@]}" RANK=0 RFAB_HOSTNAME="$NS0" timeout -s KILL "${TIMEOUT:-300}" \
  "$RFAB" coll "${ARGS[@]}" || rc0=$?
rc1=0
wait "$RANK1_PID" || rc1=$?
RANK1_PID=""
if [ "$rc1" -ne 0 ]; then
  echo "coll-netns: rank 1 failed (exit $rc1):" >&2
  sed 's/^/[rank 1] /' "$LOG" >&2
fi
[ "$rc0" -eq 0 ] || echo "coll-netns: rank 0 failed (exit $rc0)" >&2
[ "$rc0" -eq 0 ] && [ "$rc1" -eq 0 ]
