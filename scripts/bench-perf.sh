#!/usr/bin/env bash
# Side-by-side bandwidth: `rfab perf write` (user-space RoCE v2 over kernel UDP) against iperf3 TCP, on the
# same veth pair between two network namespaces, in one run. Prints Gb/s, the ratio to iperf3's single
# stream, packets/s and CPU cycles per RoCE packet (both rfab processes' CPU time x the nominal clock).
#
#   scripts/bench-perf.sh [path/to/rfab]      (root; env: DURATION=seconds per run, default 3;
#                                              SIZES="64K 256K 1M 4M"; QPS="1 8"; MTU=4096; JSON=out.json;
#                                              RFAB_ARGS="--no-gather" extra options for both rfab sides;
#                                              DATAPATHS="udp afxdp dpdk" packet datapaths to compare, default
#                                              udp; afxdp and dpdk carry RoCE MTU 2048 at most, so MTU is
#                                              lowered to 2048 for them; dpdk runs net_af_packet on each veth)
set -euo pipefail

RFAB=${1:-$(dirname "$0")/../build/release/cli/rfab}
DURATION=${DURATION:-3}
SIZES=${SIZES:-"64K 256K 1M 4M"}
QPS=${QPS:-"1 8"}
MTU=${MTU:-4096}
DATAPATHS=${DATAPATHS:-udp}
RFAB_ARGS=${RFAB_ARGS:-}
[ "$(id -u)" -eq 0 ] || { echo "bench-perf: needs root (network namespaces)" >&2; exit 2; }
[ -x "$RFAB" ] || { echo "bench-perf: rfab binary not found at $RFAB (build it, or pass its path)" >&2; exit 2; }
command -v iperf3 >/dev/null || { echo "bench-perf: iperf3 missing (apt-get install iperf3)" >&2; exit 2; }

source "$(dirname "$0")/lib/netns-pair.sh"
A="rfu$$-ba"; B="rfu$$-bb"; IPA=10.79.1.1; IPB=10.79.1.2
TMP=$(mktemp -d)
cleanup() {
  [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null || true
  netns_remove "$A" "$B"
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

netns_pair_up "$A" "$B" 10.79.1
# A packet socket (dpdk's net_af_packet) would see veth's GSO super-packets: segment in software, as in
# front of a NIC. Only when dpdk is compared, so udp-only runs measure what they always did.
case " $DATAPATHS " in *" dpdk "*)
  for ns in "$A" "$B"; do ip netns exec "$ns" ethtool -K "$ns" tx-udp-segmentation off >/dev/null; done ;;
esac
# Options of datapath $1 for the side whose veth is $2.
dp_args() {
  case "$1" in
    udp) echo "--datapath udp" ;;
    afxdp) echo "--datapath afxdp" ;;
    dpdk) echo "--datapath dpdk --dpdk-args --no-huge__-m__512__--no-pci__--no-shconf__--log-level=lib.eal:error__--vdev=net_af_packet0,iface=$2,framesz=4096,blocksz=4096,framecnt=4096" ;;
    *) echo "bench-perf: unknown datapath '$1' (udp, afxdp, dpdk)" >&2; exit 2 ;;
  esac
}
# Runs rfab with the dp_args words (double underscores stand for the spaces inside --dpdk-args) and
# writes its user and system CPU seconds (the whole process) to file $1.
timed() {
  local out=$1; shift
  local args=()
  for w in "$@"; do args+=("${w//__/ }"); done
  /usr/bin/time -f "%U %S" -o "$out" "${args[@]}"
}

MHZ=$(awk -F: '/^cpu MHz/ {print $2; exit}' /proc/cpuinfo | tr -d ' ')
MHZ=${MHZ:-1000}
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# iperf3 TCP, 1 and 4 streams.
ip netns exec "$A" iperf3 -s -D -1 -p 5201 --logfile "$TMP/iperf-s1.log"; sleep 0.3
ip netns exec "$B" iperf3 -c $IPA -p 5201 -t "$DURATION" -J > "$TMP/iperf1.json"
IPERF1=$(jget "$TMP/iperf1.json" "d['end']['sum_received']['bits_per_second']/1e9")
ip netns exec "$A" iperf3 -s -D -1 -p 5202 --logfile "$TMP/iperf-s4.log"; sleep 0.3
ip netns exec "$B" iperf3 -c $IPA -p 5202 -t "$DURATION" -P 4 -J > "$TMP/iperf4.json"
IPERF4=$(jget "$TMP/iperf4.json" "d['end']['sum_received']['bits_per_second']/1e9")

printf "%s\n" "------------------------------------------------------------------------------------------------"
printf " veth pair, MTU 9000, %s s per run, CPU %s MHz (%s cores)\n" "$DURATION" "$MHZ" "$(nproc)"
printf " iperf3 TCP 1 stream: %.2f Gb/s   4 streams: %.2f Gb/s\n" "$IPERF1" "$IPERF4"
MEMCPY_BIN="$(dirname "$RFAB")/../bench/bench_memcpy"
[ -x "$MEMCPY_BIN" ] && printf " machine: %s\n" "$("$MEMCPY_BIN")"
printf "%s\n" "------------------------------------------------------------------------------------------------"
printf " %-6s %-8s %-4s %-6s %10s %9s %9s %9s %13s %9s %9s %8s\n" "path" "#bytes" "qps" "mtu" "rfab[Gb/s]" "x iperf1" \
  "x iperf4" "Mpkt/s" "cycles/packet" "usr ns/pk" "sys ns/pk" "verified"
RESULTS="[]"
for dp in $DATAPATHS; do
 mtu=$MTU
 [ "$dp" != udp ] && [ "$mtu" -gt 2048 ] && mtu=2048
 for qps in $QPS; do
  for size in $SIZES; do
    timed "$TMP/srv.time" ip netns exec "$A" "$RFAB" perf write --server --json $(dp_args "$dp" "$A") $RFAB_ARGS \
      > "$TMP/srv.json" 2> "$TMP/srv.err" & SRV=$!
    sleep 0.5  # the server is up before the client connects (a DPDK server starts its EAL first)
    if ! timed "$TMP/cli.time" ip netns exec "$B" "$RFAB" perf write $IPA --json -s "$size" -q "$qps" -m "$mtu" \
         -D "$DURATION" $(dp_args "$dp" "$B") $RFAB_ARGS > "$TMP/cli.json" 2> "$TMP/cli.err"; then
      echo " $size x $qps QPs failed: $(cat "$TMP/cli.err")" >&2
      wait "$SRV" || true; SRV=""; continue
    fi
    wait "$SRV" || true; SRV=""
    read -r GBPS PKTS SECS CPU OK BYTES USR SYS < <(python3 - "$TMP/cli.json" "$TMP/srv.json" "$TMP/cli.time" "$TMP/srv.time" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
pk = c["tx_packets"] + s["tx_packets"]   # data packets one way plus ACKs/responses the other way
# user/system seconds of both whole processes (set-up included) from /usr/bin/time
t = [list(map(float, open(f).read().split()[-2:])) for f in sys.argv[3:5]]
print(c["bw_avg_gbps"], pk, c["seconds"], c["cpu_seconds"] + s["cpu_seconds"], c["verified"] and s["verified"], c["bytes"],
      t[0][0] + t[1][0], t[0][1] + t[1][1])
PY
)
    python3 - "$GBPS" "$IPERF1" "$IPERF4" "$PKTS" "$SECS" "$CPU" "$MHZ" "$OK" "$BYTES" "$qps" "$mtu" "$dp" "$USR" "$SYS" <<'PY'
import sys
g, i1, i4, pk, secs, cpu, mhz = map(float, sys.argv[1:8])
ok, b, q, mtu, dp = sys.argv[8], int(sys.argv[9]), sys.argv[10], sys.argv[11], sys.argv[12]
usr, sys_ = float(sys.argv[13]), float(sys.argv[14])
pps = pk / secs / 1e6 if secs > 0 else 0
cyc = cpu * mhz * 1e6 / pk if pk else 0
print(f" {dp:<6} {b:<8} {q:<4} {mtu:<6} {g:10.2f} {g/i1:9.2f} {g/i4:9.2f} {pps:9.3f} {cyc:13.0f} "
      f"{usr * 1e9 / pk if pk else 0:9.2f} {sys_ * 1e9 / pk if pk else 0:9.2f} {ok:>8}")
PY
    RESULTS=$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); j=json.load(open(sys.argv[2])); j['datapath_name']=sys.argv[3]; r.append(j); print(json.dumps(r))" "$RESULTS" "$TMP/cli.json" "$dp")
  done
 done
done
printf "%s\n" "------------------------------------------------------------------------------------------------"
if [ -n "${JSON:-}" ]; then
  python3 -c "import json,sys; json.dump({'iperf3_1_gbps': float(sys.argv[1]), 'iperf3_4_gbps': float(sys.argv[2]), 'rfab': json.loads(sys.argv[3])}, open(sys.argv[4], 'w'), indent=1)" \
    "$IPERF1" "$IPERF4" "$RESULTS" "$JSON"
  echo " JSON written to $JSON"
fi
