# How vigil's public libraries (libvigil-wire, libvigil-host, the guest
# client libvigil-agent) are built and installed, in one place so the three
# stay alike (docs/abi.md is the policy this carries out).
#
# vigil_public_library(BASE EXPORT name OBJECTS objlib MAP file.map
# [OUTPUT libname]) makes, from the objects of one OBJECT library (compiled
# once), with OUT the file name (OUTPUT, else BASE):
#   BASE          the shared library, libOUT.so.0: it exports exactly the
#                 names in MAP, each with its symbol version (VIGIL_0.1, ...);
#                 installed as vigil::<name>.
#   BASE-archive  the installed static archive libOUT.a: the objects
#                 prelinked into one (ld -r) whose hidden symbols are then
#                 made local (objcopy --localize-hidden), so the internal
#                 names (trk_new, flows_new, crc32c_raw_sw, ...) are gone from
#                 its symbol table and a program that defines its own links
#                 with it; installed as vigil::<name>_static.
#   BASE-static   the same objects as a plain archive (libOUT-internal.a)
#                 with the internal names still global: unit tests, benches
#                 and the CLI reach the internal modules through it. Never
#                 installed.
# Internal means hidden: everything is compiled with -fvisibility=hidden and
# the public headers mark the API VIGIL_API (default visibility).
# tests/install checks both the map and the installed files.
#
# vigil_install_pkgconfig(file.pc.in) installs a .pc written at install time,
# so that `cmake --install build --prefix P` gives .pc files that name P.

function(vigil_public_library base)
  cmake_parse_arguments(L "" "EXPORT;OBJECTS;MAP;OUTPUT" "" ${ARGN})
  if(NOT L_OUTPUT)
    set(L_OUTPUT ${base})
  endif()
  set(objs $<TARGET_OBJECTS:${L_OBJECTS}>)
  set(map ${CMAKE_CURRENT_SOURCE_DIR}/${L_MAP})

  add_library(${base} SHARED ${objs})
  target_link_options(${base} PRIVATE -Wl,--version-script=${map})
  set_target_properties(${base} PROPERTIES
    OUTPUT_NAME ${L_OUTPUT} EXPORT_NAME ${L_EXPORT} LINKER_LANGUAGE C LINK_DEPENDS ${map}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})

  add_library(${base}-static STATIC ${objs})
  set_target_properties(${base}-static PROPERTIES
    OUTPUT_NAME ${L_OUTPUT}-internal LINKER_LANGUAGE C)

  set(pre ${CMAKE_CURRENT_BINARY_DIR}/${base}-prelinked.o)
  add_custom_command(OUTPUT ${pre}
    COMMAND ${CMAKE_LINKER} -r -o ${pre}.tmp ${objs}
    COMMAND ${CMAKE_OBJCOPY} --localize-hidden ${pre}.tmp ${pre}
    COMMAND ${CMAKE_COMMAND} -E rm -f ${pre}.tmp
    DEPENDS ${objs} ${L_OBJECTS}
    COMMAND_EXPAND_LISTS VERBATIM
    COMMENT "Prelinking lib${L_OUTPUT}.a (internal names made local)")
  add_library(${base}-archive STATIC ${pre})
  set_target_properties(${base}-archive PROPERTIES
    OUTPUT_NAME ${L_OUTPUT} EXPORT_NAME ${L_EXPORT}_static LINKER_LANGUAGE C)

  foreach(t ${base} ${base}-static ${base}-archive)
    target_include_directories(${t} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()

  install(TARGETS ${base} ${base}-archive EXPORT vigil-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()

function(vigil_install_pkgconfig in)
  get_filename_component(name ${in} NAME_WLE)
  install(CODE "
    set(VIGIL_PC_IN \"${CMAKE_CURRENT_SOURCE_DIR}/${in}\")
    set(VIGIL_PC_OUT \"${CMAKE_CURRENT_BINARY_DIR}/pc-install/${name}\")
    set(VIGIL_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
    set(VIGIL_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(VIGIL_PC_VERSION \"${PROJECT_VERSION}\")
    set(VIGIL_PC_JSONC_LIBS \"${VIGIL_JSONC_LIBS}\")
    include(\"${PROJECT_SOURCE_DIR}/cmake/install-pkgconfig.cmake\")")
endfunction()
