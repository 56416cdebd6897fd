#!/usr/bin/env bash
# torch.distributed with backend rfab against gloo, 2 ranks: all_reduce busbw over 1-64 MiB and a DDP step time,
# within one host (`rfab run -n 2`: shared memory for rfab, TCP over loopback for gloo) and across two network
# namespaces joined by a veth pair, MTU 9000 (RoCE v2 over rfab's RC engine on kernel UDP for rfab, TCP for
# gloo). The backends run in turn REPEAT times; each figure is the median of its runs. Printed beside them:
# the machine's limits (one thread's memcpy, iperf3 TCP over the veth). Needs root for the namespaces.
#
# Usage: scripts/bench-torch.sh [BUILD_DIR]      environment: REPEAT (default 3), MAX_MIB (default 64),
#        PY (default /usr/bin/python3: Debian's, with torch), ONLY=host|netns
set -euo pipefail
BUILD=$(cd "${1:-build/release}" && pwd)
REPEAT=${REPEAT:-3}
MAX_MIB=${MAX_MIB:-64}
PY=${PY:-/usr/bin/python3}
SRC=$(cd "$(dirname "$0")/.." && pwd)
RFAB="$BUILD/cli/rfab"
WORKER="$SRC/bindings/torch/bench/bench_worker.py"
export PYTHONPATH="$BUILD/bindings/torch${PYTHONPATH:+:$PYTHONPATH}"
[ -x "$RFAB" ] || { echo "bench-torch: $RFAB not built" >&2; exit 2; }
"$PY" -c "import rfab_torch" || { echo "bench-torch: $PY cannot import rfab_torch (built? torch installed?)" >&2; exit 2; }

OUT=$(mktemp -d /tmp/rfab-bench-torch.XXXXXX)
TAG="rbt$$"
NS=("${TAG}a" "${TAG}b")
DATA="10.83.$(( $$ % 250 + 1 ))"
source "$(dirname "$0")/lib/netns-pair.sh"
cleanup() {
  netns_remove "${NS[@]}"
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run_host() {  # backend run
  "$RFAB" run -n 2 --timeout 600 --no-prefix -- "$PY" "$WORKER" --backend "$1" --max-mib "$MAX_MIB" \
    >"$OUT/host-$1.$2.json" 2>"$OUT/host-$1.err" || { echo "host $1 failed: $(tail -3 "$OUT/host-$1.err")" >&2; }
}

make_namespaces() {
  [ "$(id -u)" -eq 0 ] || { echo "bench-torch: the namespace half needs root" >&2; return 1; }
  netns_pair_up "${NS[0]}" "${NS[1]}" "$DATA"
}

run_netns() {  # backend run
  local port=$(( 20000 + RANDOM % 20000 )) pid
  local common=(MASTER_ADDR="$DATA.1" MASTER_PORT="$port" WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 LOCAL_RANK=0
                PYTHONPATH="$PYTHONPATH")
  # Gloo finds its address by the interface (the host name resolves to loopback inside a namespace).
  ip netns exec "${NS[1]}" env "${common[@]}" RANK=1 GLOO_SOCKET_IFNAME="${NS[1]}" timeout -s KILL 600 \
    "$PY" "$WORKER" --backend "$1" --max-mib "$MAX_MIB" >/dev/null 2>"$OUT/ns-$1.err1" &
  pid=$!
  ip netns exec "${NS[0]}" env "${common[@]}" RANK=0 GLOO_SOCKET_IFNAME="${NS[0]}" timeout -s KILL 600 \
    "$PY" "$WORKER" --backend "$1" --max-mib "$MAX_MIB" >"$OUT/ns-$1.$2.json" 2>"$OUT/ns-$1.err0" ||
    echo "netns $1 failed: $(tail -3 "$OUT/ns-$1.err0")" >&2
  wait "$pid" || echo "netns $1 rank 1 failed: $(tail -3 "$OUT/ns-$1.err1")" >&2
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$REPEAT"); do
  if [ "${ONLY:-}" != netns ]; then
    for b in rfab gloo; do echo "== run $run/$REPEAT: host, $b" >&2; run_host "$b" "$run"; done
  fi
done
if [ "${ONLY:-}" != host ] && make_namespaces; then
  for run in $(seq 1 "$REPEAT"); do
    for b in rfab gloo; do echo "== run $run/$REPEAT: netns, $b" >&2; run_netns "$b" "$run"; done
  done
fi

# The machine's limits: one thread's memcpy, and TCP over the veth (iperf3, 1 stream).
if [ -x "$BUILD/bench/bench_memcpy" ]; then echo "# machine: $("$BUILD/bench/bench_memcpy")"; fi
if [ -n "$(ip netns list 2>/dev/null | grep "${NS[0]}")" ] && command -v iperf3 >/dev/null; then
  ip netns exec "${NS[0]}" iperf3 -s -D -1 -p 5299 --logfile "$OUT/iperf-s.log"; sleep 0.3
  tcp=$(ip netns exec "${NS[1]}" iperf3 -c "$DATA.1" -p 5299 -t 2 -J 2>/dev/null |
        "$PY" -c "import json,sys; print('%.2f' % (json.load(sys.stdin)['end']['sum_received']['bits_per_second']/8e9))" 2>/dev/null || echo "?")
  echo "# TCP baseline on the veth: iperf3, 1 stream, $tcp GB/s"
fi

"$PY" - "$OUT" "$REPEAT" <<'PY'
import json, os, statistics, sys
out, repeat = sys.argv[1], int(sys.argv[2])
def load(where, backend):
    ar, ddp, comp = {}, [], []
    for run in range(1, repeat + 1):
        p = f"{out}/{where}-{backend}.{run}.json"
        if not os.path.exists(p):
            continue
        for line in open(p):
            if not line.startswith("{"):
                continue
            j = json.loads(line)
            if j["kind"] == "allreduce":
                ar.setdefault(j["bytes"], []).append(j["busbw_GBps"])
            else:
                ddp.append(j["step_ms"])
                comp.append(j["compute_ms"])
    med = lambda v: statistics.median(v) if v else None
    return {k: statistics.median(v) for k, v in ar.items()}, med(ddp), len(ddp), med(comp)
for where, title, goal in (("host", "one host (rfab: shared memory; gloo: TCP over loopback)", 2.0),
                           ("ns", "two network namespaces over a veth, MTU 9000 (rfab: RoCE v2 on kernel UDP; gloo: TCP)", 1.5)):
    r, rd, rn, rc = load(where, "rfab")
    g, gd, gn, gc = load(where, "gloo")
    if not r and not g:
        continue
    print(f"\n## {title}: all_reduce float32 sum, 2 ranks, busbw GB/s, median of {max(rn, gn)} runs (goal: rfab >= {goal}x gloo)")
    print(f"| {'size':>7} | {'rfab':>8} | {'gloo':>8} | {'rfab/gloo':>9} |")
    print("|--------:|---------:|---------:|----------:|")
    for size in sorted(set(r) | set(g)):
        rv, gv = r.get(size), g.get(size)
        ratio = f"{rv / gv:8.2f}x" if rv and gv else "-"
        f = lambda v: f"{v:8.3f}" if v else "       -"
        print(f"| {size >> 20:>4} MiB | {f(rv)} | {f(gv)} | {ratio:>9} |")
    if rd and gd:
        print(f"\nDDP step (4.2 M parameters, 16 MiB of gradients, batch 16): rfab {rd:.1f} ms, gloo {gd:.1f} ms, "
              f"rfab/gloo {rd / gd:.2f} (goal: below 1); the same step without DDP: {rc:.1f} ms (in the rfab runs), "
              f"{gc:.1f} ms (gloo runs), so the step's communication costs rfab {rd - rc:.1f} ms, gloo {gd - gc:.1f} ms")
PY
