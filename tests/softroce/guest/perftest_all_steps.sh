# The full perftest set against rxe, sourced by both sides (tests/softroce/guest/perftest_all.sh in the
# guest, tests/softroce/host/provider_perftest_all.sh on the host, where perftest runs on rfab's verbs
# provider). One step a line:
#   tool  provider's role  size of the result line to expect  iterations  extra perftest flags
# `-a` runs every size from 2 bytes to 8 MiB; the step passes when perftest exits 0 and prints the line of
# the largest size with exactly the iterations asked for (atomics are 8 bytes). Five iterations a size keep
# the bridge capture near a gigabyte.
# ib_read_bw as the provider's client reads from rxe with rxe's 128 READs outstanding: in an emulated (TCG)
# guest rxe takes many ACK timeouts to drain the READs queued behind a lost response, which the requester
# must sit out (docs/verbs-provider.md, "READ responses behind a loss").
PERFTEST_ALL_STEPS="ib_write_bw client 8388608 5 -a
ib_write_bw server 8388608 5 -a
ib_send_bw client 8388608 5 -a
ib_send_bw server 8388608 5 -a
ib_read_bw client 8388608 5 -a
ib_read_bw server 8388608 5 -a
ib_atomic_bw client 8 200 -A FETCH_AND_ADD
ib_atomic_bw server 8 200 -A CMP_AND_SWAP
ib_write_lat client 8388608 5 -a
ib_write_lat server 8388608 5 -a"

# perftest's flags for a step: the common ones, bandwidth reports in Gb/s.
perftest_all_args() {  # TOOL ITERS EXTRA...
  local tool=$1 iters=$2
  shift 2
  case $tool in
    *_bw) echo "-F --report_gbits -n $iters $*" ;;
    *) echo "-F -n $iters $*" ;;
  esac
}

# Exit 0 when OUTFILE holds the result line of SIZE with ITERS iterations.
perftest_all_result_ok() {  # OUTFILE SIZE ITERS
  grep -Eq "^ *$2 +$3 +[0-9]" "$1"
}
