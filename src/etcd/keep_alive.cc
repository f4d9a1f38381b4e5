#include "etcd/keep_alive.h"

#include <fmt/format.h>

#include <deque>

namespace dlock::etcd {

namespace pb = etcdserverpb;
using Clock = std::chrono::steady_clock;

struct KeepAliveStream::Open {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<Stream> stream;
  // Serialises writes, so that requests go out in the order they were queued below.
  std::mutex write_mu;
  // Guarded by KeepAliveStream::mu_: callers waiting for an answer, per lease, in the
  // order their requests went out (etcd answers one stream in order). Null: a background
  // keep-alive, whose answer nobody waits for.
  std::map<std::int64_t, std::deque<Waiter>> pending;
  bool broken = false;    // guarded by mu_
  bool finished = false;  // guarded by mu_: its reader thread is about to return

  void FailAll() {
    for (auto& [id, waiters] : pending) {
      for (auto& w : waiters) {
        if (w) w->set_value(UnavailableError("etcd: the lease keep-alive stream broke"));
      }
    }
    pending.clear();
  }
};

namespace {

void JoinAll(std::vector<std::thread>& threads) {
  for (auto& t : threads) t.join();
  threads.clear();
}

}  // namespace

KeepAliveStream::KeepAliveStream(pb::Lease::Stub* stub,
                                 std::function<std::unique_ptr<grpc::ClientContext>()> make_context)
    : stub_(stub), make_context_(std::move(make_context)) {
  tracker_ = std::jthread([this](std::stop_token stop) { TrackLoop(stop); });
}

KeepAliveStream::~KeepAliveStream() {
  tracker_.request_stop();
  if (tracker_.joinable()) tracker_.join();
  std::vector<std::thread> readers;
  {
    std::lock_guard lock(mu_);
    for (auto& [open, thread] : readers_) {
      open->context->TryCancel();
      readers.push_back(std::move(thread));
    }
    readers_.clear();
  }
  JoinAll(readers);
}

std::shared_ptr<KeepAliveStream::Open> KeepAliveStream::CurrentLocked(
    std::vector<std::thread>& reap) {
  std::erase_if(readers_, [&](auto& entry) {
    if (!entry.first->finished) return false;
    reap.push_back(std::move(entry.second));
    return true;
  });
  if (open_ && !open_->broken) return open_;
  if (open_) open_->context->TryCancel();
  auto open = std::make_shared<Open>();
  open->context = make_context_();
  // Corked: creating the stream does not wait for the connection; the first write does.
  open->context->set_initial_metadata_corked(true);
  open->stream = stub_->LeaseKeepAlive(open->context.get());
  open_ = open;
  readers_.emplace_back(open, std::thread([this, open] { ReadLoop(open); }));
  return open;
}

std::shared_ptr<KeepAliveStream::Open> KeepAliveStream::Send(std::int64_t lease, Waiter waiter) {
  std::vector<std::thread> reap;
  std::shared_ptr<Open> open;
  {
    std::lock_guard lock(mu_);
    open = CurrentLocked(reap);
  }
  JoinAll(reap);
  std::lock_guard write(open->write_mu);
  {
    std::lock_guard lock(mu_);
    if (open->broken) {
      if (waiter) waiter->set_value(UnavailableError("etcd: the lease keep-alive stream broke"));
      return open;
    }
    open->pending[lease].push_back(waiter);
  }
  pb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  if (!open->stream->Write(request)) {
    std::lock_guard lock(mu_);
    open->broken = true;
    open->FailAll();
  }
  return open;
}

void KeepAliveStream::ReadLoop(std::shared_ptr<Open> open) {
  pb::LeaseKeepAliveResponse response;
  while (open->stream->Read(&response)) {
    std::lock_guard lock(mu_);
    auto it = open->pending.find(response.id());
    if (it == open->pending.end() || it->second.empty()) continue;
    Waiter waiter = std::move(it->second.front());
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
  {
    std::lock_guard write(open->write_mu);  // no write in flight when finishing
    open->stream->Finish().ok();            // the status is the break, already reported
  }
  std::lock_guard lock(mu_);
  open->finished = true;
}

Result<std::int64_t> KeepAliveStream::KeepAlive(std::int64_t lease,
                                                std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<std::promise<Result<std::int64_t>>>();
  auto answer = waiter->get_future();
  auto open = Send(lease, waiter);
  if (answer.wait_for(timeout) == std::future_status::ready) return answer.get();
  {
    std::lock_guard lock(mu_);
    auto it = open->pending.find(lease);
    if (it != open->pending.end()) {
      // Keep the slot, so that answers stay matched to requests; nobody waits for it.
      for (auto& w : it->second) {
        if (w == waiter) w.reset();
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
    std::vector<std::int64_t> send;
    for (const auto& [lease, period] : tracked_) {
      auto [it, added] = due.try_emplace(lease, now + period);
      if (it->second <= now) {
        send.push_back(lease);
        it->second = now + period;
      }
      next = std::min(next, it->second);
    }
    if (!send.empty()) {
      lock.unlock();
      for (auto lease : send) Send(lease, nullptr);
      lock.lock();
    }
    const std::size_t seen = tracked_.size();
    tracked_cv_.wait_until(lock, stop, next, [&] { return tracked_.size() != seen; });
  }
}

}  // namespace dlock::etcd
