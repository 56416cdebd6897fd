# Guest side of the full perftest <-> verbs-provider test (one guest, g0 = 10.77.0.1 with rdma_rxe; the
# provider runs on the host at $RFAB_LAB_PEER). For each step of perftest_all_steps.sh: perftest's server
# on rxe0 when the provider is the client, perftest's client (retrying until the provider's server
# listens) when the provider is the server.
. /lab/gid.sh
. /lab/perftest_all_steps.sh
GID=$(roce_v2_ipv4_gid rxe0) || exit 10
rc=0 k=0
while read -r tool role size iters extra; do
  k=$((k + 1))
  # shellcheck disable=SC2086
  args="-d rxe0 -x $GID $(perftest_all_args "$tool" "$iters" $extra)"
  if [ "$role" = client ]; then
    # shellcheck disable=SC2086
    timeout 240 "$tool" $args > /tmp/out 2>&1; st=$?
  else
    st=1
    for attempt in $(seq 60); do
      # shellcheck disable=SC2086
      timeout 240 "$tool" $args "$RFAB_LAB_PEER" > /tmp/out 2>&1; st=$?
      [ $st = 0 ] && break
      grep -q "Couldn't connect\|Unable to open file descriptor" /tmp/out || break
      sleep 1
    done
  fi
  cat /tmp/out
  if [ $st = 0 ] && perftest_all_result_ok /tmp/out "$size" "$iters"; then
    echo "perftest-all: step $k $tool $extra (provider $role) PASS at $(cut -d' ' -f1 /proc/uptime)s"
  else
    echo "perftest-all: step $k $tool $extra (provider $role) FAIL (exit $st)"
    rc=1
  fi
done <<STEPS
$PERFTEST_ALL_STEPS
STEPS
[ $rc = 0 ] && echo "perftest-all: PASS"
exit $rc
