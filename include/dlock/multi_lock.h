// multi_lock.h: MultiLock, the RAII guard for a set of locks taken all-or-nothing by
// Locker::AcquireAll (as Curator's InterProcessMultiLock and Redisson's MultiLock).
//
// How a set is taken (docs/semantics.md, "Multi-locks"): the names are put in one
// canonical order (byte order), and each is tried without waiting. When one is held
// elsewhere, everything taken so far is released, and the caller waits for that name
// alone, holding nothing else, as Acquire waits (woken by the store, in its line where it
// keeps one); once it has that name it tries the others again, without waiting. A caller
// therefore never waits while it holds part of a set, so two callers with overlapping sets
// cannot deadlock whatever their order, and a set that cannot be had keeps nothing from
// anyone meanwhile. This is ordered acquires on every backend, not one atomic store
// operation: each name keeps its own wait line and fencing counter.
//
// Every name has its own lease, fencing token and renewal; lost() is one signal for the
// set: requested as soon as any of its locks is lost.
//
// Thread-safety: as Lock: move-only, owned by one thread at a time; held(), tokens() and
// lost() may be called while the Locker's background threads work.
#ifndef DLOCK_MULTI_LOCK_H_
#define DLOCK_MULTI_LOCK_H_

#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/lock.h"
#include "dlock/status.h"

namespace dlock {

class [[nodiscard]] DLOCK_API MultiLock {
 public:
  MultiLock();  // holds nothing
  // REQUIRES: `locks` all held, one per name, in canonical (byte) order of their names.
  explicit MultiLock(std::vector<Lock> locks);
  MultiLock(MultiLock&& other) noexcept;
  // Releases what this MultiLock held first.
  MultiLock& operator=(MultiLock&& other) noexcept;
  MultiLock(const MultiLock&) = delete;
  MultiLock& operator=(const MultiLock&) = delete;
  // Releases every lock of the set, as Release() does (best effort).
  ~MultiLock();

  // True while every lock of the set is held (Lock::held()).
  bool held() const;

  // The number of locks in the set; 0 for a MultiLock that holds nothing.
  std::size_t size() const;

  // The names, in the canonical order the set was taken in.
  std::vector<std::string> names() const;

  // Each name with its lock's fencing token, in canonical order.
  std::vector<std::pair<std::string, FencingToken>> tokens() const;

  // The token of `name`'s lock; 0 if `name` is not in the set.
  FencingToken token(std::string_view name) const;

  // The locks themselves, in canonical order (each one's lease(), lost()...).
  const std::vector<Lock>& locks() const;

  // The lock of `name`; null if `name` is not in the set. Valid while this MultiLock is.
  const Lock* lock(std::string_view name) const;

  // Requested once any lock of the set is lost (Lock::lost()). Callbacks run on one of the
  // Locker's threads and must be quick.
  std::stop_token lost() const;

  // Why the set was lost: the first lost lock's reason, with its name if the set has more
  // than one (OK while not lost).
  Status lost_reason() const;

  // Releases every lock of the set, in reverse canonical order. OK if each release was
  // OK; else the first error, with the name it came from if the set has more than one (kNotHeld if
  // a lock had been lost, the store's error otherwise: that lock frees at its TTL). Idempotent: a
  // second call answers kNotHeld. Never stops half-way: every lock is released either way.
  Status Release();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dlock

#endif  // DLOCK_MULTI_LOCK_H_
