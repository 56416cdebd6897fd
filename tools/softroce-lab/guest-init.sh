#!/bin/busybox sh
# PID 1 of a soft-RoCE lab guest. Parameters come from the kernel command line:
#   rfab.name=g0 rfab.ip=10.77.0.1/24 rfab.peer=10.77.0.2 rfab.index=0 rfab.rxe=1|0 rfab.timeout=SECONDS
#   rfab.wedge=watchdog|silent (lab.sh -W, a test hook: act as a wedged guest instead of booting)
# Loads the modules rdma_rxe needs, configures eth0, optionally creates rxe0 on it, runs /lab/run.sh (from the
# per-run overlay archive) under a deadline, prints one result marker the host parses, and powers off.
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin
mkdir -p /proc /sys /dev /tmp /run /var/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm

NAME=guest IP= PEER= INDEX=0 RXE=1 TIMEOUT=240 WEDGE=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    rfab.name=*) NAME=${arg#rfab.name=} ;;
    rfab.ip=*) IP=${arg#rfab.ip=} ;;
    rfab.peer=*) PEER=${arg#rfab.peer=} ;;
    rfab.index=*) INDEX=${arg#rfab.index=} ;;
    rfab.rxe=*) RXE=${arg#rfab.rxe=} ;;
    rfab.timeout=*) TIMEOUT=${arg#rfab.timeout=} ;;
    rfab.wedge=*) WEDGE=${arg#rfab.wedge=} ;;
  esac
done

# The two ways an emulator stall shows, for the lab's own test of its reboot: the kernel's transmit
# watchdog line (then nothing more), or a boot that never reports.
if [ "$WEDGE" = watchdog ]; then
  echo "NETDEV WATCHDOG: CPU: 0: transmit queue 0 timed out 5120 ms (lab.sh -W: simulated)"
  while :; do sleep 3600; done
fi
[ "$WEDGE" = silent ] && while :; do sleep 3600; done

finish() {
  echo "RFAB-LAB-RESULT guest=$NAME rc=$1 uptime=$(cut -d' ' -f1 /proc/uptime)"
  sync
  poweroff -f
  sleep 5
}

KVER=$(uname -r)
for m in $(cat /etc/lab-modules); do
  insmod "/lib/modules/$KVER/$m" || { echo "lab-init: insmod $m failed"; finish 90; }
done
ip link set lo up
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ -e /sys/class/net/eth0 ] || { echo "lab-init: no eth0 (virtio-net did not probe)"; finish 91; }
[ -n "$IP" ] && ip addr add "$IP" dev eth0
ip link set eth0 up
if [ "$RXE" = 1 ]; then
  rdma link add rxe0 type rxe netdev eth0 || { echo "lab-init: rdma link add rxe0 failed"; finish 92; }
fi
ulimit -l unlimited
echo "lab-init: $NAME up at $(cut -d' ' -f1 /proc/uptime)s ip=$IP peer=$PEER rxe=$RXE"
export RFAB_LAB_NAME=$NAME RFAB_LAB_IP=${IP%/*} RFAB_LAB_PEER=$PEER RFAB_LAB_INDEX=$INDEX
cd /lab
timeout "$TIMEOUT" sh /lab/run.sh
rc=$?
[ $rc -eq 143 ] && echo "lab-init: /lab/run.sh exceeded ${TIMEOUT}s"
finish $rc
