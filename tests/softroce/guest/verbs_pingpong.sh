# Guest side of the verbs driver test: g0 serves with device and GID index forced through the environment
# (the override path), g1 connects with everything auto-chosen. Afterwards g1 runs `rfab doctor` against g0
# (UDP 4791 and rdma_cm through rxe0) while g0 waits for g1's "done" on TCP 18601.
if [ "$RFAB_LAB_INDEX" = 0 ]; then
  RFAB_VERBS_DEVICE=rxe0 RFAB_VERBS_GID_INDEX=1 rfab_verbs_pingpong server --iters 200 --size 1048576 || exit 1
  timeout 90 nc -l -p 18601 > /dev/null || { echo "g1 never said done"; exit 1; }
else
  rc=0
  rfab_verbs_pingpong client "$RFAB_LAB_PEER" --iters 200 --size 1048576 || rc=1
  [ $rc = 0 ] && { rfab doctor --peers "$RFAB_LAB_PEER" || rc=1; }
  for i in $(seq 50); do echo done | nc "$RFAB_LAB_PEER" 18601 2>/dev/null && break; sleep 0.2; done
  exit $rc
fi
