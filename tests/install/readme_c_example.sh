#!/usr/bin/env bash
# The README's "Use from C and C++" program, as printed there, built with `pkg-config --cflags --libs rfab`
# against the installed tree and run under the installed `rfab run -n 2`: both ranks print the sums.
# Usage: readme_c_example.sh PREFIX LIBDIR SOURCE_DIR WORK_DIR CC
source "$(dirname "$0")/common.sh"
prefix=$1 libdir=$2 src=$3 work=$4 cc=$5
need_tool pkg-config pkg-config

rm -rf "$work" && mkdir -p "$work"
# The first ```c block after the heading.
awk '/^## Use from C and C\+\+/ {s=1} s && /^```c$/ {p=1; next} p && /^```/ {exit} p' "$src/README.md" >"$work/hello.c"
[ -s "$work/hello.c" ] || fail "no C example under '## Use from C and C++' in README.md"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" LD_LIBRARY_PATH="$prefix/$libdir"
# shellcheck disable=SC2046,SC2086  # the flags are words
"$cc" -Wall -Wextra -Werror ${RFAB_CONSUMER_CFLAGS:-} "$work/hello.c" $(pkg-config --cflags --libs rfab) \
  -o "$work/hello" || fail "the README's C example does not compile with pkg-config's flags"
out=$(timeout 40 "$prefix/bin/rfab" run -n 2 --bind-to none -- "$work/hello" 2>&1) ||
  fail "rfab run -n 2 -- hello: $out"
echo "$out"
for r in 0 1; do
  grep -qx "\[$r\] rank $r of 2: 2 4 6 1" <<<"$out" || fail "rank $r did not print its sums"
done
