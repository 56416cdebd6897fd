# Building BPF programs at build time: clang -target bpf, then a libbpf skeleton header from bpftool.

# rfab_bpf_object(OUT obj SOURCE src [DEPENDS files...] [FLAGS flags...]): compiles one BPF C file.
function(rfab_bpf_object)
  cmake_parse_arguments(ARG "" "OUT;SOURCE" "DEPENDS;FLAGS" ${ARGN})
  get_filename_component(name ${ARG_OUT} NAME)
  add_custom_command(OUTPUT ${ARG_OUT}
    COMMAND ${BPF_CLANG} -target bpf -mcpu=v3 -O2 -g -Wall ${ARG_FLAGS} -c ${ARG_SOURCE} -o ${ARG_OUT}
    DEPENDS ${ARG_SOURCE} ${ARG_DEPENDS}
    COMMENT "clang -target bpf: ${name}"
    VERBATIM)
endfunction()

# rfab_bpf_skeleton(NAME name OBJECT obj): `bpftool gen skeleton` into <obj's folder>/<name>.skel.h.
function(rfab_bpf_skeleton)
  cmake_parse_arguments(ARG "" "NAME;OBJECT" "" ${ARGN})
  get_filename_component(dir ${ARG_OBJECT} DIRECTORY)
  add_custom_command(OUTPUT ${dir}/${ARG_NAME}.skel.h
    COMMAND sh -c "'${BPFTOOL}' gen skeleton '${ARG_OBJECT}' name ${ARG_NAME} > '${dir}/${ARG_NAME}.skel.h.tmp'"
    COMMAND ${CMAKE_COMMAND} -E rename ${dir}/${ARG_NAME}.skel.h.tmp ${dir}/${ARG_NAME}.skel.h
    DEPENDS ${ARG_OBJECT}
    COMMENT "bpftool gen skeleton: ${ARG_NAME}.skel.h"
    VERBATIM)
endfunction()
