/* SPDX-License-Identifier: MIT */
/*
 * vigil's release version, the one source of it: CMakeLists.txt reads these
 * three numbers for the project version, the sonames' minor versions and
 * the pkg-config and CMake package versions.
 *
 * The macros say which headers a program was compiled against;
 * vigil_version() (wire.h) and vigil_host_version() (session.h) say which
 * library it runs with. docs/abi.md says what may change between versions.
 */
#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

#define VIGIL_VERSION_MAJOR 0
#define VIGIL_VERSION_MINOR 1
#define VIGIL_VERSION_PATCH 0

/* One number that compares: MAJOR * 1000000 + MINOR * 1000 + PATCH. */
#define VIGIL_VERSION_ENCODE(major, minor, patch) ((major)*1000000u + (minor)*1000u + (patch))
#define VIGIL_VERSION_NUMBER                                                                       \
	VIGIL_VERSION_ENCODE(VIGIL_VERSION_MAJOR, VIGIL_VERSION_MINOR, VIGIL_VERSION_PATCH)

#define VIGIL_VERSION_STR_(x) #x
#define VIGIL_VERSION_STR(x)  VIGIL_VERSION_STR_(x)
/* "0.1.0" */
#define VIGIL_VERSION_STRING                                                                       \
	VIGIL_VERSION_STR(VIGIL_VERSION_MAJOR)                                                     \
	"." VIGIL_VERSION_STR(VIGIL_VERSION_MINOR) "." VIGIL_VERSION_STR(VIGIL_VERSION_PATCH)

#endif /* VIGIL_VERSION_H */
