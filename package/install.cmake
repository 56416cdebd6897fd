# `cmake --install`: the C API's headers, librfab.so, the `rfab` CLI, the docs, rfab.pc for pkg-config and the
# rfab CMake package (find_package(rfab) -> rfab::rfab). Every installed file finds the others by relative
# paths, so the tree works wherever it is installed (`--prefix`, a .deb, a copied directory).
include(CMakePackageConfigHelpers)

install(TARGETS rfab_shared EXPORT rfabTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# rfab.h is the API; rfab.hpp is a header-only C++ wrapper over it (nothing else from rfab/ is public).
install(FILES ${PROJECT_SOURCE_DIR}/collectives/include/rfab/rfab.h
              ${PROJECT_SOURCE_DIR}/collectives/include/rfab/rfab.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/rfab)
install(TARGETS rfab RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB RFAB_DOCS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${RFAB_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# pkg-config: prefix is found from the .pc file's own place (${pcfiledir}), not written in.
set(RFAB_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH RFAB_PC_TO_PREFIX /prefix/${RFAB_PKGCONFIG_DIR} /prefix)
string(REGEX REPLACE "/$" "" RFAB_PC_TO_PREFIX "${RFAB_PC_TO_PREFIX}")
configure_file(rfab.pc.in rfab.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/rfab.pc DESTINATION ${RFAB_PKGCONFIG_DIR})

# CMake package: rfabTargets.cmake (generated, relocatable through _IMPORT_PREFIX) + config + version.
set(RFAB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/rfab)
install(EXPORT rfabTargets NAMESPACE rfab:: DESTINATION ${RFAB_CMAKE_DIR})
configure_package_config_file(rfabConfig.cmake.in rfabConfig.cmake INSTALL_DESTINATION ${RFAB_CMAKE_DIR})
# 0.x: a new minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(rfabConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/rfabConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/rfabConfigVersion.cmake
        DESTINATION ${RFAB_CMAKE_DIR})

# The user-space verbs provider (fabric/uverbs), next to librfab.so: `rfab softroce shell` looks for it in
# ../lib/ and ../lib/x86_64-linux-gnu/ from its own binary, so the installed CLI finds the installed library.
if(TARGET rfab_verbs_provider)
  install(TARGETS rfab_verbs_provider LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
