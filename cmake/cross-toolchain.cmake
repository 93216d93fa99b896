# Cross-compiling for a Debian architecture with Debian's cross gcc
# (crossbuild-essential-ARCH) against a sysroot of that architecture's -dev
# packages (scripts/cross-sysroot.sh). scripts/test-cross.sh passes:
#   -DOCIPIPE_CROSS_ARCH=arm64|ppc64el -DOCIPIPE_CROSS_SYSROOT=DIR
if(OCIPIPE_CROSS_ARCH STREQUAL "arm64")
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
  set(OCIPIPE_CROSS_TRIPLET aarch64-linux-gnu)
elseif(OCIPIPE_CROSS_ARCH STREQUAL "ppc64el")
  set(CMAKE_SYSTEM_PROCESSOR ppc64le)
  set(OCIPIPE_CROSS_TRIPLET powerpc64le-linux-gnu)
else()
  message(FATAL_ERROR "OCIPIPE_CROSS_ARCH must be arm64 or ppc64el, not '${OCIPIPE_CROSS_ARCH}'")
endif()
# try_compile projects see these too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES OCIPIPE_CROSS_ARCH OCIPIPE_CROSS_SYSROOT)

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${OCIPIPE_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${OCIPIPE_CROSS_TRIPLET}-g++)
set(CMAKE_SYSROOT ${OCIPIPE_CROSS_SYSROOT})
set(CMAKE_LIBRARY_ARCHITECTURE ${OCIPIPE_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH ${OCIPIPE_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The sysroot's .pc files, their paths prefixed with the sysroot.
set(ENV{PKG_CONFIG_LIBDIR}
    "${OCIPIPE_CROSS_SYSROOT}/usr/lib/${OCIPIPE_CROSS_TRIPLET}/pkgconfig:${OCIPIPE_CROSS_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${OCIPIPE_CROSS_SYSROOT})
set(ENV{PKG_CONFIG_PATH} "")
# The tests run the target's binaries (qemu-user through binfmt_misc, libraries
# from the sysroot: QEMU_LD_PREFIX, set by scripts/test-cross.sh).
set(CMAKE_CROSSCOMPILING_EMULATOR "")
