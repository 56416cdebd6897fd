# Sourced by the host scripts that run unmodified perftest on rfab's verbs provider against rxe in the lab
# guest (provider_rxe.sh, provider_perftest_all.sh). $RFAB is the rfab binary.
#   provider_run ROLE OUT TOOL ARGS...   runs TOOL ARGS under `rfab softroce shell --iface rflbr0`, output
#                                        to OUT; ROLE client connects to the guest (10.77.0.1), retrying
#                                        while its server or the bridge is not up yet (the first step waits
#                                        for the boot);
#                                        ROLE server waits for the guest's client. Returns TOOL's status.
provider_run() {
  local role=$1 out=$2 tool=$3 st=1
  shift 3
  if [ "$role" = client ]; then
    for _ in $(seq 120); do
      timeout 240 "$RFAB" softroce shell --iface rflbr0 -- "$tool" "$@" 10.77.0.1 > "$out" 2>&1; st=$?
      [ $st = 0 ] && break
      # Not up yet: the guest's server (no connection), or the bridge itself, whose carrier comes up only
      # once the guest's tap port forwards (the provider then reports its port Down).
      grep -q "Couldn't connect\|Unable to open file descriptor\|state is Down" "$out" || break
      sleep 1
    done
  else
    timeout 300 "$RFAB" softroce shell --iface rflbr0 -- "$tool" "$@" > "$out" 2>&1; st=$?
  fi
  return $st
}
