# DlockInstall: what `cmake --install` puts under the prefix (GNUInstallDirs), for the
# libraries; the CLI's own rules (program, man page, completions) are in cli/.
#   include/dlock/...                 the public headers (only those of the built parts)
#   lib/libdlock_*.a or .so.0.1.0     the libraries (SONAME libdlock_*.so.0.1)
#   lib/cmake/dlock/                  the CMake package: find_package(dlock 0.1 COMPONENTS ...)
#   lib/pkgconfig/dlock*.pc           pkg-config: dlock, dlock-core, dlock-redis, ...
#   share/dlock/fence.sql             the PostgreSQL guard's schema
# Install components (CPack's packages, cmake/DlockPackaging.cmake): `dev` (headers,
# static libraries and .so links, CMake and pkg-config files), `runtime` (the shared
# libraries), `cli` (the program and its documentation, in cli/).
#
# The package's components: core (dlock::core, ::memory, ::file, ::testing, always),
# redis (dlock::redis, ::redlock), etcd, zookeeper, postgres (the PostgreSQL guard),
# prometheus, and open (dlock::dlock: OpenBackend and OpenGuard over every backend of the
# build, so it loads them all). With no COMPONENTS, find_package loads every one built.
include(CMakePackageConfigHelpers)

set(DLOCK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dlock)
# While the major version is 0, a minor version may change the ABI: the SONAME carries
# both (libdlock_core.so.0.1), so a 0.2 is another library, never loaded by mistake.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(DLOCK_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(DLOCK_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()
set(DLOCK_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(BUILD_SHARED_LIBS)
  set(DLOCK_STATIC OFF)
else()
  set(DLOCK_STATIC ON)
endif()

# The components of this build, in the order of their dependencies.
set(DLOCK_COMPONENTS core)
foreach(c redis etcd zookeeper postgres prometheus)
  if(TARGET dlock_${c})
    list(APPEND DLOCK_COMPONENTS ${c})
  endif()
endforeach()
list(APPEND DLOCK_COMPONENTS open)

# dlock_install(COMPONENT c TARGETS t... [INTERNAL t...]): installs the library targets
# of component `c` into its export set (dlock::NAME for dlock_NAME, dlock::dlock for
# dlock). INTERNAL targets are static libraries linked into the others: a static build
# installs them too (their users' link lines need them), a shared one does not.
function(dlock_install)
  cmake_parse_arguments(I "" "COMPONENT" "TARGETS;INTERNAL" ${ARGN})
  set(targets ${I_TARGETS})
  if(NOT BUILD_SHARED_LIBS)
    list(APPEND targets ${I_INTERNAL})
  endif()
  foreach(t ${targets})
    string(REGEX REPLACE "^dlock_" "" name ${t})
    set_target_properties(${t} PROPERTIES EXPORT_NAME ${name})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "SHARED_LIBRARY")
      set_target_properties(${t} PROPERTIES
        VERSION ${PROJECT_VERSION} SOVERSION ${DLOCK_SOVERSION})
    endif()
  endforeach()
  install(TARGETS ${targets} EXPORT dlock-${I_COMPONENT}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
  install(EXPORT dlock-${I_COMPONENT} NAMESPACE dlock::
    FILE dlock-${I_COMPONENT}-targets.cmake DESTINATION ${DLOCK_CMAKE_DIR} COMPONENT dev)
endfunction()

dlock_install(COMPONENT core TARGETS dlock_core dlock_memory dlock_file dlock_testing)
if(TARGET dlock_redis)
  dlock_install(COMPONENT redis TARGETS dlock_redis dlock_redlock
    INTERNAL dlock_redis_common dlock_redis_client)
endif()
if(TARGET dlock_etcd)
  dlock_install(COMPONENT etcd TARGETS dlock_etcd INTERNAL dlock_etcdpb)
endif()
foreach(c zookeeper postgres prometheus)
  if(TARGET dlock_${c})
    dlock_install(COMPONENT ${c} TARGETS dlock_${c})
  endif()
endforeach()
dlock_install(COMPONENT open TARGETS dlock)

# The public headers, less those of the parts this build left out.
set(excluded)
foreach(c redis:backends/redis.h redis:backends/redis_sentinel.h redis:backends/redis_cluster.h redis:backends/redlock.h
          redis:fence/redis.h etcd:backends/etcd.h etcd:fence/etcd.h zookeeper:backends/zookeeper.h
          zookeeper:fence/zookeeper.h postgres:fence/postgres.h prometheus:prometheus.h)
  string(REPLACE ":" ";" pair ${c})
  list(GET pair 0 component)
  list(GET pair 1 header)
  if(NOT component IN_LIST DLOCK_COMPONENTS)
    list(APPEND excluded PATTERN ${header} EXCLUDE)
  endif()
endforeach()
install(DIRECTORY include/dlock DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.h" ${excluded})

install(FILES share/dlock/fence.sql DESTINATION ${CMAKE_INSTALL_DATADIR}/dlock COMPONENT cli)

# The CMake package.
configure_package_config_file(cmake/dlockConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/dlockConfig.cmake INSTALL_DESTINATION ${DLOCK_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/dlockConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/dlockConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/dlockConfigVersion.cmake
              cmake/FindZooKeeperMt.cmake
  DESTINATION ${DLOCK_CMAKE_DIR} COMPONENT dev)

# pkg-config: one file per library; dlock.pc is dlock::dlock (every backend of the build).
# A static build lists every library a link needs in Libs and Requires (the default
# install is static, and `pkg-config --libs` must give a link line that works); a shared
# one names only the dlock-* it builds on (and prometheus-cpp-core, whose types the
# adapter's API takes): each .so's DT_NEEDED brings the rest, and a Requires.private
# would make pkg-config look for -dev packages the consumer does not need.
set(pc_core_requires fmt)
set(pc_core_libs "-ldlock_core -pthread")
set(pc_memory_requires dlock-core)
set(pc_memory_libs "-ldlock_memory")
set(pc_file_requires dlock-core)
set(pc_file_libs "-ldlock_file")
set(pc_testing_requires dlock-core)
set(pc_testing_libs "-ldlock_testing")
set(pc_redis_requires dlock-core hiredis openssl fmt)
set(pc_redis_libs "-ldlock_redis")
set(pc_redis_internal "-ldlock_redis_common -ldlock_redis_client")
set(pc_redlock_requires dlock-core hiredis openssl fmt)
set(pc_redlock_libs "-ldlock_redlock")
set(pc_redlock_internal "-ldlock_redis_common -ldlock_redis_client")
set(pc_etcd_requires dlock-core grpc++ protobuf libcrypto fmt)
set(pc_etcd_libs "-ldlock_etcd")
set(pc_etcd_internal "-ldlock_etcdpb")
set(pc_zookeeper_requires dlock-core libssl libcrypto fmt)
set(pc_zookeeper_libs "-ldlock_zookeeper")
set(pc_zookeeper_system "-lzookeeper_mt")
set(pc_postgres_requires dlock-core libpq fmt)
set(pc_postgres_libs "-ldlock_postgres")
set(pc_prometheus_requires dlock-core)
set(pc_prometheus_public prometheus-cpp-core)
set(pc_prometheus_libs "-ldlock_prometheus")
set(pc_dlock_requires dlock-core dlock-file fmt)
set(pc_dlock_libs "-ldlock")
foreach(b redis redlock etcd zookeeper postgres)
  if(TARGET dlock_${b})
    list(APPEND pc_dlock_requires dlock-${b})
  endif()
endforeach()

# Relocatable: the prefix is found from the file's own directory, so a `cmake --install
# --prefix P` (or a package) need not have been configured for P.
file(RELATIVE_PATH PC_UP /pc/${DLOCK_PKGCONFIG_DIR} /pc)
set(pc_names core memory file testing)
foreach(b redis redlock etcd zookeeper postgres prometheus)
  if(TARGET dlock_${b})
    list(APPEND pc_names ${b})
  endif()
endforeach()
list(APPEND pc_names dlock)
foreach(n ${pc_names})
  if(n STREQUAL "dlock")
    set(PC_NAME dlock)
    set(PC_DESCRIPTION "dlock: distributed locks, OpenBackend over every backend of this build")
  else()
    set(PC_NAME dlock-${n})
    set(PC_DESCRIPTION "dlock: distributed locks, the ${n} library")
  endif()
  # dlock-core and the other dlock-* always; the third-party ones only when static.
  set(public "")
  foreach(r ${pc_${n}_requires})
    if(r MATCHES "^dlock-" OR DLOCK_STATIC)
      string(APPEND public " ${r}")
    endif()
  endforeach()
  if(DEFINED pc_${n}_public)
    string(APPEND public " ${pc_${n}_public}")
  endif()
  string(STRIP "${public}" PC_REQUIRES)
  set(PC_LIBS "${pc_${n}_libs}")
  set(PC_LIBS_PRIVATE "")
  if(DLOCK_STATIC)
    string(APPEND PC_LIBS " ${pc_${n}_internal} ${pc_${n}_system}")
  else()
    set(PC_LIBS_PRIVATE "${pc_${n}_system}")
  endif()
  string(STRIP "${PC_LIBS}" PC_LIBS)
  string(STRIP "${PC_LIBS_PRIVATE}" PC_LIBS_PRIVATE)
  configure_file(cmake/dlock.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${PC_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${PC_NAME}.pc
    DESTINATION ${DLOCK_PKGCONFIG_DIR} COMPONENT dev)
endforeach()
