#!/usr/bin/env bash
# `cmake --install` of the build tree into PREFIX (the fixture of the other install tests), then checks what
# landed there: the expected files, the soname links, and no absolute path of the build or source tree in
# the installed text files or in a run path.
# Usage: install_tree.sh BUILD_DIR SOURCE_DIR PREFIX LIBDIR VERSION SOVERSION
source "$(dirname "$0")/common.sh"
build=$1 src=$2 prefix=$3 libdir=$4 version=$5 soversion=$6
need_tool readelf binutils

rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null || fail "cmake --install $build --prefix $prefix"

expect=(bin/rfab include/rfab/rfab.h include/rfab/rfab.hpp
        "$libdir/librfab.so" "$libdir/librfab.so.$soversion" "$libdir/librfab.so.$version"
        "$libdir/pkgconfig/rfab.pc" "$libdir/cmake/rfab/rfabConfig.cmake"
        "$libdir/cmake/rfab/rfabConfigVersion.cmake" "$libdir/cmake/rfab/rfabTargets.cmake"
        share/doc/rfab/README.md share/doc/rfab/docs/collectives.md share/doc/rfab/docs/install.md)
for f in "${expect[@]}"; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
[ "$(readlink "$prefix/$libdir/librfab.so")" = "librfab.so.$soversion" ] || fail "librfab.so does not link to the soname"
[ "$(readlink "$prefix/$libdir/librfab.so.$soversion")" = "librfab.so.$version" ] || fail "the soname does not link to librfab.so.$version"
# Only the public headers: nothing of rfab's internal rfab/<component>/ trees.
extra=$(find "$prefix/include" -type f ! -name rfab.h ! -name rfab.hpp)
[ -z "$extra" ] || fail "internal headers installed: $extra"

# Relocatable: no build or source path in the installed text files, no run path into the build tree.
if grep -rlF -e "$build" -e "$src" "$prefix/include" "$prefix/$libdir/pkgconfig" "$prefix/$libdir/cmake"; then
  fail "the files above name the build or source tree"
fi
for bin in "$prefix/bin/rfab" "$prefix/$libdir/librfab.so.$version"; do
  if readelf -d "$bin" | grep -E "RPATH|RUNPATH"; then fail "$bin has a run path"; fi
done
# The verbs provider when this build has it: installed next to librfab.so, without a run path, and the
# installed `rfab softroce shell` preloads the installed copy (not the build tree's).
if [ -e "$build/lib/librfab-verbs.so" ]; then
  provider="$prefix/$libdir/librfab-verbs.so"
  [ -e "$provider" ] || fail "not installed: $libdir/librfab-verbs.so"
  if readelf -d "$provider" | grep -E "RPATH|RUNPATH"; then fail "$provider has a run path"; fi
  # Not in a sanitized build: the shell would preload a library carrying the ASan runtime into plain sh.
  if [[ "${RFAB_CONSUMER_CFLAGS:-}" != *sanitize* ]]; then
    preload=$("$prefix/bin/rfab" softroce shell -- sh -c 'echo "$LD_PRELOAD"') || fail "installed rfab softroce shell failed"
    [ "$(realpath "$preload")" = "$(realpath "$provider")" ] ||
      fail "installed rfab softroce shell preloads '$preload', not the installed $provider"
  fi
fi
echo "installed $(find "$prefix" -type f | wc -l) files into $prefix"
