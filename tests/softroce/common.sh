# Shared by the softroce ctest drivers (sourced).
# lab_preflight: exit 77 (ctest SKIP) with the reason when this machine cannot run the lab at all; anything
# else that goes wrong later is a failure.
lab_preflight() {
  local why=""
  [ "$(id -u)" -eq 0 ] || why="needs root (netns, bridge, taps)"
  command -v qemu-system-x86_64 >/dev/null || why="qemu-system-x86_64 missing (scripts/install-deps.sh installs it)"
  command -v tcpdump >/dev/null || why="tcpdump missing (scripts/install-deps.sh installs it)"
  [ -e /dev/net/tun ] || why="/dev/net/tun missing"
  if [ -n "$why" ]; then echo "SKIP: $why"; exit 77; fi
}

# lab_setup RFAB_BINARY WORKDIR: the drivers' arguments into RFAB (exported: host scripts use it) and WORK,
# the preflight, and an empty WORK.
lab_setup() {
  RFAB=$1 WORK=$2
  export RFAB
  lab_preflight
  rm -rf "$WORK"; mkdir -p "$WORK"
}

# expect_pass LOG PATTERN WHAT: the lab's log must hold PATTERN (a side's PASS line), else FAIL naming WHAT.
expect_pass() {
  grep -q "$2" "$1" || { echo "FAIL: $3"; exit 1; }
}

# expect_opcodes PCAP OPCODE...: the capture holds at least one packet of each opcode (printed with counts).
expect_opcodes() {
  local pcap=$1 op n
  shift
  for op in "$@"; do
    n=$("$RFAB" decode --opcode "$op" "$pcap" | grep -c "$op" || true)
    echo "$op: $n packets"
    [ "$n" -gt 0 ] || { echo "FAIL: no $op packet captured"; exit 1; }
  done
}
