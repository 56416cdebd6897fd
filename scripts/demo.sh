#!/usr/bin/env bash
# The main job: what rfab does end to end on this machine. Grows with the project.
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

echo
echo "demo: done"
