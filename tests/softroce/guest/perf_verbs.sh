# Guest side of `rfab perf --verbs` between two rxe guests: g0 serves, g1 connects (perftest's side channel on
# TCP 18515, the QPs on rxe0 through libibverbs). Steps, in order on both guests:
#   verb  server program  -s bytes  -n iterations  -q QPs
# "rfab" = rfab perf --verbs --server on g0; "perftest" = ib_VERB_bw on g0 (rfab's verbs client against it).
# The client always is rfab perf --verbs on g1 (device and GID index auto-chosen); g0's rfab has them forced
# by flags. Every rfab must exit 0 with its data check ok; perftest must print its result line.
. /lab/gid.sh
GID=$(roce_v2_ipv4_gid rxe0) || exit 10
STEPS="write rfab 65536 100 2
send rfab 3000 200 1
read rfab 65536 100 2
write perftest 4096 200 1"
rc=0 k=0
while read -r verb server size iters qps; do
  k=$((k + 1))
  if [ "$RFAB_LAB_INDEX" = 0 ]; then
    if [ "$server" = rfab ]; then
      timeout 120 rfab perf "$verb" --verbs --device rxe0 --gid-index "$GID" --server -s "$size" -n "$iters" -q "$qps" \
        --timeout 60 > /tmp/out 2>&1; st=$?
      ok() { grep -q "data check      : ok" /tmp/out; }
    else
      timeout 120 ib_${verb}_bw -d rxe0 -x "$GID" -c RC -F --report_gbits -s "$size" -n "$iters" -q "$qps" > /tmp/out 2>&1; st=$?
      ok() { grep -Eq "^ *$size +$((iters * qps)) +[0-9]" /tmp/out; }
    fi
  else
    # rfab's connect retries until the server listens (within --timeout).
    timeout 120 rfab perf "$verb" --verbs -s "$size" -n "$iters" -q "$qps" --timeout 60 "$RFAB_LAB_PEER" > /tmp/out 2>&1; st=$?
    ok() { grep -q "data check      : ok" /tmp/out; }
  fi
  cat /tmp/out
  if [ $st = 0 ] && ok; then
    echo "perf-verbs: step $k $verb ($server server, -s $size -n $iters -q $qps) PASS at $(cut -d' ' -f1 /proc/uptime)s"
  else
    echo "perf-verbs: step $k $verb ($server server, -s $size -n $iters -q $qps) FAIL (exit $st)"
    rc=1
  fi
done <<EOS
$STEPS
EOS
[ $rc = 0 ] && echo "perf-verbs: PASS"
exit $rc
