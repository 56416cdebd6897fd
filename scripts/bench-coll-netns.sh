#!/usr/bin/env bash
# Collectives between two "hosts" = two network namespaces on one veth pair (MTU 9000), one rank in each,
# side by side in one run: rfab (RoCE v2: rfab's RC engine over kernel UDP), OpenMPI over TCP
# (`--mca btl tcp,self`) and Gloo over TCP. busbw per size and the ratio of rfab to the better of the two.
# Needs root.
#
# Usage: scripts/bench-coll-netns.sh [BUILD_DIR] [MIN] [MAX] [ITERS]     e.g. build/release 1M 256M 10
# Environment: COLLS (default "allreduce"; Gloo runs allreduce, allgather, broadcast), JSON=file (raw rows),
# REPEAT (default 3): the three are run in turn REPEAT times and each figure is the median of its runs, so
# a burst of load on a shared machine moves one run, not the table.
#
# How OpenMPI reaches ranks in namespaces: mpirun's ranks talk to their launcher over PMIx on 127.0.0.1,
# which a rank inside another namespace cannot reach. So mpirun treats each namespace as a remote host:
# a tiny rsh agent runs the OpenMPI daemon with `ip netns exec <ns>` (as ssh would on a real host), the
# daemon reaches mpirun over an extra veth from the root namespace, and every rank gets a PMIx server in
# its own namespace. The data path is then OpenMPI's TCP BTL over the same veth rfab and Gloo use.
set -euo pipefail
BUILD=${1:-build/release}
MIN=${2:-1M}
MAX=${3:-256M}
ITERS=${4:-10}
COLLS=${COLLS:-allreduce}
REPEAT=${REPEAT:-3}
BUILD=$(cd "$BUILD" && pwd)
RFAB="$BUILD/cli/rfab"
MPI_BIN="$BUILD/bench/bench_coll_mpi"
GLOO_BIN="$BUILD/bench/bench_coll_gloo"
[ -x "$RFAB" ] || { echo "bench-coll-netns: $RFAB not built" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench-coll-netns: needs root (network namespaces)" >&2; exit 2; }

TAG="rbn$$"
NS=("${TAG}a" "${TAG}b")
S=$(( $$ % 250 + 1 ))
DATA="10.80.$S"  # the veth between the two namespaces: .1 and .2
OUT=$(mktemp -d /tmp/rfab-bench-coll-netns.XXXXXX)
source "$(dirname "$0")/lib/netns-pair.sh"
cleanup() {
  netns_remove "${NS[@]}"
  ip link del "${TAG}r0" 2>/dev/null || true
  ip link del "${TAG}r1" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_pair_up "${NS[0]}" "${NS[1]}" "$DATA"
for i in 0 1; do
  ns=${NS[$i]}
  # Control link root <-> namespace, only for mpirun's daemons (10.81.S.x and 10.82.S.x).
  ip link add "${TAG}r$i" type veth peer name "${TAG}c$i" netns "$ns"
  ip addr add "10.8$((i + 1)).$S.1/24" dev "${TAG}r$i"
  ip link set "${TAG}r$i" up
  ip -n "$ns" addr add "10.8$((i + 1)).$S.2/24" dev "${TAG}c$i"
  ip -n "$ns" link set "${TAG}c$i" up
done
echo "# ${NS[0]} ($DATA.1) <-veth MTU 9000-> ${NS[1]} ($DATA.2); load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

run_rfab() {  # collective
  local port=$(( 20000 + RANDOM % 20000 ))
  local common=(MASTER_ADDR="$DATA.1" MASTER_PORT="$port" WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 LOCAL_RANK=0)
  ip netns exec "${NS[1]}" env "${common[@]}" RANK=1 RFAB_HOSTNAME="${NS[1]}" \
    timeout -s KILL 600 "$RFAB" coll "$1" -b "$MIN" -e "$MAX" -f 2 -n "$ITERS" -w 3 -c 0 --json >/dev/null 2>"$OUT/rfab1.err" &
  local pid=$!
  ip netns exec "${NS[0]}" env "${common[@]}" RANK=0 RFAB_HOSTNAME="${NS[0]}" \
    timeout -s KILL 600 "$RFAB" coll "$1" -b "$MIN" -e "$MAX" -f 2 -n "$ITERS" -w 3 -c 0 --json >"$OUT/rfab-$1.$RUN.json" \
    2>"$OUT/rfab0.err" || { echo "rfab $1 failed: $(tail -3 "$OUT/rfab0.err")" >&2; : >"$OUT/rfab-$1.$RUN.json"; }
  wait "$pid" || echo "rfab rank 1 ($1) failed: $(tail -3 "$OUT/rfab1.err")" >&2
}

run_mpi() {
  [ -x "$MPI_BIN" ] && command -v mpirun >/dev/null || return 0
  cat >"$OUT/nsrsh" <<'EOF'
#!/bin/sh
# rsh agent for mpirun: the "host" is a network namespace on the local machine.
while [ "${1#-}" != "$1" ]; do shift; done
host=$1; shift
exec ip netns exec "$host" sh -c "$*"
EOF
  chmod +x "$OUT/nsrsh"
  printf '%s slots=1\n%s slots=1\n' "${NS[0]}" "${NS[1]}" >"$OUT/hosts"
  # mpirun's daemons now and then fail to call back over the control links ("set the MCA param
  # routed=direct"): a failed launch of the peer is retried, up to three attempts in all.
  local attempt
  for attempt in 1 2 3; do
    timeout -s KILL 600 mpirun --allow-run-as-root --bind-to none -np 2 --hostfile "$OUT/hosts" \
      --mca plm_rsh_agent "$OUT/nsrsh" --mca oob_tcp_if_include "10.81.$S.0/24,10.82.$S.0/24" \
      --mca btl tcp,self --mca btl_tcp_if_include "$DATA.0/24" \
      "$MPI_BIN" "$1" -b "$MIN" -e "$MAX" -f 2 -n "$ITERS" -w 3 >"$OUT/mpi-$1.$RUN.json" 2>"$OUT/mpi-$1.err" && return 0
    echo "openmpi $1 failed (attempt $attempt of 3): $(tail -3 "$OUT/mpi-$1.err")" >&2
  done
  : >"$OUT/mpi-$1.$RUN.json"
}

run_gloo() {
  [ -x "$GLOO_BIN" ] || return 0
  [[ "$1" == allreduce || "$1" == allgather || "$1" == broadcast ]] || return 0
  local dir="$OUT/gloo-$1.$RUN"  # Gloo's file store refuses keys left by an earlier run
  mkdir -p "$dir"
  ip netns exec "${NS[1]}" env RANK=1 WORLD_SIZE=2 GLOO_STORE_DIR="$dir" GLOO_HOSTNAME="$DATA.2" \
    timeout -s KILL 600 "$GLOO_BIN" "$1" -b "$MIN" -e "$MAX" -f 2 -n "$ITERS" -w 3 >/dev/null 2>"$OUT/gloo1.err" &
  local pid=$!
  ip netns exec "${NS[0]}" env RANK=0 WORLD_SIZE=2 GLOO_STORE_DIR="$dir" GLOO_HOSTNAME="$DATA.1" \
    timeout -s KILL 600 "$GLOO_BIN" "$1" -b "$MIN" -e "$MAX" -f 2 -n "$ITERS" -w 3 >"$OUT/gloo-$1.$RUN.json" 2>"$OUT/gloo0.err" \
    || { echo "gloo $1 failed: $(tail -3 "$OUT/gloo0.err")" >&2; : >"$OUT/gloo-$1.$RUN.json"; }
  wait "$pid" || true
}

for RUN in $(seq 1 "$REPEAT"); do
  for c in $COLLS; do
    echo "== run $RUN/$REPEAT, $c: rfab (RoCE/UDP)" >&2
    run_rfab "$c"
    echo "== run $RUN/$REPEAT, $c: openmpi (TCP)" >&2
    run_mpi "$c"
    echo "== run $RUN/$REPEAT, $c: gloo (TCP)" >&2
    run_gloo "$c"
  done
done

# The machine's limits beside the figures: one thread's memcpy, and TCP over this veth (iperf3, 1 stream).
if [ -x "$BUILD/bench/bench_memcpy" ]; then echo "# machine: $("$BUILD/bench/bench_memcpy")"; fi
if command -v iperf3 >/dev/null; then
  ip netns exec "${NS[0]}" iperf3 -s -D -1 -p 5299 --logfile "$OUT/iperf-s.log"; sleep 0.3
  tcp=$(ip netns exec "${NS[1]}" iperf3 -c "$DATA.1" -p 5299 -t 2 -J 2>/dev/null |
        python3 -c "import json,sys; print('%.2f' % (json.load(sys.stdin)['end']['sum_received']['bits_per_second']/8e9))" 2>/dev/null || echo "?")
  echo "# TCP baseline on this veth: iperf3, 1 stream, $tcp GB/s"
fi
python3 - "$OUT" "${JSON:-}" "$REPEAT" $COLLS <<'PY'
import json, os, statistics, sys
out, jpath, repeat, colls = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
# Per size: (time_us, busbw_GBps, cpu_user_us, cpu_sys_us), the CPU figures per call and per rank.
def fields(r): return (r["time_us"], r["busbw_GBps"], r.get("cpu_user_us", 0), r.get("cpu_sys_us", 0))
def rows_one(path):
    res = {}
    if not os.path.exists(path): return res
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"): continue
        j = json.loads(line)
        if "rows" in j:  # rfab coll --json
            for r in j["rows"]:
                res[r["size"]] = fields(r["out_of_place"])
        else:
            res[j["size"]] = fields(j)
    return res
def rows(tool, c):  # median over the runs that produced the size, field by field
    per = {}
    for run in range(1, repeat + 1):
        for size, v in rows_one(f"{out}/{tool}-{c}.{run}.json").items():
            per.setdefault(size, []).append(v)
    return {s: tuple(statistics.median(x[k] for x in v) for k in range(4)) for s, v in per.items()}
def cpu(v): return f"{v[2]:.0f}+{v[3]:.0f}" if v[0] else "-"
raw = []
for c in colls:
    r, m, g = rows("rfab", c), rows("mpi", c), rows("gloo", c)
    print(f"# {c}, 2 ranks in 2 network namespaces, float sum, out-of-place busbw (GB/s), median of {repeat} runs")
    print("# CPU: microseconds of CPU per call and rank, user+kernel (getrusage over the timed loop). With both")
    print("# cores busy, CPU per call bounds the call rate: the kernel share is what the socket layer costs.")
    print(f"# {'size':>11} {'rfab RoCE':>10} {'OpenMPI TCP':>12} {'Gloo TCP':>9} {'rfab/best':>10} | "
          f"{'CPU rfab':>10} {'OpenMPI':>10} {'Gloo':>10}")
    zero = (0, 0, 0, 0)
    for size in sorted(r):
        rv, mv, gv = r[size], m.get(size, zero), g.get(size, zero)
        best = max(mv[1], gv[1])
        ratio = f"{rv[1] / best:9.2f}x" if best else "         -"
        print(f"  {size:>11} {rv[1]:>10.3f} {mv[1]:>12.3f} {gv[1]:>9.3f} {ratio:>10} | "
              f"{cpu(rv):>10} {cpu(mv):>10} {cpu(gv):>10}")
        raw.append({"collective": c, "size": size, "rfab": rv[1], "openmpi_tcp": mv[1], "gloo_tcp": gv[1],
                    "cpu_us_user_sys": {"rfab": rv[2:], "openmpi_tcp": mv[2:], "gloo_tcp": gv[2:]}})
    print()
if jpath:
    json.dump(raw, open(jpath, "w"), indent=1)
PY
