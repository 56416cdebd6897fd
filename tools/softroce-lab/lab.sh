#!/usr/bin/env bash
# Boots one or two soft-RoCE guests (Debian kernel + rdma_rxe under qemu TCG) on a bridge in a private
# network namespace, runs a test script in each guest, optionally captures the bridge, and tears everything
# down (qemu, tcpdump, taps, bridge, namespace) on every exit path.
#
# Usage: lab.sh -t TEST.sh [-n 1|2] [-c CAPTURE.pcap] [-b ELF]... [-f FILE]... [-w WORKDIR] [-T SECONDS] [-R]
#               [-H HOST.sh] [-B SECONDS] [-W watchdog|silent]
#   -t  script run in every guest as /lab/run.sh (env: RFAB_LAB_NAME, _IP, _PEER, _INDEX); its exit code is
#       the guest's result
#   -n  number of guests (default 2): g0 = 10.77.0.1, g1 = 10.77.0.2; the bridge itself is 10.77.0.254
#   -c  write a pcap of everything on the bridge here
#   -b  ELF binary to install in the guest's /usr/bin with its shared libraries (e.g. build/x/cli/rfab)
#   -f  extra file copied to the guest's /lab/
#   -T  deadline for the whole run in seconds (default 300); the test script gets T-60 inside the guest
#   -R  do not create rxe0 at boot (the test creates it itself)
#   -H  script run on this host inside the lab's network namespace (so it owns the bridge address
#       10.77.0.254) while the guests run, with RFAB_LAB_WORK and RFAB_LAB_DEADLINE (seconds) in its
#       environment; its output is printed prefixed [host] and its exit code counts like a guest's
#   -B  seconds a guest may take to report that it booted, on the first boot (default 180)
#   -W  test hook: the first boot of g0 wedges on purpose (watchdog: it prints the virtio NIC's transmit
#       watchdog line and hangs; silent: it never reports booting), to exercise the reboot below
# A wedged guest is the emulator's fault, not the test's: its virtio NIC's transmit watchdog fired ("NETDEV
# WATCHDOG: ... transmit queue N timed out": qemu stopped servicing the queue) or it did not report booting
# within -B seconds. The lab then stops that run, says so, and boots everything again once; only a second
# wedge fails the run (exit 1, saying so), so a test fails for the emulator only when it wedges twice. The
# second boot is held to the deadline only: a machine so loaded that booting takes minutes (it happens) must
# not fail a run that would have passed.
# Exit: 0 when every guest's script exited 0; 1 when a guest failed or missed the deadline; 2 on setup errors.
# Env: RFAB_SOFTROCE_CACHE (package cache, default ~/.cache/rfab-softroce), RFAB_LAB_MEM (MiB, default 512).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"

TEST="" NGUESTS=2 CAPTURE="" BINS=() FILES=() WORK="" DEADLINE=300 RXE=1 HOST_SCRIPT="" BOOT_TIMEOUT=180 WEDGE=""
while getopts "t:n:c:b:f:w:T:RH:B:W:" opt; do
  case $opt in
    t) TEST=$OPTARG ;; n) NGUESTS=$OPTARG ;; c) CAPTURE=$OPTARG ;; b) BINS+=("$OPTARG") ;;
    f) FILES+=("$OPTARG") ;; w) WORK=$OPTARG ;; T) DEADLINE=$OPTARG ;; R) RXE=0 ;; H) HOST_SCRIPT=$OPTARG ;;
    B) BOOT_TIMEOUT=$OPTARG ;; W) WEDGE=$OPTARG ;;
    *) echo "usage: see the header of $0" >&2; exit 2 ;;
  esac
done
die() { echo "softroce-lab: $*" >&2; exit 2; }
case $BOOT_TIMEOUT in ''|*[!0-9]*|0) die "-B: a whole number of seconds above 0, not '$BOOT_TIMEOUT'" ;; esac
case $WEDGE in ''|watchdog|silent) ;; *) die "-W: watchdog or silent, not '$WEDGE'" ;; esac
[ -n "$TEST" ] && [ -f "$TEST" ] || die "-t TEST.sh: no such test script '${TEST}'"
[ -z "$HOST_SCRIPT" ] || [ -f "$HOST_SCRIPT" ] || die "-H HOST.sh: no such script '${HOST_SCRIPT}'"
case $NGUESTS in 1|2) ;; *) die "-n: 1 or 2 guests, not '$NGUESTS'" ;; esac
[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, bridge, tap devices)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
[ -e /dev/net/tun ] || die "/dev/net/tun missing: tap devices unavailable"
[ -z "$CAPTURE" ] || command -v tcpdump >/dev/null || die "tcpdump missing (apt-get install tcpdump)"

CACHE=${RFAB_SOFTROCE_CACHE:-$HOME/.cache/rfab-softroce}
[ -n "$WORK" ] || WORK=$(mktemp -d "${TMPDIR:-/tmp}/rfl-lab.XXXXXX")
mkdir -p "$WORK"
NS=rfl$$
PIDS=()
TCPDUMP_PID=""
HOST_PID=""

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # The host script runs in its own process group (set -m below): end it and whatever it started.
  [ -z "$HOST_PID" ] || kill -TERM -- "-$HOST_PID" 2>/dev/null || true
  [ -z "$TCPDUMP_PID" ] || kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  for p in "${PIDS[@]}" $TCPDUMP_PID $HOST_PID; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. Guest image: cached packages and base initramfs; per-run overlay with the test and rfab binaries.
SYSROOT=$("$HERE/fetch.sh" "$CACHE" | tail -1)
KVER=$(cat "$SYSROOT/.kernel-version")
BASE=$CACHE/base.cpio.gz
if [ ! -s "$BASE" ] || [ "$HERE/guest-init.sh" -nt "$BASE" ] || [ "$HERE/build-initramfs.sh" -nt "$BASE" ]; then
  "$HERE/build-initramfs.sh" "$SYSROOT" "$BASE"
fi
OVL=$WORK/overlay
rm -rf "$OVL"; mkdir -p "$OVL/lab" "$OVL/lib/x86_64-linux-gnu"
cp "$TEST" "$OVL/lab/run.sh"
for f in "${FILES[@]}"; do cp "$f" "$OVL/lab/"; done
for b in "${BINS[@]}"; do
  [ -x "$b" ] || die "-b $b: not an executable"
  copy_elf_with_libs "$OVL" "$SYSROOT" "$b" "/usr/bin/$(basename "$b")" || exit 2
done
# Linux unpacks concatenated newc archives in order, so the overlay adds to (and overrides) the base.
(cd "$OVL" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$WORK/overlay.cpio.gz"
cat "$BASE" "$WORK/overlay.cpio.gz" > "$WORK/initrd.gz"

# 2. Network: namespace with a bridge and one tap per guest. First sweep up after lab runs that were killed
# without running their trap (SIGKILL from a test timeout): namespaces rfl<pid> whose pid is gone.
for stale in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^rfl[0-9]+$' || true); do
  if ! kill -0 "${stale#rfl}" 2>/dev/null; then
    for p in $(ip netns pids "$stale" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$stale" 2>/dev/null || true
    echo "softroce-lab: removed stale namespace $stale" >&2
  fi
done
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add rflbr0 type bridge stp_state 0 forward_delay 0
ip -n "$NS" addr add 10.77.0.254/24 dev rflbr0
ip -n "$NS" link set rflbr0 up
for ((i = 0; i < NGUESTS; i++)); do
  ip -n "$NS" tuntap add dev "rfltap$i" mode tap
  ip -n "$NS" link set "rfltap$i" master rflbr0 up
done
start_capture() {
  [ -n "$CAPTURE" ] || return 0
  ip netns exec "$NS" tcpdump -Z root -i rflbr0 -s 0 -B 32768 -U --immediate-mode -w "$CAPTURE" 2> "$WORK/tcpdump.log" &
  TCPDUMP_PID=$!
  for _ in $(seq 50); do grep -q "listening on" "$WORK/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "listening on" "$WORK/tcpdump.log" || die "tcpdump did not start: $(cat "$WORK/tcpdump.log")"
}

# Why guest $1 (log $2) is wedged, or nothing: the watchdog line, or no boot report after BOOT_TIMEOUT.
wedged() {
  local i=$1 log=$2
  if tr -d '\r' < "$log" | grep -aqE "NETDEV WATCHDOG:.*transmit queue [0-9]+ timed out"; then
    echo "g$i's virtio NIC hit its transmit watchdog (NETDEV WATCHDOG: qemu stopped servicing the queue)"
  elif [ "$ATTEMPT" -eq 1 ] && ! grep -aq "lab-init: .* up at" "$log" &&
       [ $(( $(date +%s) - ATTEMPT_START )) -ge "$BOOT_TIMEOUT" ]; then
    echo "g$i did not report booting within ${BOOT_TIMEOUT}s"
  fi
}

# Stops this attempt's guests, host script and capture (the namespace and its taps stay for the next).
stop_attempt() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "$HOST_PID" ] || kill -TERM -- "-$HOST_PID" 2>/dev/null || true
  [ -z "$TCPDUMP_PID" ] || kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  for p in "${PIDS[@]}" $HOST_PID $TCPDUMP_PID; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  PIDS=() HOST_PID="" TCPDUMP_PID=""
}

# One run: capture, guests, host script, then wait for every guest to power off (and the host script to
# end) within the deadline. Sets WEDGED (why, empty if not) and HOST_RC.
run_attempt() {
  local attempt=$1 i ip peer wedge_arg
  ATTEMPT=$attempt WEDGED="" HOST_RC=""
  start_capture
  GUEST_TIMEOUT=$((DEADLINE > 120 ? DEADLINE - 60 : DEADLINE / 2))
  ATTEMPT_START=$(date +%s)
  for ((i = 0; i < NGUESTS; i++)); do
    ip=10.77.0.$((i + 1))
    if [ "$NGUESTS" -eq 2 ]; then peer=10.77.0.$((2 - i)); else peer=10.77.0.254; fi
    wedge_arg=""
    [ -n "$WEDGE" ] && [ "$attempt" -eq 1 ] && [ "$i" -eq 0 ] && wedge_arg=" rfab.wedge=$WEDGE"
    ip netns exec "$NS" qemu-system-x86_64 -accel tcg -cpu max -m "${RFAB_LAB_MEM:-512}" -smp 1 -nographic \
      -no-reboot -kernel "$SYSROOT/boot/vmlinuz-$KVER" -initrd "$WORK/initrd.gz" \
      -append "console=ttyS0 quiet loglevel=4 panic=-1 rfab.name=g$i rfab.index=$i rfab.ip=$ip/24 rfab.peer=$peer rfab.rxe=$RXE rfab.timeout=$GUEST_TIMEOUT$wedge_arg" \
      -netdev "tap,id=n0,ifname=rfltap$i,script=no,downscript=no" \
      -device "virtio-net-pci,netdev=n0,mac=52:54:00:77:00:0$((i + 1)),romfile=" \
      < /dev/null > "$WORK/g$i.log" 2>&1 &
    PIDS+=($!)
  done

  # The host side, if any: in the namespace, next to the guests, in its own process group.
  if [ -n "$HOST_SCRIPT" ]; then
    set -m
    RFAB_LAB_WORK=$WORK RFAB_LAB_DEADLINE=$GUEST_TIMEOUT \
      ip netns exec "$NS" timeout "$GUEST_TIMEOUT" bash "$HOST_SCRIPT" > "$WORK/host.log" 2>&1 < /dev/null &
    HOST_PID=$!
    set +m
  fi

  local end=$(( $(date +%s) + DEADLINE )) p running
  for p in "${PIDS[@]}" $HOST_PID; do
    while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do
      for ((i = 0; i < NGUESTS; i++)); do
        WEDGED=$(wedged "$i" "$WORK/g$i.log")
        if [ -n "$WEDGED" ]; then stop_attempt; return; fi
      done
      sleep 0.5
    done
  done
  if [ -n "$HOST_PID" ]; then
    if kill -0 "$HOST_PID" 2>/dev/null; then HOST_RC=timeout; else wait "$HOST_PID" && HOST_RC=0 || HOST_RC=$?; fi
  fi
  if [ -n "$TCPDUMP_PID" ]; then
    # Let tcpdump drain its buffer, then stop it and wait so the pcap is complete before anyone reads it.
    sleep 1
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$TCPDUMP_PID" 2>/dev/null || break; sleep 0.1; done
    TCPDUMP_PID=""
    sed 's/^/[tcpdump] /' "$WORK/tcpdump.log"
  fi
}

# Console of guest $1 from log $2, prefixed with $3.
show_console() {
  tr -d "\r" < "$2" | sed -e "s/\x1b\[[0-9;?]*[a-zA-Z]//g" -e "s/\x1bc//g" -e "s/^/$3 /"
}

# 3. Guests (and the host script); once more if the first run wedged.
START_NS=$(date +%s%N)
run_attempt 1
if [ -n "$WEDGED" ]; then
  for ((i = 0; i < NGUESTS; i++)); do show_console "$i" "$WORK/g$i.log" "[g$i attempt 1]"; mv "$WORK/g$i.log" "$WORK/g$i.attempt1.log"; done
  [ -z "$HOST_SCRIPT" ] || { sed 's/^/[host attempt 1] /' "$WORK/host.log"; mv "$WORK/host.log" "$WORK/host.attempt1.log"; }
  echo "softroce-lab: wedged guest: $WEDGED; an emulator stall, not the test: booting again (attempt 2 of 2)"
  run_attempt 2
  if [ -n "$WEDGED" ]; then
    for ((i = 0; i < NGUESTS; i++)); do show_console "$i" "$WORK/g$i.log" "[g$i]"; done
    echo "softroce-lab: wedged again: $WEDGED; giving up (the emulator, not the test, failed twice)"
    exit 1
  fi
fi
ELAPSED_MS=$(( ($(date +%s%N) - START_NS) / 1000000 ))

rc=0
for ((i = 0; i < NGUESTS; i++)); do
  show_console "$i" "$WORK/g$i.log" "[g$i]"
  res=$(tr -d '\r' < "$WORK/g$i.log" | sed -n 's/.*RFAB-LAB-RESULT guest=[^ ]* rc=\([0-9]*\).*/\1/p' | tail -1)
  if [ -z "$res" ]; then
    echo "softroce-lab: guest g$i gave no result (crashed or missed the ${DEADLINE}s deadline)"; rc=1
  elif [ "$res" != 0 ]; then
    echo "softroce-lab: guest g$i test failed with exit code $res"; rc=1
  fi
done
if [ -n "$HOST_SCRIPT" ]; then
  sed 's/^/[host] /' "$WORK/host.log"
  if [ "$HOST_RC" != 0 ]; then echo "softroce-lab: host script failed (${HOST_RC})"; rc=1; fi
fi
echo "softroce-lab: $NGUESTS guest(s), wall time ${ELAPSED_MS} ms, work dir $WORK"
exit $rc
