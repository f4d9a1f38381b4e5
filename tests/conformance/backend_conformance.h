// backend_conformance.h: one suite of the semantics every backend meets (docs/semantics.md,
// "Common to every backend", and the Locker's "Reentrancy and self-deadlock"), run against
// every backend.
// A backend joins with INSTANTIATE_TEST_SUITE_P(Name, BackendConformance, Values(...)).
#ifndef DLOCK_TESTS_CONFORMANCE_BACKEND_CONFORMANCE_H_
#define DLOCK_TESTS_CONFORMANCE_BACKEND_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "dlock/backend.h"
#include "dlock/events.h"

namespace dlock::test {

struct BackendFactory {
  std::string name;
  // Each call returns a backend on the same store, as another process would see it.
  std::function<std::shared_ptr<Backend>()> make;
};

inline void PrintTo(const BackendFactory& factory, std::ostream* os) { *os << factory.name; }

inline std::string FactoryName(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

// Counts kWaiting events: an Acquire that found the lock held and waits.
class WaitingCounter : public EventListener {
 public:
  void OnEvent(const Event& e) override {
    if (e.kind == EventKind::kWaiting) waiting_++;
  }
  int waiting() const { return waiting_; }

 private:
  std::atomic<int> waiting_{0};
};

class BackendConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  // A lock name no other test uses.
  std::string Name(std::string_view suffix = "");
  AcquireRequest Request(const std::string& name,
                         std::chrono::milliseconds ttl = std::chrono::seconds(30));

  std::shared_ptr<Backend> backend_;
};

}  // namespace dlock::test

#endif  // DLOCK_TESTS_CONFORMANCE_BACKEND_CONFORMANCE_H_
