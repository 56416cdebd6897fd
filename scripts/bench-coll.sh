#!/usr/bin/env bash
# Side-by-side collective benchmark on one machine: rfab (shared memory) vs OpenMPI (its default
# shared-memory transport) vs Gloo (TCP over loopback), same sizes and busbw factors, one table per
# collective with ratios. Usage: scripts/bench-coll.sh [BUILD_DIR] [NRANKS] [MIN] [MAX] [ITERS]
#   e.g. scripts/bench-coll.sh build/release 2 8 256M 20
# Needs: rfab, bench_coll_mpi (OpenMPI) and bench_coll_gloo (Gloo) built in BUILD_DIR (RFAB_BUILD_BENCH=ON).
set -euo pipefail
BUILD=${1:-build/release}
N=${2:-2}
MIN=${3:-8}
MAX=${4:-256M}
ITERS=${5:-20}
COLLS=${COLLS:-"allreduce allgather reducescatter alltoall broadcast"}
# REPEAT (default 1): the tools run in turn REPEAT times and each figure is the median of its runs, so a
# burst of load on a shared machine moves one run, not the table.
REPEAT=${REPEAT:-1}
# LAT_ITERS (default 20000, 0 = off): a latency pass per collective at LAT_SIZE bytes (8) for rfab and
# OpenMPI, LAT_ITERS calls after LAT_ITERS/10 warm-up calls. A sub-microsecond call timed over the table's
# ITERS calls (its first size, too) measures start-up and one descheduling as much as the call.
LAT_ITERS=${LAT_ITERS:-20000}
LAT_SIZE=${LAT_SIZE:-8}
RFAB="$BUILD/cli/rfab"
MPI_BIN="$BUILD/bench/bench_coll_mpi"
GLOO_BIN="$BUILD/bench/bench_coll_gloo"
[ -x "$RFAB" ] || { echo "bench-coll: $RFAB not built" >&2; exit 2; }
OUT=$(mktemp -d /tmp/rfab-bench-coll.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
MPIRUN=(mpirun -np "$N" --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)

for RUN in $(seq 1 "$REPEAT"); do
for c in $COLLS; do
  echo "== run $RUN/$REPEAT, $c: rfab" >&2
  "$RFAB" run -n "$N" --no-prefix -- "$RFAB" coll "$c" -b "$MIN" -e "$MAX" -f 2 -n "$ITERS" -w 5 -c 0 --json \
    > "$OUT/rfab-$c.$RUN.json"
  if [ -x "$MPI_BIN" ] && command -v mpirun >/dev/null; then
    echo "== run $RUN/$REPEAT, $c: openmpi" >&2
    "${MPIRUN[@]}" "$MPI_BIN" "$c" -b "$MIN" -e "$MAX" -f 2 -n "$ITERS" -w 5 > "$OUT/mpi-$c.$RUN.json" 2>"$OUT/mpi-$c.err" \
      || { echo "openmpi $c failed: $(tail -3 "$OUT/mpi-$c.err")" >&2; : > "$OUT/mpi-$c.$RUN.json"; }
  fi
  if [ "$LAT_ITERS" -gt 0 ]; then
    echo "== run $RUN/$REPEAT, $c: latency at $LAT_SIZE B, $LAT_ITERS calls" >&2
    "$RFAB" run -n "$N" --no-prefix -- "$RFAB" coll "$c" -b "$LAT_SIZE" -e "$LAT_SIZE" -n "$LAT_ITERS" \
      -w $((LAT_ITERS / 10)) -c 0 --json > "$OUT/rfab-lat-$c.$RUN.json"
    if [ -x "$MPI_BIN" ] && command -v mpirun >/dev/null; then
      "${MPIRUN[@]}" "$MPI_BIN" "$c" -b "$LAT_SIZE" -e "$LAT_SIZE" -n "$LAT_ITERS" -w $((LAT_ITERS / 10)) \
        > "$OUT/mpi-lat-$c.$RUN.json" 2>"$OUT/mpi-lat-$c.err" || : > "$OUT/mpi-lat-$c.$RUN.json"
    fi
  fi
  if [ -x "$GLOO_BIN" ] && [[ "$c" == allreduce || "$c" == allgather || "$c" == broadcast ]]; then
    echo "== run $RUN/$REPEAT, $c: gloo" >&2
    mkdir -p "$OUT/gloo-store-$c.$RUN"  # Gloo's file store refuses keys left by an earlier run
    GLOO_STORE_DIR="$OUT/gloo-store-$c.$RUN" "$RFAB" run -n "$N" --no-prefix -- "$GLOO_BIN" "$c" -b "$MIN" -e "$MAX" -f 2 \
      -n "$ITERS" -w 5 > "$OUT/gloo-$c.$RUN.json" 2>"$OUT/gloo-$c.err" \
      || { echo "gloo $c failed: $(tail -3 "$OUT/gloo-$c.err")" >&2; : > "$OUT/gloo-$c.$RUN.json"; }
  fi
done
done

if [ -x "$BUILD/bench/bench_memcpy" ]; then echo "# machine: $("$BUILD/bench/bench_memcpy")"; fi
python3 - "$OUT" "$N" "$REPEAT" "$LAT_ITERS" $COLLS <<'PY'
import json, os, statistics, sys
out, n, repeat, lat_iters, colls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
def rows(stem):  # per size, the median over the runs that produced it
    per = {}
    for run in range(1, repeat + 1):
        for size, v in rows_one(f"{stem}.{run}.json").items():
            per.setdefault(size, []).append(v)
    return {s: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v), v[0][2]) for s, v in per.items()}
def rows_one(path):
    if not os.path.exists(path): return {}
    res = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"): continue
        j = json.loads(line)
        if "rows" in j:  # rfab coll --json
            for r in j["rows"]:
                res[r["size"]] = (r["out_of_place"]["time_us"], r["out_of_place"]["busbw_GBps"], r["algo"])
        else:
            res[j["size"]] = (j["time_us"], j["busbw_GBps"], "")
    return res
def ratio(a, b): return f"{a/b:6.2f}x" if b else "     -"
for c in colls:
    r, m, g = rows(f"{out}/rfab-{c}"), rows(f"{out}/mpi-{c}"), rows(f"{out}/gloo-{c}")
    print(f"# {c}, {n} ranks, float, out-of-place; busbw in GB/s, time in us; median of {repeat} runs")
    print(f"# {'size':>11} {'rfab us':>9} {'busbw':>7} {'algo':>5} | {'ompi us':>9} {'busbw':>7} {'rfab/ompi':>9} | {'gloo us':>9} {'busbw':>7} {'rfab/gloo':>9}")
    for size in sorted(r):
        rt, rb, algo = r[size]
        mt, mb, _ = m.get(size, (0, 0, ""))
        gt, gb, _ = g.get(size, (0, 0, ""))
        print(f"  {size:>11} {rt:>9.2f} {rb:>7.2f} {algo:>5} | {mt:>9.2f} {mb:>7.2f} {ratio(rb, mb):>9} | {gt:>9.2f} {gb:>7.2f} {ratio(rb, gb):>9}")
    rl, ml = rows(f"{out}/rfab-lat-{c}"), rows(f"{out}/mpi-lat-{c}")
    if rl and ml:
        size = min(rl)
        if size in ml:
            print(f"# latency at {size} B, {lat_iters} calls, median of {repeat} runs: rfab {rl[size][0]:.3f} us, "
                  f"openmpi {ml[size][0]:.3f} us (openmpi/rfab {ml[size][0]/rl[size][0]:.2f}x)")
    else:
        small = min(r) if r else None
        if small is not None and small in m:
            print(f"# latency at {small} B (the table's calls): rfab {r[small][0]:.2f} us, openmpi {m[small][0]:.2f} us ({m[small][0]/r[small][0]:.2f}x)")
    print()
PY
