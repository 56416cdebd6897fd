# The perftest <-> rfab interop steps, sourced by both sides (tests/softroce/guest/perftest_udp.sh in the
# guest, tests/softroce/host/perftest_udp.sh on the host), which run them in this order:
#   verb  rfab's role  -s bytes  -n iterations  -q QPs
# rfab client = `rfab perf VERB --perftest 10.77.0.1` against perftest's server in the guest;
# rfab server = `rfab perf VERB --perftest --server` on the host, perftest's client in the guest.
# Sizes: whole MTU packets (4096), a short LAST packet (3000), a message below perftest's cycle buffer
# (1000: perftest walks several slots of the target region); two QPs exercise the per-QP key rounds.
PERFTEST_UDP_STEPS="write client 4096 200 2
send client 3000 200 1
read client 4096 200 2
write server 1000 200 2
send server 4096 200 1
read server 4096 200 2"
