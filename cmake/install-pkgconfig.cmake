# Runs at install time (vigil_install_pkgconfig, VigilLibrary.cmake): writes
# one .pc file for the prefix the install goes to, then installs it under
# LIBDIR/pkgconfig (DESTDIR honoured, listed in install_manifest.txt).
# In:  VIGIL_PC_IN, VIGIL_PC_OUT, VIGIL_PC_LIBDIR, VIGIL_PC_INCLUDEDIR,
#      VIGIL_PC_VERSION, VIGIL_PC_JSONC_LIBS, and CMAKE_INSTALL_PREFIX as
#      cmake --install sets it.
# The .pc.in sees @prefix@, @libdir@, @includedir@, @version@, @jsonc_libs@.
set(prefix "${CMAKE_INSTALL_PREFIX}")
foreach(d libdir includedir)
  string(TOUPPER "${d}" D)
  if(IS_ABSOLUTE "${VIGIL_PC_${D}}")
    set(${d} "${VIGIL_PC_${D}}")
  else()
    set(${d} "\${prefix}/${VIGIL_PC_${D}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${VIGIL_PC_LIBDIR}")
  set(dest "${VIGIL_PC_LIBDIR}/pkgconfig")
else()
  set(dest "${CMAKE_INSTALL_PREFIX}/${VIGIL_PC_LIBDIR}/pkgconfig")
endif()
set(version "${VIGIL_PC_VERSION}")
set(jsonc_libs "${VIGIL_PC_JSONC_LIBS}")
configure_file("${VIGIL_PC_IN}" "${VIGIL_PC_OUT}" @ONLY)
file(INSTALL DESTINATION "${dest}" TYPE FILE FILES "${VIGIL_PC_OUT}")
