// mutex.h: a std::mutex that Clang's thread-safety analysis knows (Mutex), and its scoped
// lock (MutexLock), which can be unlocked and locked again within its scope and lends
// its std::unique_lock to condition-variable waits.
//
// Thread-safety: a Mutex is shared between threads; a MutexLock belongs to one thread.
#ifndef DLOCK_SRC_CORE_MUTEX_H_
#define DLOCK_SRC_CORE_MUTEX_H_

#include <mutex>

#include "core/thread_annotations.h"

namespace dlock::internal {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() { lock_.unlock(); }
  void Lock() ACQUIRE() { lock_.lock(); }

  // For std::condition_variable(_any) waits and Clock::WaitUntil, which unlock and lock
  // again inside: the mutex is held again when they return.
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_MUTEX_H_
