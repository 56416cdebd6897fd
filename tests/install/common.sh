# shellcheck shell=bash
# Shared by the install tests (sourced): failing with a message, skipping when a tool is absent.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# ctest marks exit 77 as skipped (SKIP_RETURN_CODE in tests/install/CMakeLists.txt).
need_tool() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "SKIP: '$1' is not installed (Debian package: $2)"
    exit 77
  }
}

# Runs the allreduce check as NRANKS processes rendezvousing through a unique-id file; every rank must print
# "rank R/NRANKS ok". Usage: run_ranks PROGRAM NRANKS WORKDIR (LD_LIBRARY_PATH etc. from the caller).
run_ranks() {
  local prog=$1 n=$2 work=$3 pids=() r
  rm -f "$work/id" "$work/id.tmp"
  for ((r = 0; r < n; r++)); do
    timeout 40 "$prog" "$work/id" "$n" "$r" >"$work/rank$r.out" 2>&1 &
    pids+=($!)
  done
  for ((r = 0; r < n; r++)); do
    wait "${pids[$r]}" || fail "rank $r of $prog exited with $?: $(cat "$work/rank$r.out")"
    grep -qx "rank $r/$n ok" "$work/rank$r.out" || fail "rank $r printed: $(cat "$work/rank$r.out")"
  done
  echo "$prog: $n ranks ok"
}
