# The library other programs build on (issue 11): `cmake --install` puts
#   bin/ocipipe
#   lib/libocipipe.a, lib/libocipipe.so.0 (stages, io and pipeline in one library)
#   include/ocipipe/api.h and the stages/ headers it names (include/ is the only
#     include directory a program needs)
#   lib/cmake/ocipipe/ (find_package(ocipipe): targets ocipipe::ocipipe, shared,
#     and ocipipe::ocipipe_static) and lib/pkgconfig/ocipipe.pc
# into the prefix. A program includes <ocipipe/api.h>; examples/unpack builds
# against the installed package (tests/interop/install_test.cpp).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(OCIPIPE_LAYERS $<TARGET_OBJECTS:ocipipe_stages> $<TARGET_OBJECTS:ocipipe_io> $<TARGET_OBJECTS:ocipipe_pipeline>)
# The libraries' own link dependencies, as the layers name them privately.
set(OCIPIPE_LINK_DEPS TBB::tbb simdjson::simdjson OpenSSL::SSL OpenSSL::Crypto ocipipe_isal PkgConfig::ZSTD
    PkgConfig::ZLIB PkgConfig::DEFLATE PkgConfig::ARCHIVE PkgConfig::GPGME PkgConfig::SODIUM
    PkgConfig::YAMLCPP ${CMAKE_DL_LIBS})
# The same for a program linking the installed static library: plain library
# names, all in Debian's default search path (their pkg-config names are in
# ocipipe.pc's Requires.private).
set(OCIPIPE_STATIC_LIBS tbb simdjson ssl crypto zstd z deflate archive gpgme gpg-error sodium yaml-cpp)
if(ISAL_FOUND)
  list(INSERT OCIPIPE_STATIC_LIBS 4 isal)
endif()

set(OCIPIPE_INSTALL_INCLUDES ${CMAKE_INSTALL_INCLUDEDIR})

# The installed headers: api.h as include/ocipipe/api.h and the headers it
# names under include/ocipipe/stages/. In the source tree they include one
# another from the repository root ("stages/oci/digest.h"); the installed
# copies say the same relative to themselves ("digest.h"), so that no generic
# name like stages/ lands on a program's include path.
set(OCIPIPE_PUBLIC_HEADERS pipeline/api.h:. stages/reference.h:stages stages/oci/descriptor.h:stages/oci
    stages/oci/digest.h:stages/oci stages/oci/error.h:stages/oci)
set(OCIPIPE_HEADER_STAGE ${CMAKE_CURRENT_BINARY_DIR}/installed-include/ocipipe)
foreach(entry ${OCIPIPE_PUBLIC_HEADERS})
  string(REPLACE ":" ";" parts "${entry}")
  list(GET parts 0 src)
  list(GET parts 1 dest)
  file(READ ${CMAKE_CURRENT_SOURCE_DIR}/${src} text)
  if(dest STREQUAL "stages/oci")
    string(REPLACE "#include \"stages/oci/" "#include \"" text "${text}")
  elseif(dest STREQUAL "stages")
    string(REPLACE "#include \"stages/" "#include \"" text "${text}")
  endif()
  if(text MATCHES "#include \"(io|pipeline)/")
    message(FATAL_ERROR "${src} is installed but includes an internal header: ${CMAKE_MATCH_0}")
  endif()
  get_filename_component(name ${src} NAME)
  file(GENERATE OUTPUT ${OCIPIPE_HEADER_STAGE}/${dest}/${name} CONTENT "${text}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src})
  install(FILES ${OCIPIPE_HEADER_STAGE}/${dest}/${name} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ocipipe/${dest})
endforeach()

add_library(ocipipe_shared SHARED ${OCIPIPE_LAYERS})
set_target_properties(ocipipe_shared PROPERTIES OUTPUT_NAME ocipipe EXPORT_NAME ocipipe
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
target_link_libraries(ocipipe_shared PUBLIC tl::expected PRIVATE ${OCIPIPE_LINK_DEPS})
target_include_directories(ocipipe_shared INTERFACE "$<INSTALL_INTERFACE:${OCIPIPE_INSTALL_INCLUDES}>")

add_library(ocipipe_static STATIC ${OCIPIPE_LAYERS})
set_target_properties(ocipipe_static PROPERTIES OUTPUT_NAME ocipipe EXPORT_NAME ocipipe_static)
target_link_libraries(ocipipe_static PUBLIC tl::expected
  "$<BUILD_INTERFACE:${OCIPIPE_LINK_DEPS}>" "$<INSTALL_INTERFACE:${OCIPIPE_STATIC_LIBS}>")
target_include_directories(ocipipe_static INTERFACE "$<INSTALL_INTERFACE:${OCIPIPE_INSTALL_INCLUDES}>")

install(TARGETS ocipipe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ocipipe_shared ocipipe_static EXPORT ocipipeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(OCIPIPE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ocipipe)
install(EXPORT ocipipeTargets NAMESPACE ocipipe:: DESTINATION ${OCIPIPE_CMAKE_DIR})
configure_package_config_file(cmake/ocipipeConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/ocipipeConfig.cmake
  INSTALL_DESTINATION ${OCIPIPE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/ocipipeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/ocipipeConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/ocipipeConfigVersion.cmake
  DESTINATION ${OCIPIPE_CMAKE_DIR})

# ocipipe.pc finds its prefix from where it lies (${pcfiledir}), so a package
# installed with `cmake --install --prefix DIR` anywhere is found as it is.
file(RELATIVE_PATH OCIPIPE_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" OCIPIPE_PC_TO_PREFIX "${OCIPIPE_PC_TO_PREFIX}")
list(JOIN OCIPIPE_STATIC_LIBS " -l" OCIPIPE_PC_LIBS_PRIVATE)
set(OCIPIPE_PC_LIBS_PRIVATE "-l${OCIPIPE_PC_LIBS_PRIVATE}")
configure_file(cmake/ocipipe.pc.in ${CMAKE_CURRENT_BINARY_DIR}/ocipipe.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/ocipipe.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
