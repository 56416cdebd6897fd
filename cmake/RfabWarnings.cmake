# Warnings are on for every rfab target and kept clean.
function(rfab_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                         -Wno-sign-conversion -Wnon-virtual-dtor -Wimplicit-fallthrough)
endfunction()

# Defines a component library rfab_<name> with public headers under <dir>/include.
function(rfab_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(rfab_${name} ${ARG_SOURCES})
  add_library(rfab::${name} ALIAS rfab_${name})
  target_include_directories(rfab_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(rfab_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  rfab_target_warnings(rfab_${name})
endfunction()
