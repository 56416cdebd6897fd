#!/usr/bin/env bash
# The main job (`make demo`): each face of rfab end to end on one machine, pcaps first, then two network
# namespaces as two hosts (root).
set -euo pipefail
BUILD=${1:-build/release}
RFAB="$BUILD/cli/rfab"
WORK=$(mktemp -d /tmp/rfab-demo.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Build RoCE v2 traffic with rfab's encoder (every opcode; IPv4, IPv6, VLAN) into pcaps"
"$RFAB" synth "$WORK/v4.pcap" --rounds 2
"$RFAB" synth "$WORK/v6.pcap" --ipv6
"$RFAB" synth "$WORK/vlan.pcap" --vlan 100

step "2. Decode them and verify every ICRC"
"$RFAB" decode "$WORK/v4.pcap" --verify-icrc --count 12
"$RFAB" decode "$WORK/v6.pcap" --verify-icrc --quiet
"$RFAB" decode "$WORK/vlan.pcap" --verify-icrc --quiet

step "3. The same packets as Wireshark sees them (tshark), for comparison"
tshark -n -r "$WORK/v4.pcap" -c 6 2>/dev/null || true

step "4. A corrupted packet is caught (exit code 1 expected)"
"$RFAB" synth "$WORK/bad.pcap" --corrupt-every 10
set +e
"$RFAB" decode "$WORK/bad.pcap" --verify-icrc --quiet
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "demo: expected exit 1 for corrupted ICRCs, got $rc"; exit 1; }
echo "exit code $rc: corrupted ICRCs detected"

[ "$(id -u)" -eq 0 ] || { echo "demo: the rest needs root (network namespaces, eBPF); run: sudo make demo" >&2; exit 2; }

# Two "hosts": network namespaces joined by a veth pair (MTU 9000), removed on exit, also on failure.
source "$(dirname "$0")/lib/netns-pair.sh"
TAG="rfd$$"; NSA="${TAG}a"; NSB="${TAG}b"; NET=10.78.$(( $$ % 250 + 1 )); IPA=$NET.1; IPB=$NET.2
cleanup() {
  netns_remove "$NSA" "$NSB"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
netns_pair_up "$NSA" "$NSB" "$NET"
A() { ip netns exec "$NSA" "$@"; }
B() { ip netns exec "$NSB" "$@"; }

step "5. rfab doctor on host A ($NSA, $IPA): no RNIC here, so rfab's user-space RoCE is what runs"
A "$RFAB" doctor

step "6. rfab perf write A -> B over user-space RoCE v2 (UDP 4791), gated by rfab validate (eBPF tc) on B"
B "$RFAB" validate --iface "$NSB" --hook tc --duration 4s --min-gbps 1 --max-loss 0 --max-naks 0 \
  > "$WORK/validate.txt" 2>&1 & VALIDATE=$!
B "$RFAB" perf write --server > "$WORK/perf-server.txt" 2>&1 & SERVER=$!
# Traffic starts once the collector is attached (verifying the tc programs takes a few seconds).
for _ in $(seq 300); do grep -q "measuring" "$WORK/validate.txt" 2>/dev/null && break; sleep 0.1; done
A "$RFAB" perf write "$IPB" -s 1M -q 2 -D 2
wait "$SERVER"
rc=0; wait "$VALIDATE" || rc=$?
cat "$WORK/validate.txt"
[ "$rc" -eq 0 ] || { echo "demo: rfab validate failed (exit $rc)"; exit 1; }

step "7. Allreduce across the two hosts (rank 0 on A, rank 1 on B: RoCE v2 RDMA WRITE WITH IMMEDIATE), counted by XDP on B"
ip netns exec "$NSB" "$RFAB" collect --iface "$NSB" --hook xdp --json-file "$WORK/collect.jsonl" --duration 600s \
  > /dev/null 2> "$WORK/collect.err" & COLLECT=$!
for _ in $(seq 50); do grep -q "attached" "$WORK/collect.err" 2>/dev/null && break; sleep 0.1; done
env_common=(MASTER_ADDR="$IPA" MASTER_PORT=$(( 20000 + $$ % 20000 )) WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 LOCAL_RANK=0 RFAB_TIMEOUT=30
            RFAB_ROCE_PORT=4791)  # one rank per host: the standard RoCE v2 port, which the collector watches
B env "${env_common[@]}" RANK=1 RFAB_HOSTNAME=hostB "$RFAB" coll allreduce -b 1M -e 32M -f 4 -n 5 -w 1 -c 1 \
  > "$WORK/rank1.txt" 2>&1 & RANK1=$!
A env "${env_common[@]}" RANK=0 RFAB_HOSTNAME=hostA "$RFAB" coll allreduce -b 1M -e 32M -f 4 -n 5 -w 1 -c 1
wait "$RANK1" || { echo "demo: rank 1 failed:"; cat "$WORK/rank1.txt"; exit 1; }
sleep 1.2
kill -INT "$COLLECT"; wait "$COLLECT" || { echo "demo: rfab collect failed:"; cat "$WORK/collect.err"; exit 1; }
python3 - "$WORK/collect.jsonl" <<'PY'
import json, sys
last = None
for line in open(sys.argv[1]):
    j = json.loads(line)
    if "metrics" in j:
        last = j["metrics"]
def total(name):
    return sum(s["value"] for s in last.get(name, []) if s["labels"].get("dir") == "rx")
print("XDP on host B saw: %d RoCE v2 packets, %.1f MB, lost (never arrived) %d, NAKs %d, ECN-CE %d, CNPs %d" % (
    total("rfab_iface_roce_packets_total"), total("rfab_iface_roce_bytes_total") / 1e6,
    total("rfab_iface_lost_packets_total"), total("rfab_iface_nak_total"),
    total("rfab_iface_ecn_ce_total"), total("rfab_iface_cnp_total")))
PY

step "8. Emulation: 1024 GPUs on a 3-tier fat-tree of radix-16 switches at 400G, long-flow permutation, adaptive routing vs ECMP; then 100,000 GPUs"
echo "(ConnectX DCQCN defaults on the NICs, the switches' RoCE ECN profile, PFC on; throughput after a 100 us warm-up)"
EMU_CC="dcqcn:preset=connectx,kmin=150000,kmax=1500000,pmax=1"
REPORT="$BUILD/emulation-report.html"
"$RFAB" emulate --topo fat-tree:k=16,tiers=3,speed=400G --routing ar:view=path --compare ar --compare ecmp \
  --cc "$EMU_CC" --traffic permutation --time 400us --warmup 100us --quiet --report "$REPORT" \
  --telemetry "$WORK/k16.jsonl"
echo "the runs as charts (open in a browser): $REPORT"
echo "step 6's gates on the adaptive-routing run's records (every host link over the whole run, start-up included):"
"$RFAB" validate --from "$WORK/k16.jsonl" --min-line-rate 0.95 --max-loss 0 \
  || { echo "demo: rfab validate --from failed on the emulated records"; exit 1; }
echo
echo "100,000 GPUs (12,500 servers x 8 rails, 400G each, 3-tier fat-tree of 51.2T switches), one data-parallel step:"
echo "a 1 GiB hierarchical allreduce (the collective library's own schedule), flow-level engine, AR vs ECMP"
STEP_REPORT="$BUILD/emulation-step-report.html"
"$RFAB" emulate --engine flow --topo fat-tree:hosts=100000,speed=400G,switch=51.2T,rails=8 --routing ar --compare ecmp \
  --traffic step:allreduce=hier,bytes=1G,inter=rhd --time 400ms --quiet --report "$STEP_REPORT" \
  --telemetry "$WORK/step100k.jsonl"
echo "the step as charts, with its critical path by phase: $STEP_REPORT"
# What the step must move between servers: NVLink reduces each server's 8 GPUs to a 128 MiB shard per rail,
# and recursive halving-doubling over the P = 12,500 servers of a rail sends 2(P-1)/P of it from every GPU
# (and receives as much). In 400G frames (4096 B of payload + 62 B of headers) over the 400 ms window:
STEP_GBPS=$(python3 -c 'p = 12500; n = 100000 * 2 * (p - 1) / p * 2**30 / 8 * 4158 / 4096; print(int(n * 8 / 0.4 / 1e9))')
echo "step 6's gates on the adaptive-routing run's records ($(du -h "$WORK/step100k.jsonl" | cut -f1), every NIC and link of the fabric):"
echo "  --max-loss 0: no request packet lost (the flow-level engine models a lossless fabric; the gate reads the NICs' counters)"
echo "  --min-gbps $STEP_GBPS: every frame of the step's inter-server traffic (26,841 GB of payload) reached its NIC"
echo "  within the window (a step that had not finished, or lost traffic, at 400 ms would fail this)"
"$RFAB" validate --from "$WORK/step100k.jsonl" --min-gbps "$STEP_GBPS" --max-loss 0 \
  || { echo "demo: rfab validate --from failed on the 100,000-GPU step's records"; exit 1; }
rm -f "$WORK/step100k.jsonl"
echo
echo "The 800G variant: a 51.2T switch has 64 ports of 800G, and three tiers of those hold 65,536 hosts; so each"
echo "800G NIC is split over two planes of 400G (radix 128), the same step, AR vs ECMP:"
"$RFAB" emulate --engine flow --topo fat-tree:hosts=100000,speed=800G,switch=51.2T,rails=8,planes=2 --routing ar \
  --compare ecmp --traffic step:allreduce=hier,bytes=1G,inter=rhd --time 400ms --quiet
echo

step "9. Two paths between two hosts (namespaces A, R, B; tbf and tc BPF switch ports): spraying, ECN + DCQCN, loss recovery"
RFAB="$RFAB" RFAB_LAB_PORT="$BUILD/tools/fabric-lab/rfab-lab-port" \
  bash "$(dirname "$0")/twopath-fabric.sh" --name "rfd$$-2p" demo
echo
echo "demo: done"
