#!/usr/bin/env bash
# librfab.so exports exactly the functions rfab/rfab.h declares (no C++ internals, no standard-library
# instantiations), all under the version node RFAB_<soversion>, with soname librfab.so.<soversion>.
# Usage: exported_symbols.sh LIBRARY HEADER SOVERSION CC
source "$(dirname "$0")/common.sh"
lib=$1 header=$2 soversion=$3 cc=$4
need_tool nm binutils
need_tool readelf binutils

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "librfab.so.$soversion" ] || fail "soname is '$soname', expected librfab.so.$soversion"

# The header's functions, from the preprocessed header (comments gone; its usage example names calls too).
declared=$("$cc" -E -P -x c "$header" | grep -oE '\brfab[A-Za-z0-9_]*[[:space:]]*\(' | tr -d '( \t' | sort -u)
[ "$(wc -l <<<"$declared")" -ge 20 ] || fail "found only these functions in $header: $declared"

# nm -D --defined-only: "ADDRESS TYPE NAME@@VERSION"; the version node itself is an absolute (A) symbol.
dynsyms=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}')
exported=$(cut -d@ -f1 <<<"$dynsyms" | sort -u)
if [ "$declared" != "$exported" ]; then
  echo "exported but not declared in rfab.h:" >&2
  comm -13 <(echo "$declared") <(echo "$exported") | head -50 >&2
  echo "declared in rfab.h but not exported:" >&2
  comm -23 <(echo "$declared") <(echo "$exported") >&2
  fail "librfab.so's dynamic symbols differ from rfab.h's functions"
fi
unversioned=$(grep -v "@@RFAB_$soversion\$" <<<"$dynsyms" || true)
[ -z "$unversioned" ] || fail "symbols outside version node RFAB_$soversion: $unversioned"
# Every exported function is code, not data.
nontext=$(nm -D --defined-only "$lib" | awk '$2 != "A" && $2 != "T"')
[ -z "$nontext" ] || fail "exported symbols that are not functions: $nontext"
echo "librfab.so ($soname) exports the $(wc -l <<<"$exported") functions of rfab.h and nothing else"
