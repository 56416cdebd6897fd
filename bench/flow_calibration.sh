#!/bin/sh
# The flow engine calibrated from a packet-level sample against the packet-level engine, long-lived
# permutation: one markdown row per routing/cc. Usage: bench/flow_calibration.sh RFAB K SAMPLE_K [TIME WARMUP]
# (bench/results/2026-12-07-flow-calibration.md). Run it under the shared build lock.
# Throughputs are over (WARMUP, TIME]: the packet engine's --warmup; the flow engine (which takes no
# --warmup) as the difference of a run to TIME and one to WARMUP. The calibrated flow figure over that
# window is eta x the uncalibrated one (every link scaled; tests/unit/emu/test_flow_calibration.cpp).
set -eu
RFAB=$1 K=$2 S=$3 TIME=${4:-300us} WARM=${5:-100us}
TOPO="fat-tree:k=$K,speed=400G"
SAMPLE="fat-tree:k=$S,speed=400G"
PROD="dcqcn:preset=connectx,kmin=150000,kmax=1500000,pmax=1"
common="--topo $TOPO --traffic permutation:bytes=inf --json --quiet"
f() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
for case in "ecmp none" "ecmp $PROD" "ar:view=path none" "ar:view=path $PROD"; do
  set -- $case
  routing=$1 cc=$2
  fluid=ecmp; [ "$routing" = ecmp ] || fluid=ar
  p=$("$RFAB" emulate $common --time "$TIME" --warmup "$WARM" --routing "$routing" --cc "$cc")
  u=$("$RFAB" emulate $common --time "$TIME" --engine flow --routing "$fluid")
  w=$("$RFAB" emulate $common --time "$WARM" --engine flow --routing "$fluid")
  c=$("$RFAB" emulate $common --time "$TIME" --engine flow --routing "$routing" --cc "$cc" --calibrate "$SAMPLE" \
        --calibrate-time "$TIME" --calibrate-warmup "$WARM")
  pt=$(echo "$p" | f "'%.4f' % j['throughput']"); pc=$(echo "$p" | f "'%.2f' % j['cpu_seconds']")
  uP=$(echo "$u" | f "j['payload_delivered_bytes']"); uT=$(echo "$u" | f "j['throughput']")
  wP=$(echo "$w" | f "j['payload_delivered_bytes']"); wT=$(echo "$w" | f "j['throughput']")
  uc=$(echo "$u" | f "'%.2f' % j['cpu_seconds']")
  eta=$(echo "$c" | f "j['calibration']['efficiency']")
  ss=$(python3 -c "P,T,p,t=$uP,$uT,$wP,$wT; print((P-p)/(P/T-p/t))")
  ut=$(python3 -c "print('%.4f' % $ss)"); ct=$(python3 -c "print('%.4f' % ($eta*$ss))")
  cw=$(echo "$c" | f "'%.4f' % j['throughput']"); uw=$(python3 -c "print('%.4f' % $uT)")
  cc_=$(echo "$c" | f "'%.2f' % j['cpu_seconds']")
  sm=$(echo "$c" | f "'%.4f / %.4f = %.4f' % (j['calibration']['packet_throughput'], j['calibration']['flow_throughput'], j['calibration']['efficiency'])")
  scpu=$(echo "$c" | f "'%.2f + %.2f' % (j['calibration']['cpu_seconds_packet'], j['calibration']['cpu_seconds_flow'])")
  ccname=none; [ "$cc" = "$PROD" ] && ccname="production DCQCN"
  echo "| k=$K | $routing | $ccname | $pt | $ut | $ct | k=$S: $sm | $uw / $cw | $pc | $uc | $cc_ + $scpu |"
done
