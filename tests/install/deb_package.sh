#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` from the build tree, its control fields (name, version, maintainer,
# dependencies found by dpkg-shlibdeps, description, the shlibs file for librfab) and its file list; then the
# package is unpacked with `dpkg -x` (not installed) and the C check program is built against the unpacked
# tree with pkg-config and run, which shows the packaged tree is complete and relocatable.
# Usage: deb_package.sh BUILD_DIR SOURCE_DIR WORK_DIR VERSION SOVERSION LIBDIR CC DEPENDS (comma-separated)
source "$(dirname "$0")/common.sh"
build=$1 src=$2 work=$3 version=$4 soversion=$5 libdir=$6 cc=$7 expect_depends=$8
need_tool cpack cmake
need_tool dpkg-deb dpkg
need_tool dpkg-shlibdeps dpkg-dev
need_tool pkg-config pkg-config

rm -rf "$work" && mkdir -p "$work"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1 || fail "cpack: $(cat "$work/cpack.log")"
debs=("$work"/rfab_*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then fail "expected one rfab_*.deb in $work: $(ls "$work")"; fi
deb=${debs[0]}
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "rfab_${version}_${arch}.deb" ] || fail "package file is $(basename "$deb")"

info=$(dpkg-deb -I "$deb")
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = rfab ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
grep -q "librfab.so" <<<"$(field Description)" || fail "Description does not describe librfab.so: $(field Description)"
depends=$(field Depends)
depends_names=$(tr ',' '\n' <<<"$depends" | awk '{print $1}')
# What librfab.so links (ldd): dpkg-shlibdeps turns each library into its package.
for pkg in ${expect_depends//,/ }; do
  grep -qxF "$pkg" <<<"$depends_names" || fail "Depends lacks $pkg: $depends"
done
grep -q " shlibs" <<<"$info" || fail "no shlibs control file: $info"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./shlibs | grep -q "^librfab $soversion rfab" ||
  fail "shlibs does not map librfab $soversion to rfab"

list=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/rfab ./usr/include/rfab/rfab.h ./usr/include/rfab/rfab.hpp \
         "./usr/$libdir/librfab.so.$version" "./usr/$libdir/librfab.so.$soversion" "./usr/$libdir/librfab.so" \
         "./usr/$libdir/pkgconfig/rfab.pc" "./usr/$libdir/cmake/rfab/rfabConfig.cmake" \
         "./usr/$libdir/cmake/rfab/rfabTargets.cmake" ./usr/share/doc/rfab/README.md \
         ./usr/share/doc/rfab/docs/install.md; do
  grep -qxF "$f" <<<"$list" || fail "$f is not in the package: $list"
done

# Unpacked (not installed): the check program from the packaged .pc file, header and library.
dpkg -x "$deb" "$work/root"
export PKG_CONFIG_PATH="$work/root/usr/$libdir/pkgconfig"
# shellcheck disable=SC2046,SC2086  # the flags are words
"$cc" -std=c11 -Wall -Wextra -Werror ${RFAB_CONSUMER_CFLAGS:-} "$src/tests/install/allreduce_check.c" \
  $(pkg-config --cflags --libs rfab) \
  -o "$work/allreduce_check" || fail "compiling against the unpacked package"
LD_LIBRARY_PATH="$work/root/usr/$libdir" run_ranks "$work/allreduce_check" 2 "$work"
echo "$(basename "$deb"): $(du -h "$deb" | cut -f1), Depends: $depends"
