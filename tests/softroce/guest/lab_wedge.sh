#!/bin/sh
# Guest side of lab_wedge.sh: nothing to test but that the guest booted and ran (on the second boot).
echo "lab-wedge: PASS on $RFAB_LAB_NAME at $(cut -d' ' -f1 /proc/uptime)s"
