#!/usr/bin/env bash
# A C program built against the installed tree with `pkg-config --cflags --libs rfab` alone, run as 2 ranks
# with LD_LIBRARY_PATH pointing into the tree.
# Usage: pkgconfig_program.sh PREFIX LIBDIR SOURCE_DIR WORK_DIR CC VERSION
source "$(dirname "$0")/common.sh"
prefix=$1 libdir=$2 src=$3 work=$4 cc=$5 version=$6
need_tool pkg-config pkg-config
need_tool ldd libc-bin

rm -rf "$work" && mkdir -p "$work"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
got=$(pkg-config --modversion rfab) || fail "pkg-config does not find rfab in $PKG_CONFIG_PATH"
[ "$got" = "$version" ] || fail "pkg-config says rfab $got, expected $version"
# The .pc file derives its prefix from where it lies.
[ "$(realpath "$(pkg-config --variable=libdir rfab)")" = "$(realpath "$prefix/$libdir")" ] ||
  fail "pkg-config libdir $(pkg-config --variable=libdir rfab) is not $prefix/$libdir"
flags=$(pkg-config --cflags --libs rfab)
echo "pkg-config --cflags --libs rfab: $flags"
# shellcheck disable=SC2086  # the flags are words
"$cc" -std=c11 -Wall -Wextra -Werror ${RFAB_CONSUMER_CFLAGS:-} "$src/tests/install/allreduce_check.c" $flags \
  -o "$work/allreduce_check" ||
  fail "compiling with pkg-config's flags"

export LD_LIBRARY_PATH="$prefix/$libdir"
resolved=$(ldd "$work/allreduce_check" | awk '/librfab\.so/ {print $3}')
if [ -z "$resolved" ] || [ "$(dirname "$(realpath "$resolved")")" != "$(realpath "$prefix/$libdir")" ]; then
  fail "librfab resolves to '$resolved', not into $prefix/$libdir"
fi
run_ranks "$work/allreduce_check" 2 "$work"
