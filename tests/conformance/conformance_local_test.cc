// The conformance suite on the backends that need no server: memory and file.
#include "conformance/backend_conformance.h"
#include "dlock/backends/file.h"
#include "dlock/backends/memory.h"
#include "test_util.h"

namespace dlock::test {
namespace {

std::shared_ptr<Backend> SharedMemory() {
  static std::shared_ptr<Backend> backend = MakeMemoryBackend();
  return backend;
}

std::shared_ptr<Backend> NewFileBackend() {
  static TempDir dir;
  auto backend = MakeFileBackend({.dir = dir.path()});
  return backend.ok() ? *backend : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Local, BackendConformance,
                         ::testing::Values(BackendFactory{"memory", SharedMemory},
                                           BackendFactory{"file", NewFileBackend}),
                         FactoryName);

}  // namespace
}  // namespace dlock::test
