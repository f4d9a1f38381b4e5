// The Prometheus adapter: what each Locker event does to the dlock_* metrics.
#include "dlock/prometheus.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "dlock/backends/memory.h"
#include "dlock/locker.h"
#include "dlock/testing/manual_clock.h"

namespace dlock {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The value of one sample in the text exposition, e.g.
// Sample(r, "dlock_acquire_total", "result=\"timeout\""); -1 if absent.
double Sample(prometheus::Registry& registry, const std::string& name, const std::string& has) {
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(name + "{") && !line.starts_with(name + " ")) continue;
    if (line.find(has) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

class PrometheusTest : public ::testing::Test {
 protected:
  void Send(EventKind kind, std::chrono::nanoseconds elapsed, Status status = OkStatus(),
            std::string_view name = "jobs/a") {
    listener_->OnEvent(Event{kind, "file", name, 7, elapsed, std::move(status)});
  }
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::shared_ptr<EventListener> listener_ = MakePrometheusListener(registry_);
};

TEST_F(PrometheusTest, WaitLandsInTheRightBucket) {
  Send(EventKind::kAcquired, seconds(2));
  auto& r = *registry_;
  EXPECT_EQ(Sample(r, "dlock_acquire_wait_seconds_bucket", "le=\"1\""), 0);
  EXPECT_EQ(Sample(r, "dlock_acquire_wait_seconds_bucket", "le=\"2.5\""), 1);
  EXPECT_EQ(Sample(r, "dlock_acquire_wait_seconds_count", "result=\"acquired\""), 1);
  EXPECT_EQ(Sample(r, "dlock_acquire_total", "result=\"acquired\""), 1);
  EXPECT_EQ(Sample(r, "dlock_held", "backend=\"file\""), 1);
}

TEST_F(PrometheusTest, FailedAcquiresAreCountedByResult) {
  Send(EventKind::kAcquireFailed, seconds(2), DeadlineExceededError("x"));
  Send(EventKind::kAcquireFailed, milliseconds(1), ContendedError("x"));
  Send(EventKind::kAcquireFailed, milliseconds(1), UnavailableError("x"));
  Send(EventKind::kAcquireFailed, milliseconds(1), CancelledError("x"));
  auto& r = *registry_;
  for (const char* result : {"timeout", "contended", "unavailable", "cancelled"}) {
    EXPECT_EQ(Sample(r, "dlock_acquire_total", std::string("result=\"") + result + "\""), 1)
        << result;
  }
  EXPECT_EQ(Sample(r, "dlock_held", "backend"), -1);  // never acquired: no gauge yet
}

TEST_F(PrometheusTest, HoldRenewAndLoss) {
  Send(EventKind::kAcquired, milliseconds(1));
  Send(EventKind::kRenewed, milliseconds(3));
  Send(EventKind::kRenewFailed, milliseconds(500), UnavailableError("x"));
  Send(EventKind::kLost, seconds(20), NotHeldError("x"));
  auto& r = *registry_;
  EXPECT_EQ(Sample(r, "dlock_renew_total", "result=\"ok\""), 1);
  EXPECT_EQ(Sample(r, "dlock_renew_total", "result=\"error\""), 1);
  EXPECT_EQ(Sample(r, "dlock_renew_latency_seconds_count", "backend"), 2);
  EXPECT_EQ(Sample(r, "dlock_lost_total", "backend"), 1);
  EXPECT_EQ(Sample(r, "dlock_hold_seconds_count", "backend"), 1);
  EXPECT_EQ(Sample(r, "dlock_hold_seconds_bucket", "le=\"10\""), 0);
  EXPECT_EQ(Sample(r, "dlock_hold_seconds_bucket", "le=\"30\""), 1);
  EXPECT_EQ(Sample(r, "dlock_held", "backend"), 0);
}

TEST_F(PrometheusTest, LockNamesAreLabelsOnlyWhenAllowListed) {
  Send(EventKind::kAcquired, milliseconds(1), OkStatus(), "secret-customer-42");
  EXPECT_EQ(prometheus::TextSerializer().Serialize(registry_->Collect()).find("secret-customer"),
            std::string::npos);

  auto registry = std::make_shared<prometheus::Registry>();
  auto listener = MakePrometheusListener(registry, {.lock_label_allow_list = {"jobs/nightly"}});
  listener->OnEvent(Event{EventKind::kAcquired, "file", "jobs/nightly", 1, milliseconds(1), {}});
  listener->OnEvent(Event{EventKind::kAcquired, "file", "customer-42", 2, milliseconds(1), {}});
  EXPECT_EQ(Sample(*registry, "dlock_acquire_total", "lock=\"jobs/nightly\""), 1);
  EXPECT_EQ(Sample(*registry, "dlock_acquire_total", "lock=\"other\""), 1);
}

TEST_F(PrometheusTest, ALockerTimeoutIsCountedAsTimeout) {
  auto clock = std::make_shared<testing::ManualClock>();
  auto backend = MakeMemoryBackend({.clock = clock});
  Locker locker(backend, {.clock = clock, .listener = listener_});
  // Another holder (this thread taking it again through `locker` would be refused at once).
  Locker other(backend, {.clock = clock});
  auto holder = other.Acquire("busy", {.auto_renew = false});
  ASSERT_TRUE(holder.ok());
  clock->SetAutoAdvance(true);
  auto waiter = locker.Acquire("busy", {.wait = seconds(2), .auto_renew = false});
  ASSERT_EQ(waiter.status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(Sample(*registry_, "dlock_acquire_total", "result=\"timeout\""), 1);
  EXPECT_EQ(
      Sample(*registry_, "dlock_acquire_wait_seconds_bucket", "result=\"timeout\",le=\"2.5\""), 1);
  EXPECT_EQ(Sample(*registry_, "dlock_acquire_wait_seconds_bucket", "result=\"timeout\",le=\"1\""),
            0);
}

TEST(FanOutTest, CallsEveryListener) {
  struct Count : EventListener {
    int n = 0;
    void OnEvent(const Event&) override { ++n; }
  };
  auto a = std::make_shared<Count>();
  auto b = std::make_shared<Count>();
  auto both = FanOut({a, nullptr, b});
  both->OnEvent(Event{EventKind::kWaiting, "file", "x", 0, {}, {}});
  EXPECT_EQ(a->n, 1);
  EXPECT_EQ(b->n, 1);
}

}  // namespace
}  // namespace dlock
