# DlockPackaging: Debian packages with CPack, one per install component
# (cmake/DlockInstall.cmake, cli/):
#   cpack -G DEB     (in the build directory)
# gives dlock_VERSION_ARCH.deb (the CLI, its man page and completions), libdlock-dev
# (headers, static libraries or the .so links, CMake and pkg-config files) and, in a
# shared build (-DBUILD_SHARED_LIBS=ON), libdlock0.1 (the shared libraries). Their runtime
# dependencies come from dpkg-shlibdeps; libdlock-dev's are the -dev packages its CMake
# and pkg-config files need. Everything goes under /usr; configure with
# -DCMAKE_INSTALL_PREFIX=/usr so that GNUInstallDirs picks Debian's multiarch libdir
# (lib/x86_64-linux-gnu).
set(CPACK_PACKAGE_NAME dlock)
set(CPACK_PACKAGE_VENDOR "dlock")
set(CPACK_PACKAGE_CONTACT "dlock maintainers <dlock@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Distributed locks that are safe, fast and observable")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_COMPONENTS_ALL cli dev)
set(CPACK_COMPONENT_CLI_DESCRIPTION
    "dlock: run commands under distributed locks (file://, Redis, Redlock, etcd, ZooKeeper)")
set(CPACK_DEBIAN_CLI_PACKAGE_NAME dlock)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libdlock-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "dlock: distributed locks for C++20 (headers, libraries, CMake and pkg-config files)")

# What libdlock-dev's users compile and link against: the -dev packages of the libraries
# its CMake package and pkg-config files name (all of them when static).
set(dev_depends libfmt-dev pkg-config)
if(TARGET dlock_redis AND NOT BUILD_SHARED_LIBS)
  list(APPEND dev_depends libhiredis-dev libssl-dev)
endif()
if(TARGET dlock_etcd AND NOT BUILD_SHARED_LIBS)
  # gRPC's CMake package checks that its code generators are there.
  list(APPEND dev_depends libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc libssl-dev)
endif()
if(TARGET dlock_zookeeper AND NOT BUILD_SHARED_LIBS)
  list(APPEND dev_depends libzookeeper-mt-dev libssl-dev)
endif()
if(TARGET dlock_postgres AND NOT BUILD_SHARED_LIBS)
  list(APPEND dev_depends libpq-dev)
endif()
if(TARGET dlock_prometheus)
  list(APPEND dev_depends prometheus-cpp-dev)
endif()
list(REMOVE_DUPLICATES dev_depends)
list(JOIN dev_depends ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS)

if(BUILD_SHARED_LIBS)
  list(APPEND CPACK_COMPONENTS_ALL runtime)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libdlock${DLOCK_SOVERSION})
  set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "dlock: distributed locks for C++20 (shared libraries)")
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_GENERATE_SHLIBS ON)
  set(CPACK_COMPONENT_DEV_DEPENDS runtime)
  set(CPACK_COMPONENT_CLI_DEPENDS runtime)
  # dpkg-shlibdeps resolves the CLI's libdlock_*.so.0.1 in the build tree; the dependency
  # on libdlock0.1 is CPACK_COMPONENT_CLI_DEPENDS.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/lib)
endif()

include(CPack)
