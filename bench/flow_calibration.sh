#!/bin/sh
# The flow engine calibrated from a packet-level sample against the packet-level engine, long-lived
# permutation: one markdown row per routing/cc. Usage: bench/flow_calibration.sh RFAB K SAMPLE_K [TIME WARMUP]
# (bench/results/2026-12-07-flow-calibration.md). Run it under the shared build lock.
set -eu
RFAB=$1 K=$2 S=$3 TIME=${4:-300us} WARM=${5:-100us}
TOPO="fat-tree:k=$K,speed=400G"
SAMPLE="fat-tree:k=$S,speed=400G"
PROD="dcqcn:preset=connectx,kmin=150000,kmax=1500000,pmax=1"
common="--topo $TOPO --traffic permutation:bytes=inf --time $TIME --json --quiet"
field() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
for case in "ecmp none" "ar:view=path none" "ar:view=path $PROD" "ecmp $PROD"; do
  set -- $case
  routing=$1 cc=$2
  fluid=ecmp; [ "$routing" = ecmp ] || fluid=ar
  p=$("$RFAB" emulate $common --warmup "$WARM" --routing "$routing" --cc "$cc")
  u=$("$RFAB" emulate $common --engine flow --routing "$fluid")
  c=$("$RFAB" emulate $common --engine flow --routing "$routing" --cc "$cc" --calibrate "$SAMPLE" \
        --calibrate-time "$TIME" --calibrate-warmup "$WARM")
  pt=$(echo "$p" | field "'%.4f' % j['throughput']"); pc=$(echo "$p" | field "'%.2f' % j['cpu_seconds']")
  ut=$(echo "$u" | field "'%.4f' % j['throughput']"); uc=$(echo "$u" | field "'%.2f' % j['cpu_seconds']")
  ct=$(echo "$c" | field "'%.4f' % j['throughput']"); cc_=$(echo "$c" | field "'%.2f' % j['cpu_seconds']")
  eta=$(echo "$c" | field "'%.4f (%.4f / %.4f)' % (j['calibration']['efficiency'], j['calibration']['packet_throughput'], j['calibration']['flow_throughput'])")
  scpu=$(echo "$c" | field "'%.2f + %.2f' % (j['calibration']['cpu_seconds_packet'], j['calibration']['cpu_seconds_flow'])")
  ccname=$cc; [ "$cc" = "$PROD" ] && ccname="production DCQCN"
  echo "| k=$K | $routing | $ccname | $pt | $ut | $ct | k=$S: $eta | $pc | $uc | $cc_ + $scpu |"
done
