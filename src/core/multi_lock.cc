// MultiLock, and Locker::AcquireAll: a set of locks taken all-or-nothing, never waiting
// while holding part of the set (include/dlock/multi_lock.h).
#include "dlock/multi_lock.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <optional>

#include "dlock/duration.h"
#include "dlock/locker.h"

namespace dlock {

namespace {

// The lost() callback of one lock of the set: notes which lock was lost first, then
// requests the set's stop.
struct OnLost {
  std::stop_source* set_lost;
  std::atomic<int>* first_lost;
  int index;
  void operator()() const {
    int none = -1;
    first_lost->compare_exchange_strong(none, index);
    set_lost->request_stop();
  }
};

// `status` with the name of the lock it is about.
Status About(const std::string& name, const Status& status) {
  return Status(status.code(), fmt::format("'{}' of the set: {}", name, status.message()));
}

}  // namespace

struct MultiLock::State {
  explicit State(std::vector<Lock> held) : locks(std::move(held)) {
    on_lost.reserve(locks.size());
    for (std::size_t i = 0; i < locks.size(); ++i) {
      on_lost.push_back(std::make_unique<std::stop_callback<OnLost>>(
          locks[i].lost(), OnLost{&set_lost, &first_lost, static_cast<int>(i)}));
    }
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  // The callbacks go first (they point into this State); then the locks, last name first.
  ~State() {
    on_lost.clear();
    while (!locks.empty()) locks.pop_back();
  }

  std::vector<Lock> locks;
  std::stop_source set_lost;
  std::atomic<int> first_lost{-1};
  std::vector<std::unique_ptr<std::stop_callback<OnLost>>> on_lost;
  bool released = false;
};

MultiLock::MultiLock() = default;
MultiLock::MultiLock(std::vector<Lock> locks) : state_(std::make_unique<State>(std::move(locks))) {}
MultiLock::MultiLock(MultiLock&& other) noexcept = default;
MultiLock& MultiLock::operator=(MultiLock&& other) noexcept = default;
MultiLock::~MultiLock() = default;

bool MultiLock::held() const {
  if (!state_ || state_->locks.empty()) return false;
  return std::all_of(state_->locks.begin(), state_->locks.end(),
                     [](const Lock& lock) { return lock.held(); });
}

std::size_t MultiLock::size() const { return state_ ? state_->locks.size() : 0; }

std::vector<std::string> MultiLock::names() const {
  std::vector<std::string> out;
  for (const Lock& lock : locks()) out.push_back(lock.lease().name);
  return out;
}

std::vector<std::pair<std::string, FencingToken>> MultiLock::tokens() const {
  std::vector<std::pair<std::string, FencingToken>> out;
  for (const Lock& lock : locks()) {
    Lease lease = lock.lease();
    out.emplace_back(std::move(lease.name), lease.token);
  }
  return out;
}

FencingToken MultiLock::token(std::string_view name) const {
  const Lock* found = lock(name);
  return found ? found->lease().token : 0;
}

const Lock* MultiLock::lock(std::string_view name) const {
  for (const Lock& l : locks()) {
    if (l.lease().name == name) return &l;
  }
  return nullptr;
}

const std::vector<Lock>& MultiLock::locks() const {
  static const std::vector<Lock> kNone;
  return state_ ? state_->locks : kNone;
}

std::stop_token MultiLock::lost() const {
  return state_ ? state_->set_lost.get_token() : std::stop_token();
}

Status MultiLock::lost_reason() const {
  if (!state_) return OkStatus();
  const int first = state_->first_lost.load();
  if (first < 0) return OkStatus();
  const Lock& lock = state_->locks[static_cast<std::size_t>(first)];
  if (state_->locks.size() == 1) return lock.lost_reason();
  return About(lock.lease().name, lock.lost_reason());
}

Status MultiLock::Release() {
  if (!state_ || state_->released) return NotHeldError("the multi-lock holds nothing");
  state_->released = true;
  Status first;
  for (auto it = state_->locks.rbegin(); it != state_->locks.rend(); ++it) {
    Status status = it->Release();
    if (!status.ok() && first.ok()) {
      first = state_->locks.size() == 1 ? status : About(it->lease().name, status);
    }
  }
  return first;
}

Result<MultiLock> Locker::AcquireAll(const std::vector<std::string>& names,
                                     const AcquireOptions& options) {
  if (names.empty()) return InvalidArgumentError("a multi-lock needs at least one name");
  std::vector<std::string> order = names;
  std::sort(order.begin(), order.end());
  if (auto twice = std::adjacent_find(order.begin(), order.end()); twice != order.end()) {
    return InvalidArgumentError(fmt::format("'{}' is listed twice in the multi-lock", *twice));
  }
  for (const std::string& name : order) {
    if (Status s = ValidateName(name); !s.ok()) return About(name, s);
  }
  if (order.size() == 1) {  // a set of one is that lock, taken as Acquire takes it
    auto lock = Acquire(order.front(), options);
    if (!lock.ok()) return std::move(lock).status();
    std::vector<Lock> one;
    one.push_back(std::move(*lock));
    return MultiLock(std::move(one));
  }

  Clock& clock = *this->options().clock;
  const Clock::TimePoint deadline = clock.Now() + options.wait;
  // A name still held elsewhere once the wait has run out.
  auto gave_up = [&](const std::string& name, const Status& status) {
    if (options.wait.count() == 0 || status.code() != Code::kContended) return About(name, status);
    return About(name,
                 DeadlineExceededError(fmt::format("{}; gave up after waiting {}", status.message(),
                                                   FormatDuration(options.wait))));
  };
  // The name this call must wait for, holding nothing else; none at first.
  std::optional<std::size_t> awaited;
  while (true) {
    std::vector<Lock> held(order.size());
    if (awaited) {
      AcquireOptions wait = options;
      wait.wait = std::max(std::chrono::milliseconds(0),
                           std::chrono::ceil<std::chrono::milliseconds>(deadline - clock.Now()));
      auto lock = Acquire(order[*awaited], wait);
      if (!lock.ok()) return gave_up(order[*awaited], lock.status());
      held[*awaited] = std::move(*lock);
    }
    std::optional<std::size_t> busy;
    for (std::size_t i = 0; i < order.size() && !busy; ++i) {
      if (awaited == i) continue;
      AcquireOptions once = options;
      once.wait = std::chrono::milliseconds(0);
      auto lock = Acquire(order[i], once);
      if (lock.ok()) {
        held[i] = std::move(*lock);
        continue;
      }
      const Status& status = lock.status();
      // Held elsewhere, or the store failed: wait for that name alone, if there is time.
      if (!IsRetryable(status.code()) || options.wait.count() == 0 || clock.Now() >= deadline) {
        for (auto it = held.rbegin(); it != held.rend(); ++it) *it = Lock();  // released
        return gave_up(order[i], status);
      }
      busy = i;
    }
    if (!busy) return MultiLock(std::move(held));
    for (auto it = held.rbegin(); it != held.rend(); ++it) *it = Lock();  // released
    awaited = busy;
  }
}

}  // namespace dlock
