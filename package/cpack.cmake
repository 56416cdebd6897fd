# The Debian package (`cpack -G DEB` in the build directory, or the `package` target): everything
# `cmake --install` puts down, under /usr. Its dependencies come from dpkg-shlibdeps on librfab.so and the
# CLI (libibverbs1, zlib1g, libbpf1, libpcap0.8, libstdc++6, ...), so they follow what is really linked.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rfab)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "rfab")
set(CPACK_PACKAGE_CONTACT "rfab maintainers <rfab@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "RoCE v2 fabric toolkit: collectives library (librfab.so, C API) and the rfab CLI")
set(CPACK_PACKAGE_DESCRIPTION
  "librfab.so: NCCL-shaped collectives over host memory (shared memory within a host, RoCE v2 between\n"
  "hosts through rfab's user-space RC engine over kernel UDP, or libibverbs), with its C header rfab/rfab.h,\n"
  "pkg-config file rfab.pc and CMake package (find_package(rfab) -> rfab::rfab).\n"
  "The rfab command: RoCE v2 decode/synth, doctor, perftest-style perf, collectives benchmarks and the rfab\n"
  "run launcher, eBPF telemetry, and a packet-level fabric emulator.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # rfab_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Stripped like any Debian binary package (the RelWithDebInfo build's debug info stays in the build tree).
set(CPACK_STRIP_FILES ON)
# A shlibs file (so packages built against librfab depend on this one) and the ldconfig trigger.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
include(CPack)
