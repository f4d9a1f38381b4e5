# FindZooKeeperMt: the ZooKeeper C client, multi-threaded (Debian's libzookeeper-mt-dev,
# which ships neither a pkg-config nor a CMake file). Defines the imported target
# ZooKeeper::zookeeper_mt (with THREADED, as its header requires) and ZooKeeperMt_FOUND.
# Installed with dlock's CMake package, which finds it again for a static dlock::zookeeper.
find_path(ZooKeeperMt_INCLUDE_DIR zookeeper/zookeeper.h)
find_library(ZooKeeperMt_LIBRARY zookeeper_mt)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(ZooKeeperMt
  REQUIRED_VARS ZooKeeperMt_LIBRARY ZooKeeperMt_INCLUDE_DIR)
if(ZooKeeperMt_FOUND AND NOT TARGET ZooKeeper::zookeeper_mt)
  add_library(ZooKeeper::zookeeper_mt UNKNOWN IMPORTED)
  set_target_properties(ZooKeeper::zookeeper_mt PROPERTIES
    IMPORTED_LOCATION "${ZooKeeperMt_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${ZooKeeperMt_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS THREADED)
endif()
mark_as_advanced(ZooKeeperMt_INCLUDE_DIR ZooKeeperMt_LIBRARY)
