#!/usr/bin/env bash
# Side by side, in one run, on one veth pair between two network namespaces (root):
#   transmit: `rfab gen` over DPDK (net_af_packet) against testpmd's txonly loop on the same vdev;
#   receive:  `rfab collect --dpdk-args` against testpmd's rxonly loop (counting packets and bytes), both
#             fed by `rfab gen` at full speed from the other namespace;
# medians of 3 runs each, the ratios, CPU per packet, and the per-packet cost of frame building and
# counting without a device (bench_gen). The reference is bench_dpdk_ref: testpmd's txonly and rxonly
# loops (bulk mbuf allocation, one template frame copied per packet, bursts of 32; rx bursts counted and
# freed) with the same EAL arguments, vdev and frame length. (dpdk-testpmd itself, Debian's `dpdk`
# package, can be run by hand the same way: bench/results/2026-12-06-gen-collect.md shows how.)
#
# usage: scripts/bench-gen.sh [SECONDS=3] [MESSAGE_SIZE=64]      (BUILD=build/release by default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/netns-pair.sh
SECS=${1:-3}
SIZE=${2:-64}
BUILD=${BUILD:-build/release}
RFAB=$BUILD/cli/rfab
REF=$BUILD/bench/bench_dpdk_ref
[[ $EUID -eq 0 ]] || { echo "bench-gen: needs root (network namespaces, AF_PACKET)" >&2; exit 2; }
for b in "$RFAB" "$REF" "$BUILD/bench/bench_gen"; do
  [[ -x $b ]] || { echo "bench-gen: $b not built (cmake --build --preset release)" >&2; exit 2; }
done
A=rfbgA$$ B=rfbgB$$
trap 'netns_remove $A $B' EXIT
netns_pair_up "$A" "$B" 10.79.0 1500
eal() { echo "--no-huge -m 512 --no-pci --no-shconf --log-level=lib.eal:error --file-prefix $1$$ --vdev=net_af_packet0,iface=$1,framecnt=4096"; }
# The frame length of gen's WRITE ONLY of SIZE bytes: Ethernet 14, IPv4 20, UDP 8, BTH 12, RETH 16, ICRC 4.
PAD=$(( (4 - SIZE % 4) % 4 ))
FRAME=$(( 14 + 20 + 8 + 12 + 16 + SIZE + PAD + 4 ))

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
json_field() { python3 -c "import json,sys; print(json.loads([l for l in sys.stdin if l.startswith('{')][-1])$1)"; }
cpu_of() { awk '/^cpu /{print $2 + $3}' "$1"; }  # user + system seconds from /usr/bin/time -f 'cpu %U %S'

# --- transmit ---------------------------------------------------------------------------------------
gen_tx() {
  local out; out=$(/usr/bin/time -f 'cpu %U %S' -o /tmp/bg-time.$$ ip netns exec "$A" "$RFAB" gen \
    --dpdk-args "$(eal "$A")" --duration "${SECS}s" -s "$SIZE" --qps 4 --json 2>/dev/null)
  echo "$(echo "$out" | json_field "['pps']") $(cpu_of /tmp/bg-time.$$) $(echo "$out" | json_field "['packets']")"
}
ref_tx() {
  local out; out=$(/usr/bin/time -f 'cpu %U %S' -o /tmp/bg-time.$$ ip netns exec "$A" "$REF" txonly "$SECS" "$FRAME" \
    "$(eal "$A")" 2>/dev/null)
  echo "$(echo "$out" | json_field "['pps']") $(cpu_of /tmp/bg-time.$$) $(echo "$out" | json_field "['packets']")"
}

# --- receive (gen sends from A for longer than the receiver runs) -------------------------------------
sender() { ip netns exec "$A" "$RFAB" gen --dpdk-args "$(eal "$A")" --duration "$((SECS + 3))s" -s "$SIZE" --qps 4 >/dev/null 2>&1; }
collect_rx() {
  sender & local s=$!
  sleep 1
  local f=/tmp/bg-col.$$
  /usr/bin/time -f 'cpu %U %S' -o /tmp/bg-time.$$ ip netns exec "$B" "$RFAB" collect --dpdk-args "$(eal "$B")" \
    --duration "${SECS}s" --interval "${SECS}s" --json >"$f" 2>/dev/null
  wait $s
  local n; n=$(python3 -c "import json; m=json.loads(open('$f').read().strip().splitlines()[-1])['metrics']; \
print(int(sum(s['value'] for s in m['rfab_iface_roce_packets_total'] if s['labels']['dir']=='rx')))")
  echo "$(echo "$n / $SECS" | bc -l) $(cpu_of /tmp/bg-time.$$) $n"
}
ref_rx() {
  sender & local s=$!
  sleep 1
  local out
  out=$(/usr/bin/time -f 'cpu %U %S' -o /tmp/bg-time.$$ ip netns exec "$B" "$REF" rxonly "$SECS" "$FRAME" "$(eal "$B")" 2>/dev/null)
  wait $s
  echo "$(echo "$out" | json_field "['pps']") $(cpu_of /tmp/bg-time.$$) $(echo "$out" | json_field "['packets']")"
}

declare -A PPS CPUPP
run3() {  # name function
  local rows=() i r
  for i in 1 2 3; do r=$($2); rows+=("$r"); echo "  $1 run $i: $r (pps cpu_s packets)" >&2; done
  PPS[$1]=$(printf '%s\n' "${rows[@]}" | awk '{print $1}' | median)
  CPUPP[$1]=$(printf '%s\n' "${rows[@]}" | awk '$3 > 0 {printf "%.0f\n", $2 / $3 * 1e9}' | median)
}
REFNAME=bench_dpdk_ref
echo "bench-gen: ${SECS}s per run, WRITE ONLY of $SIZE bytes = $FRAME-byte frames, reference $REFNAME" >&2
run3 gen gen_tx
run3 txonly ref_tx
run3 collect collect_rx
run3 rxonly ref_rx

echo
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "device: net_af_packet (TPACKET ring, framecnt=4096) on a veth pair, $FRAME-byte frames; reference: $REFNAME"
printf '%-28s %14s %14s %8s\n' "" "packets/s" "CPU ns/packet" "ratio"
printf '%-28s %14.0f %14s %8s\n' "rfab gen" "${PPS[gen]}" "${CPUPP[gen]}" "$(echo "${PPS[gen]} / ${PPS[txonly]}" | bc -l | cut -c1-5)"
printf '%-28s %14.0f %14s %8s\n' "$REFNAME txonly" "${PPS[txonly]}" "${CPUPP[txonly]}" "1"
printf '%-28s %14.0f %14s %8s\n' "rfab collect --dpdk-args" "${PPS[collect]}" "${CPUPP[collect]}" "$(echo "${PPS[collect]} / ${PPS[rxonly]}" | bc -l | cut -c1-5)"
printf '%-28s %14.0f %14s %8s\n' "$REFNAME rxonly" "${PPS[rxonly]}" "${CPUPP[rxonly]}" "1"
echo
echo "without a device (bench_gen: CPU per frame of building / counting):"
"$BUILD/bench/bench_gen" --benchmark_format=console 2>/dev/null | grep BM_
