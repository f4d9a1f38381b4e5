#include "etcd/keep_alive.h"

#include <fmt/format.h>

#include <deque>

namespace dlock::etcd {

namespace pb = etcdserverpb;
using Clock = std::chrono::steady_clock;
using Promise = std::promise<Result<std::int64_t>>;

struct KeepAliveStream::Open {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<Stream> stream;
  // Callers waiting for an answer, per lease, in the order their requests went out
  // (etcd answers one stream in order). Null: a background keep-alive, whose answer
  // nobody waits for.
  std::map<std::int64_t, std::deque<std::shared_ptr<Promise>>> pending;
  bool broken = false;

  void FailAll() {
    for (auto& [id, waiters] : pending) {
      for (auto& p : waiters) {
        if (p) p->set_value(UnavailableError("etcd: the lease keep-alive stream broke"));
      }
    }
    pending.clear();
  }
};

KeepAliveStream::KeepAliveStream(pb::Lease::Stub* stub,
                                 std::function<std::unique_ptr<grpc::ClientContext>()> make_context)
    : stub_(stub), make_context_(std::move(make_context)) {
  tracker_ = std::jthread([this](std::stop_token stop) { TrackLoop(stop); });
}

KeepAliveStream::~KeepAliveStream() {
  tracker_.request_stop();
  tracked_cv_.notify_all();
  if (tracker_.joinable()) tracker_.join();
  std::vector<std::thread> readers;
  {
    std::lock_guard lock(mu_);
    if (open_) open_->context->TryCancel();
    readers.swap(readers_);
  }
  for (auto& t : readers) t.join();
}

std::shared_ptr<KeepAliveStream::Open> KeepAliveStream::CurrentLocked() {
  if (open_ && !open_->broken) return open_;
  if (open_) open_->context->TryCancel();
  auto open = std::make_shared<Open>();
  open->context = make_context_();
  open->stream = stub_->LeaseKeepAlive(open->context.get());
  open_ = open;
  readers_.emplace_back([this, open] { ReadLoop(open); });
  return open;
}

void KeepAliveStream::ReadLoop(std::shared_ptr<Open> open) {
  pb::LeaseKeepAliveResponse response;
  while (open->stream->Read(&response)) {
    std::lock_guard lock(mu_);
    auto it = open->pending.find(response.id());
    if (it == open->pending.end() || it->second.empty()) continue;
    auto waiter = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) open->pending.erase(it);
    if (waiter) waiter->set_value(static_cast<std::int64_t>(response.ttl()));
  }
  {
    std::lock_guard lock(mu_);
    open->broken = true;
    open->FailAll();
  }
  open->context->TryCancel();
  open->stream->Finish().ok();  // the status is the break, already reported
}

Result<std::int64_t> KeepAliveStream::KeepAlive(std::int64_t lease,
                                                std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<Promise>();
  auto answer = promise->get_future();
  std::shared_ptr<Open> open;
  {
    std::lock_guard lock(mu_);
    open = CurrentLocked();
    pb::LeaseKeepAliveRequest request;
    request.set_id(lease);
    open->pending[lease].push_back(promise);
    if (!open->stream->Write(request)) {
      open->broken = true;
      open->FailAll();
    }
  }
  if (answer.wait_for(timeout) == std::future_status::ready) return answer.get();
  {
    std::lock_guard lock(mu_);
    auto it = open->pending.find(lease);
    if (it != open->pending.end()) {
      // Keep the slot, so that answers stay matched to requests; nobody waits for it.
      for (auto& p : it->second) {
        if (p == promise) p.reset();
      }
    }
  }
  if (answer.wait_for(std::chrono::seconds(0)) == std::future_status::ready) return answer.get();
  return UnavailableError(
      fmt::format("etcd: no answer to a lease keep-alive within {}ms", timeout.count()));
}

void KeepAliveStream::Track(std::int64_t lease, std::chrono::milliseconds period) {
  {
    std::lock_guard lock(mu_);
    tracked_[lease] = period;
  }
  tracked_cv_.notify_all();
}

void KeepAliveStream::Untrack(std::int64_t lease) {
  std::lock_guard lock(mu_);
  tracked_.erase(lease);
}

void KeepAliveStream::TrackLoop(std::stop_token stop) {
  std::map<std::int64_t, Clock::time_point> due;
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    const auto now = Clock::now();
    std::erase_if(due, [&](const auto& kv) { return !tracked_.contains(kv.first); });
    Clock::time_point next = now + std::chrono::seconds(1);
    for (const auto& [lease, period] : tracked_) {
      auto [it, added] = due.try_emplace(lease, now + period);
      if (it->second <= now) {
        auto open = CurrentLocked();
        pb::LeaseKeepAliveRequest request;
        request.set_id(lease);
        open->pending[lease].push_back(nullptr);
        if (!open->stream->Write(request)) {
          open->broken = true;
          open->FailAll();
        }
        it->second = now + period;
      }
      next = std::min(next, it->second);
    }
    const std::size_t seen = tracked_.size();
    tracked_cv_.wait_until(lock, stop, next, [&] { return tracked_.size() != seen; });
  }
}

}  // namespace dlock::etcd
