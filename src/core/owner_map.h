// owner_map.h: what a store-backed lock keeps in memory per owner id (its node or key
// while queued or holding), for the backends whose lock state lives in a session or
// lease of this process (ZooKeeper, etcd).
//
// Thread-safety: all members are safe to call from any thread; values are copied out.
#ifndef DLOCK_CORE_OWNER_MAP_H_
#define DLOCK_CORE_OWNER_MAP_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace dlock::internal {

template <typename Entry>
class OwnerMap {
 public:
  std::optional<Entry> Find(const std::string& owner_id) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(owner_id);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  // Removes and returns the entry of `owner_id`, if any.
  std::optional<Entry> Take(const std::string& owner_id) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(owner_id);
    if (it == entries_.end()) return std::nullopt;
    Entry entry = std::move(it->second);
    entries_.erase(it);
    return entry;
  }
  void Store(const std::string& owner_id, Entry entry) {
    std::lock_guard lock(mu_);
    entries_.insert_or_assign(owner_id, std::move(entry));
  }
  // Drops every entry for which `pred(entry)` holds.
  template <typename Pred>
  void EraseIf(Pred pred) {
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [&](const auto& kv) { return pred(kv.second); });
  }
  // Calls `fn(entry)` for each entry, under the map's lock (fn must not call back).
  template <typename Fn>
  void ForEach(Fn fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [owner, entry] : entries_) fn(entry);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace dlock::internal

#endif  // DLOCK_CORE_OWNER_MAP_H_
