#!/usr/bin/env bash
# A CMake project using find_package(rfab) + rfab::rfab (tests/install/find_package), configured against the
# installed tree through CMAKE_PREFIX_PATH only, built, and run as 3 ranks under the installed `rfab run`
# (launcher environment: rfabCommInitFromEnv). The imported target's run path finds librfab.so.
# Usage: find_package_program.sh PREFIX SOURCE_DIR WORK_DIR VERSION GENERATOR C_COMPILER
source "$(dirname "$0")/common.sh"
prefix=$1 src=$2 work=$3 version=$4 generator=$5 cc=$6

rm -rf "$work"
cmake -S "$src/tests/install/find_package" -B "$work" -G "$generator" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" -DRFAB_EXPECT_VERSION="$version" -DCMAKE_C_FLAGS="${RFAB_CONSUMER_CFLAGS:-}" \
  >"$work.configure.log" 2>&1 ||
  fail "configuring the find_package project: $(cat "$work.configure.log")"
grep -q "^rfab_DIR:PATH=$prefix/" "$work/CMakeCache.txt" || fail "rfab found outside $prefix: $(grep rfab_DIR "$work/CMakeCache.txt")"
cmake --build "$work" || fail "building the find_package project"
out=$(timeout 40 "$prefix/bin/rfab" run -n 3 --bind-to none -- "$work/allreduce_check" 2>&1) ||
  fail "rfab run -n 3 -- allreduce_check: $out"
for r in 0 1 2; do
  grep -q "rank $r/3 ok" <<<"$out" || fail "rank $r did not finish: $out"
done
echo "$out"
