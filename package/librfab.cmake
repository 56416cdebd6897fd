# librfab.so: the collectives' C API (rfab/rfab.h) as one shared library with a versioned soname.
#
# It is made of the objects of rfab_collectives plus what they pull from the other static rfab libraries,
# the same archives the CLI and the tests link. Those archives are therefore compiled position-independent
# and with hidden visibility; rfab.h marks its own declarations default-visible, and rfab.map keeps the rest
# (standard-library template instantiations, which libstdc++'s headers mark visible) out of the dynamic
# symbol table. The result exports exactly the functions rfab.h declares (test: install.exported_symbols).

# rfab_static_closure(OUT root): root and every static library of this project it links, directly or not.
function(rfab_static_closure out root)
  set(seen "")
  set(todo ${root})
  while(todo)
    list(POP_FRONT todo t)
    get_target_property(aliased ${t} ALIASED_TARGET)
    if(aliased)
      set(t ${aliased})
    endif()
    get_target_property(type ${t} TYPE)
    get_target_property(imported ${t} IMPORTED)
    if(t IN_LIST seen OR imported OR NOT type STREQUAL "STATIC_LIBRARY")
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(deps ${t} LINK_LIBRARIES)
    foreach(d IN LISTS deps)
      if(TARGET "${d}")  # skips system libraries (rt), generator expressions and directory markers
        list(APPEND todo ${d})
      endif()
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

rfab_static_closure(RFAB_SHARED_PARTS rfab_collectives)
set_target_properties(${RFAB_SHARED_PARTS} PROPERTIES
  POSITION_INDEPENDENT_CODE ON
  C_VISIBILITY_PRESET hidden
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON)
string(REPLACE ";" " " parts "${RFAB_SHARED_PARTS}")
rfab_summary("librfab.so ${PROJECT_VERSION} (C API) from: ${parts}")

# The target is rfab_shared because `rfab` is the CLI; the file is librfab.so and the exported name rfab::rfab.
add_library(rfab_shared SHARED $<TARGET_OBJECTS:rfab_collectives>)
add_library(rfab::rfab ALIAS rfab_shared)
# The archive again, for its dependencies (the other rfab archives, libibverbs, zlib, pthread, rt); its own
# objects are already in.
target_link_libraries(rfab_shared PRIVATE rfab_collectives)
target_include_directories(rfab_shared INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/collectives/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set(RFAB_VERSION_SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/rfab.map)
target_link_options(rfab_shared PRIVATE
  "LINKER:--version-script=${RFAB_VERSION_SCRIPT}"
  "LINKER:--as-needed")  # DT_NEEDED only for libraries it really calls into
# Every symbol resolved at link time, not at a user's dlopen. Not with sanitizers: clang leaves the ASan
# runtime's symbols for the executable to provide.
if(NOT RFAB_SANITIZE)
  target_link_options(rfab_shared PRIVATE "LINKER:--no-undefined")
endif()
set_target_properties(rfab_shared PROPERTIES
  OUTPUT_NAME rfab
  EXPORT_NAME rfab
  LINKER_LANGUAGE CXX
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${RFAB_VERSION_SCRIPT})
