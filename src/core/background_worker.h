// background_worker.h: a queue with one thread of its own that hands each queued item,
// in order, to a function: for work a caller must not wait for (revoking a released
// etcd lease) or cannot do on its own thread (a Redis client destroyed from its own
// I/O thread).
//
// Thread-safety: Add may be called from any thread, also from `work` itself; the
// destructor from any thread but the worker's.
#ifndef DLOCK_SRC_CORE_BACKGROUND_WORKER_H_
#define DLOCK_SRC_CORE_BACKGROUND_WORKER_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace dlock::internal {

template <typename T>
class BackgroundWorker {
 public:
  // `max_queued`: Add refuses more. `drain`: how long the destructor goes on with what is
  // queued (nullopt: until the queue is empty); what is left then is destroyed unworked.
  BackgroundWorker(std::function<void(T)> work, std::size_t max_queued,
                   std::optional<std::chrono::milliseconds> drain)
      : work_(std::move(work)), max_queued_(max_queued), drain_(drain) {}

  ~BackgroundWorker() {
    std::thread thread;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (drain_) give_up_ = std::chrono::steady_clock::now() + *drain_;
      thread = std::move(thread_);
    }
    cv_.notify_one();
    if (thread.joinable()) thread.join();
  }

  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  // Queues `item`, starting the thread on the first one. False when max_queued items
  // wait already, or once the destructor has begun (then `item` is dropped: pass what
  // the caller can still act on).
  bool Add(T item) {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(item));
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
    cv_.notify_one();
    return true;
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      if (stopping_ && give_up_ && std::chrono::steady_clock::now() >= *give_up_) return;
      T item = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      work_(std::move(item));
      lock.lock();
    }
  }

  const std::function<void(T)> work_;
  const std::size_t max_queued_;
  const std::optional<std::chrono::milliseconds> drain_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> queue_;                                           // guarded by mu_
  bool stopping_ = false;                                         // guarded by mu_
  std::optional<std::chrono::steady_clock::time_point> give_up_;  // guarded by mu_
  std::thread thread_;  // started at the first item; guarded by mu_
};

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_BACKGROUND_WORKER_H_
