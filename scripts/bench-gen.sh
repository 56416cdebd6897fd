#!/usr/bin/env bash
# Side by side, in one run, on one veth pair between two network namespaces (root), against the real
# dpdk-testpmd (package dpdk-dev):
#   transmit: `rfab gen --dpdk-args` against `dpdk-testpmd --forward-mode=txonly`, alone in namespace A, on
#             net_af_packet over A's end of the veth, the same frame length and headers;
#   receive:  `rfab collect --dpdk-args` against `dpdk-testpmd --forward-mode=rxonly` in namespace B, both
#             fed by the same sender (`rfab gen` at full speed in A).
# Every tool is measured the same way: it is started, left WARM seconds to set up, then its packets and
# its CPU are read at the start and at the end of a window of SECS seconds while it runs, and it is stopped
# (SIGINT) afterwards. Packets sent are the veth's own counter in A (tx_packets + tx_dropped: every frame
# the tool handed the kernel); packets received are the tool's DPDK port counter (ipackets, read over the
# EAL's telemetry socket, the same call for both receivers) next to what arrived on the veth in B. CPU is
# the tool's user and system time from /proc/PID/stat, plus the machine's softirq time (/proc/stat), where
# the veth's receive side runs when it is not charged to the sender. The tools alternate, RUNS runs each;
# the tables show medians. The per-frame cost of frame building and counting without a device (bench_gen)
# is printed beside.
#
# usage: scripts/bench-gen.sh [SECONDS=3] [MESSAGE_SIZE=64] [RUNS=3]   (BUILD=build/release, WARM=1.5,
#        GEN_BURST=32: the burst of the rfab gen that is measured; testpmd's stays 32, so only 32 compares
#        like with like; the sender of the receive rows keeps gen's default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/netns-pair.sh
SECS=${1:-3}
SIZE=${2:-64}
RUNS=${3:-3}
WARM=${WARM:-1.5}
GEN_BURST=${GEN_BURST:-32}
BUILD=${BUILD:-build/release}
RFAB=$BUILD/cli/rfab
TESTPMD=${TESTPMD:-$(command -v dpdk-testpmd || true)}
[[ $EUID -eq 0 ]] || { echo "bench-gen: needs root (network namespaces, AF_PACKET)" >&2; exit 2; }
for b in "$RFAB" "$BUILD/bench/bench_gen"; do
  [[ -x $b ]] || { echo "bench-gen: $b not built (cmake --build --preset release)" >&2; exit 2; }
done
[[ -x $TESTPMD ]] || { echo "bench-gen: dpdk-testpmd not found (package dpdk-dev; or TESTPMD=path)" >&2; exit 2; }
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 && $RUNS =~ ^[0-9]+$ && $RUNS -ge 1 ]] ||
  { echo "bench-gen: SECONDS and RUNS must be whole numbers >= 1" >&2; exit 2; }
[[ $GEN_BURST =~ ^[0-9]+$ && $GEN_BURST -ge 1 && $GEN_BURST -le 4096 ]] ||
  { echo "bench-gen: GEN_BURST must be a whole number from 1 to 4096" >&2; exit 2; }
[[ $SIZE =~ ^[0-9]+$ && $SIZE -ge 1 && $SIZE -le 1024 ]] ||
  { echo "bench-gen: MESSAGE_SIZE must be 1..1024 (one packet per message at the 1024-byte MTU)" >&2; exit 2; }

A=rfbgA$$ B=rfbgB$$
# One EAL runtime directory (with its telemetry socket) per role, removed at the end.
PREFIXES=(gtx$$ ttx$$ snd$$ col$$ trx$$)
TMP=$(mktemp -d /tmp/bench-gen.XXXXXX)
cleanup() {
  netns_remove "$A" "$B"
  local p
  for p in "${PREFIXES[@]}"; do rm -rf "/var/run/dpdk/$p"; done
  rm -rf "$TMP"
}
trap cleanup EXIT
netns_pair_up "$A" "$B" 10.79.0 1500

# EAL arguments for a tool on interface $1 with runtime directory $2 (one of PREFIXES) on lcores (CPUs) $3.
# Placement is the same for every tool: the packet loop on CPU 1 (testpmd forwards on its second lcore,
# its first only prints statistics), the sender of the receive runs on CPU 0, so sender and receiver
# never share a CPU.
eal() {
  echo "--no-huge -m 512 --no-pci --no-shconf --log-level=lib.eal:error -l $3 --file-prefix $2 --vdev=net_af_packet0,iface=$1,framecnt=4096"
}
# The frame length of gen's WRITE ONLY of SIZE bytes: Ethernet 14, IPv4 20, UDP 8, BTH 12, RETH 16, ICRC 4.
PAD=$(( (4 - SIZE % 4) % 4 ))
FRAME=$(( 14 + 20 + 8 + 12 + 16 + SIZE + PAD + 4 ))
# testpmd's frames get gen's Ethernet and IP/UDP addresses, so the kernel on the far side treats both alike
# (a destination MAC that is not the peer's: dropped early, as for any frame not for that host).
TESTPMD_TX=(--forward-mode=txonly "--txpkts=$FRAME" --burst=32 --total-num-mbufs=8191 "--eth-peer=0,02:00:00:00:00:02"
            "--tx-ip=10.0.0.1,10.0.0.2" "--tx-udp=49152,4791" --stats-period 1)
TESTPMD_RX=(--forward-mode=rxonly --burst=32 --total-num-mbufs=8191 --stats-period 1)
GEN_ARGS=(-s "$SIZE" --qps 4)

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }                      # user, system clock ticks
softirq() { awk '/^cpu /{print $8}' /proc/stat; }                         # all CPUs, clock ticks
HZ=$(getconf CLK_TCK)
sent_count() { echo $(( $(ip netns exec "$A" cat /sys/class/net/$A/statistics/tx_packets) + \
                        $(ip netns exec "$A" cat /sys/class/net/$A/statistics/tx_dropped) )); }
arrived_count() { ip netns exec "$B" cat "/sys/class/net/$B/statistics/rx_packets"; }
# ipackets of port 0 of the EAL with runtime directory $1, over its telemetry socket.
ipackets() {
  python3 - "/var/run/dpdk/$1/dpdk_telemetry.v2" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(4096)  # the greeting
s.send(b"/ethdev/stats,0")
print(json.loads(s.recv(65536))["/ethdev/stats"]["ipackets"])
EOF
}
# wait_ready PREFIX PID: until the EAL's telemetry socket answers (the port is started by then).
wait_ready() {
  local i
  for i in $(seq 100); do
    kill -0 "$2" 2>/dev/null || { echo "bench-gen: a tool exited early; its output: $(cat "$TMP/out")" >&2; exit 1; }
    ipackets "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench-gen: no telemetry from $1 after 10 s" >&2
  exit 1
}
stop() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# window PID COUNTER: after WARM, prints "packets user_ticks sys_ticks softirq_ticks [arrived]" of a window
# of SECS seconds, COUNTER (a function) giving the packet count; for a receiver the veth's arrivals too.
window() {
  local pid=$1 counter=$2 n0 n1 t0 t1 s0 s1 a0 a1
  sleep "$WARM"
  kill -0 "$pid" 2>/dev/null || { echo "bench-gen: a tool exited early; its output: $(cat "$TMP/out")" >&2; exit 1; }
  n0=$($counter) t0=$(ticks "$pid") s0=$(softirq) a0=$(arrived_count)
  sleep "$SECS"
  n1=$($counter) t1=$(ticks "$pid") s1=$(softirq) a1=$(arrived_count)
  read -r u0 y0 <<<"$t0"
  read -r u1 y1 <<<"$t1"
  echo "$((n1 - n0)) $((u1 - u0)) $((y1 - y0)) $((s1 - s0)) $((a1 - a0))"
}

# --- transmit: the tool alone in A ------------------------------------------------------------------------
gen_tx() {
  ip netns exec "$A" "$RFAB" gen --dpdk-args "$(eal "$A" gtx$$ 1)" --duration "$((SECS + 10))s" "${GEN_ARGS[@]}" --burst "$GEN_BURST" \
    >"$TMP/out" 2>&1 & local p=$!
  wait_ready gtx$$ $p
  window $p sent_count
  stop $p
}
testpmd_tx() {
  local args
  read -ra args <<<"$(eal "$A" ttx$$ 0,1)"
  ip netns exec "$A" "$TESTPMD" "${args[@]}" -- "${TESTPMD_TX[@]}" >"$TMP/out" 2>&1 & local p=$!
  wait_ready ttx$$ $p
  window $p sent_count
  stop $p
}

# --- receive: the receiver in B, `rfab gen` sending from A all along ------------------------------------------
sender_up() {
  ip netns exec "$A" "$RFAB" gen --dpdk-args "$(eal "$A" snd$$ 0)" --duration "$((SECS + 20))s" "${GEN_ARGS[@]}" \
    >/dev/null 2>&1 & SENDER=$!
  wait_ready snd$$ $SENDER
}
rx_count() { ipackets "$RX_PREFIX"; }
collect_rx() {
  RX_PREFIX=col$$
  ip netns exec "$B" "$RFAB" collect --dpdk-args "$(eal "$B" $RX_PREFIX 1)" --interval 1h --json >"$TMP/col" 2>"$TMP/out" &
  local p=$!
  wait_ready $RX_PREFIX $p
  sender_up
  window $p rx_count
  stop $p
  stop $SENDER
  # The collector's own count (its JSON at exit) has to cover what its port took: counting is on.
  python3 - "$TMP/col" <<'EOF' >&2
import json, sys
m = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["metrics"]
n = int(sum(s["value"] for s in m["rfab_iface_roce_packets_total"] if s["labels"]["dir"] == "rx"))
print(f"    (rfab collect counted {n} RoCE packets in all)")
EOF
}
testpmd_rx() {
  RX_PREFIX=trx$$
  local args
  read -ra args <<<"$(eal "$B" $RX_PREFIX 0,1)"
  ip netns exec "$B" "$TESTPMD" "${args[@]}" -- "${TESTPMD_RX[@]}" >"$TMP/out" 2>&1 & local p=$!
  wait_ready $RX_PREFIX $p
  sender_up
  window $p rx_count
  stop $p
  stop $SENDER
}

declare -A PPS USER SYS SIRQ TAKEN BUSY
measure() {  # name function: one run; appends "pps user_ns sys_ns softirq_ns taken busy" to $TMP/name
  local r n u y s a
  r=$($2)
  read -r n u y s a <<<"$r"
  echo "  $1: $n packets in ${SECS}s, user $u sys $y softirq $s ticks, $a arrived on the veth in B" >&2
  awk -v n="$n" -v u="$u" -v y="$y" -v s="$s" -v a="$a" -v secs="$SECS" -v hz="$HZ" 'BEGIN {
    f = 1e9 / hz / (n > 0 ? n : 1)
    printf "%.0f %.0f %.0f %.0f %.3f %.0f\n", n / secs, u * f, y * f, s * f, (a > 0 ? n / a : 0), (u + y) * 100 / hz / secs }' >>"$TMP/$1"
}
summarise() {  # name
  PPS[$1]=$(awk '{print $1}' "$TMP/$1" | median)
  USER[$1]=$(awk '{print $2}' "$TMP/$1" | median)
  SYS[$1]=$(awk '{print $3}' "$TMP/$1" | median)
  SIRQ[$1]=$(awk '{print $4}' "$TMP/$1" | median)
  TAKEN[$1]=$(awk '{print $5}' "$TMP/$1" | median)
  BUSY[$1]=$(awk '{print $6}' "$TMP/$1" | median)
}

echo "bench-gen: WRITE ONLY of $SIZE bytes = $FRAME-byte frames, ${SECS}s windows after ${WARM}s, $RUNS runs each, tools alternating" >&2
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$RUNS"); do
  echo "run $i" >&2
  measure gen gen_tx
  measure txonly testpmd_tx
  measure collect collect_rx
  measure rxonly testpmd_rx
done
for n in gen txonly collect rxonly; do summarise $n; done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}'; }
row() {  # label name reference-name
  printf '| %-34s | %10s | %6s | %6s | %7s | %4s%% | %6s | %5s |\n' "$1" "${PPS[$2]}" "${USER[$2]}" "${SYS[$2]}" "${SIRQ[$2]}" "${BUSY[$2]}" \
    "$( [[ $2 == gen || $2 == txonly ]] && echo - || echo "${TAKEN[$2]}")" "$(ratio "${PPS[$2]}" "${PPS[$3]}")"
}
echo
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r), load $LOAD0 before, $LOAD1 after"
echo "device: net_af_packet (TPACKET ring, framecnt=4096) on a veth pair (MTU 1500), $FRAME-byte frames, medians of $RUNS"
echo "CPU columns: ns per packet of the tool's user and system time and of the machine's softirq time;"
echo "busy: the tool's user + system time in % of one CPU (100%: the tool's CPU is the limit)"
echo
echo "| | packets/s | user | sys | softirq | busy | taken | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row "rfab gen --dpdk-args$([[ $GEN_BURST == 32 ]] || echo " --burst $GEN_BURST")" gen txonly
row "dpdk-testpmd txonly" txonly txonly
row "rfab collect --dpdk-args" collect rxonly
row "dpdk-testpmd rxonly" rxonly rxonly
echo
echo "(taken: the receiver's packets over those that arrived on the veth in B in the same window)"
echo
echo "without a device (bench_gen: CPU per frame of building, of the whole send loop (BM_GenRun: per"
echo "iteration of 65536 frames) and of counting):"
"$BUILD/bench/bench_gen" --benchmark_format=console 2>/dev/null | grep BM_
