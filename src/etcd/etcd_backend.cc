// The etcd:// backend: the protocol of etcd's concurrency.Mutex (and `etcdctl lock`)
// over the v3 gRPC API.
#include <fmt/format.h>
#include <openssl/sha.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>

#include "core/background_worker.h"
#include "core/lease_rules.h"
#include "core/line_backend.h"
#include "core/owner_map.h"
#include "dlock/backends/etcd.h"
#include "dlock/duration.h"
#include "etcd/client.h"

namespace dlock {
namespace {

using etcd::pb::Compare;
using etcd::pb::RangeRequest;
using etcd::pb::TxnRequest;
using mvccpb::KeyValue;
using std::chrono::milliseconds;

// The end of the key range that holds every key starting with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = prefix.back();
    if (static_cast<unsigned char>(last) < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

// Makes `txn` conditional on `key`'s create revision being `revision` (0: absent).
void IfCreateRevision(TxnRequest& txn, const std::string& key, std::int64_t revision) {
  auto* cmp = txn.add_compare();
  cmp->set_key(key);
  cmp->set_target(Compare::CREATE);
  cmp->set_result(Compare::EQUAL);
  cmp->set_create_revision(revision);
}

// What our key's value says about its owner: a digest, so the value does not reveal the
// owner id (anyone who can read the keys could otherwise release the lock).
std::string OwnerDigest(std::string_view owner_id) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(owner_id.data()), owner_id.size(), digest.data());
  std::string hex;
  for (int i = 0; i < 16; ++i) hex += fmt::format("{:02x}", digest[static_cast<std::size_t>(i)]);
  return hex;
}

std::string KeyValueJson(const AcquireRequest& request, milliseconds ttl) {
  auto since = std::chrono::duration_cast<milliseconds>(request.holder.since.time_since_epoch());
  return nlohmann::json{{"owner", OwnerDigest(request.owner_id)},
                        {"host", request.holder.host},
                        {"pid", request.holder.pid},
                        {"since", since.count()},
                        {"ttl_ms", ttl.count()}}
      .dump();
}

struct ValueFields {
  std::string owner;
  HolderInfo holder;
  milliseconds ttl{0};
};

ValueFields ParseValue(const std::string& value) {
  ValueFields out;
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (!j.is_object()) return out;  // etcdctl's keys are empty
  if (auto it = j.find("owner"); it != j.end() && it->is_string()) out.owner = *it;
  if (auto it = j.find("host"); it != j.end() && it->is_string()) out.holder.host = *it;
  if (auto it = j.find("pid"); it != j.end() && it->is_number_integer()) out.holder.pid = *it;
  if (auto it = j.find("since"); it != j.end() && it->is_number_integer()) {
    out.holder.since = internal::WallClockFromMs(it->get<std::int64_t>());
  }
  if (auto it = j.find("ttl_ms"); it != j.end() && it->is_number_integer()) {
    out.ttl = milliseconds(it->get<std::int64_t>());
  }
  return out;
}

// Revokes the leases of released keys on a thread of its own, so that a release returns
// once its key is deleted: one round trip sooner. A lease it has not revoked (at exit,
// while etcd is unreachable) ends at its TTL, and holds no key of ours.
class Revoker {
 public:
  // `drain`: how long the destructor goes on revoking what is queued.
  // (A lease not found expired already.)
  Revoker(etcd::Client* client, std::chrono::milliseconds drain)
      : worker_([client](std::int64_t lease) { client->LeaseRevoke(lease).IgnoreError(); },
                kMaxQueued, drain) {}
  // False when kMaxQueued are queued already (releases come faster than revocations):
  // the caller then revokes it itself, which slows releases down to what etcd takes.
  bool Add(std::int64_t lease) { return worker_.Add(lease); }

 private:
  static constexpr std::size_t kMaxQueued = 256;
  internal::BackgroundWorker<std::int64_t> worker_;
};

class EtcdBackend final : public internal::LineBackend {
 public:
  EtcdBackend(EtcdOptions options, std::unique_ptr<etcd::Client> client)
      : options_(std::move(options)), client_(std::move(client)) {}

  ~EtcdBackend() override {
    // Waiters in line leave it; held leases stay (a detached lease outlives us).
    std::vector<std::int64_t> queued;
    owners_.ForEach([&](const Entry& entry) {
      if (!entry.granted) queued.push_back(entry.lease);
    });
    for (auto lease : queued) client_->LeaseRevoke(lease).IgnoreError();
  }

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
    const std::string prefix = Prefix(request.name);
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::optional<Entry> entry = owners_.Find(request.owner_id);
      auto start = options_.clock->Now();
      if (entry) {
        // Queued: refresh the lease (its validity counts from here), then look again.
        client_->keep_alive().Untrack(entry->lease);
        auto ttl = client_->KeepAlive(entry->lease);
        if (!ttl.ok()) return Requeue(request.owner_id, *entry, ttl.status());
        if (*ttl <= 0) {  // the lease ran out while we waited: start again
          owners_.Take(request.owner_id);
          continue;
        }
      }
      Result<std::vector<KeyValue>> contenders = std::vector<KeyValue>();
      if (entry) {
        contenders = Contenders(prefix);
        if (!contenders.ok()) return Abandon(request, *entry, contenders.status());
      } else {
        // One transaction creates our key and lists the contenders.
        auto created = Create(request, prefix, &*contenders);
        if (!created.ok()) return created.status();
        entry = *created;
      }
      auto ours = std::find_if(contenders->begin(), contenders->end(), [&](const KeyValue& kv) {
        return kv.create_revision() == entry->revision;
      });
      if (ours == contenders->end()) {  // deleted under us (force-released while queued)
        owners_.Take(request.owner_id);
        client_->LeaseRevoke(entry->lease).IgnoreError();
        continue;
      }
      if (ours != contenders->begin()) {
        const auto& holder = contenders->front();
        ValueFields fields = ParseValue(holder.value());
        Status contended = ContendedError(
            fmt::format("lock '{}' is held by {} (token {})", request.name,
                        fields.holder.host.empty()
                            ? "key " + holder.key()
                            : fmt::format("host {} pid {}", fields.holder.host, fields.holder.pid),
                        holder.create_revision()));
        if (!request.queue) return Abandon(request, *entry, contended);
        entry->granted = false;
        client_->keep_alive().Track(entry->lease, entry->ttl / 3);
        owners_.Store(request.owner_id, *entry);
        return contended;
      }
      entry->granted = true;
      owners_.Store(request.owner_id, *entry);
      Lease lease{request.name, request.owner_id, static_cast<FencingToken>(entry->revision),
                  entry->ttl, ValidUntil(start, entry->ttl, options_.drift)};
      if (options_.clock->Now() >= lease.valid_until) {
        Release(lease).IgnoreError();
        return UnavailableError("etcd answered after the lease's validity ended");
      }
      return lease;
    }
    return ContendedError(
        fmt::format("lock '{}': our key keeps disappearing (force-released?)", request.name));
  }

  Result<Lease> Extend(const Lease& lease, milliseconds ttl) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
    auto entry = Locate(lease.name, lease.owner_id);
    if (!entry.ok()) return entry.status();
    if (!entry->granted) {  // in line, not holding
      return NotHeldError(fmt::format("lock '{}' is not held by this owner", lease.name));
    }
    if (milliseconds((ttl.count() + 999) / 1000 * 1000) != entry->ttl) {
      // A lease's TTL is fixed: move our key to a new lease with the TTL asked for.
      auto moved = MoveToNewLease(lease, *entry, ttl);
      if (!moved.ok()) return moved.status();
      entry = *moved;
    }
    const auto start = options_.clock->Now();
    auto left = client_->KeepAlive(entry->lease);
    if (!left.ok()) return left.status();
    if (*left <= 0) {
      owners_.Take(lease.owner_id);
      return NotHeldError(
          fmt::format("lock '{}' was lost: its etcd lease expired or was revoked", lease.name));
    }
    // The lease lives; our key must too (`etcdctl del` or a force release removes it).
    RangeRequest get;
    get.set_key(entry->key);
    auto got = client_->Range(get);
    if (!got.ok()) return got.status();
    if (got->kvs_size() == 0 || got->kvs(0).create_revision() != entry->revision) {
      owners_.Take(lease.owner_id);
      client_->LeaseRevoke(entry->lease).IgnoreError();
      return NotHeldError(
          fmt::format("lock '{}' was lost: our key was deleted (force-released?)", lease.name));
    }
    const milliseconds granted(*left * 1000);
    return Lease{lease.name, lease.owner_id, static_cast<FencingToken>(entry->revision), granted,
                 ValidUntil(start, granted, options_.drift)};
  }

  Status Release(const Lease& lease) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    auto entry = Locate(lease.name, lease.owner_id);
    if (!entry.ok()) return entry.status();
    owners_.Take(lease.owner_id);
    client_->keep_alive().Untrack(entry->lease);
    return Delete(*entry, lease.name, "is not held by this owner");
  }

  Status ForceRelease(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    auto contenders = Contenders(Prefix(name));
    if (!contenders.ok()) return contenders.status();
    if (contenders->empty()) return NotHeldError(fmt::format("lock '{}' is not held", name));
    const KeyValue& holder = contenders->front();
    Entry entry{holder.key(), holder.lease(), holder.create_revision()};
    entry.granted = true;
    // A dlock key's lease is its own: revoke it, so that its holder's next renewal fails.
    // Another client's (a Go concurrency.Session) may back other locks too: keep it.
    if (ParseValue(holder.value()).owner.empty()) entry.lease = 0;
    owners_.EraseIf([&](const Entry& e) { return e.key == holder.key(); });
    return Delete(entry, name, "is not held");
  }

  Result<LockState> Inspect(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    LockState state;
    state.name = std::string(name);
    auto contenders = Contenders(Prefix(name));
    if (!contenders.ok()) return contenders.status();
    if (contenders->empty()) {
      RangeRequest get;
      get.set_key(TokenKey(name));
      auto got = client_->Range(get);
      if (!got.ok()) return got.status();
      if (got->kvs_size() > 0)
        state.token = std::strtoull(got->kvs(0).value().c_str(), nullptr, 10);
      state.waiters = 0;
      return state;
    }
    const KeyValue& holder = contenders->front();
    state.held = true;
    state.token = static_cast<FencingToken>(holder.create_revision());
    state.waiters = static_cast<int>(contenders->size()) - 1;
    state.holder = ParseValue(holder.value()).holder;
    if (holder.lease() != 0) {
      auto left = client_->TimeToLive(holder.lease());  // a query, not a keep-alive
      if (left.ok()) state.remaining = *left;
    }
    return state;
  }

  Status Wait(std::string_view name, std::chrono::steady_clock::time_point deadline,
              std::stop_token stop, std::string_view waiter) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    if (stop.stop_requested()) return CancelledError("cancelled while waiting");
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError("the lock was not released in time");
    }
    const std::string prefix = Prefix(name);
    std::optional<Entry> entry;
    if (!waiter.empty()) entry = owners_.Find(std::string(waiter));
    RangeRequest list = ListRequest(prefix);
    if (entry) list.set_max_create_revision(entry->revision - 1);
    auto got = client_->Range(list);
    if (!got.ok()) return got.status();
    std::vector<KeyValue> before = Filter(*got, prefix);
    if (before.empty()) return OkStatus();
    const std::int64_t from = got->header().revision() + 1;
    if (entry) {
      // In line: wait for the key just before ours to go (no herd).
      return client_->WaitForDelete(before.back().key(), "", from, deadline, stop);
    }
    return client_->WaitForDelete(prefix, PrefixEnd(prefix), from, deadline, stop);
  }

  Status LeaveQueue(std::string_view, std::string_view owner_id) override {
    auto entry = owners_.Take(std::string(owner_id));
    if (!entry) return OkStatus();
    if (entry->granted) {
      owners_.Store(std::string(owner_id), *entry);
      return OkStatus();
    }
    client_->keep_alive().Untrack(entry->lease);
    Status revoked = client_->LeaseRevoke(entry->lease);  // deletes our key with it
    return revoked.code() == Code::kNotHeld ? OkStatus() : revoked;
  }

  std::string_view kind() const override { return "etcd"; }
  DriftMargin drift() const override { return options_.drift; }

 private:
  // Our key for one owner id: queued or holding.
  struct Entry {
    std::string key;
    std::int64_t lease = 0;
    std::int64_t revision = 0;  // the key's create revision: the fencing token
    milliseconds ttl{0};
    bool granted = false;
  };

  std::string Prefix(std::string_view name) const {
    return options_.prefix + std::string(name) + "/";
  }
  // Where a release records its token, for Inspect of a free lock. Outside every lock's
  // prefix: no lock name starts with a NUL byte.
  std::string TokenKey(std::string_view name) const {
    return options_.prefix + std::string(1, '\0') + "dlock-last-token/" + std::string(name);
  }

  RangeRequest ListRequest(const std::string& prefix) const {
    RangeRequest list;
    list.set_key(prefix);
    list.set_range_end(PrefixEnd(prefix));
    list.set_sort_target(RangeRequest::CREATE);
    list.set_sort_order(RangeRequest::ASCEND);
    return list;
  }

  // Keys right under `prefix` (not those of a lock named "NAME/more"), oldest first.
  static std::vector<KeyValue> Filter(const etcd::pb::RangeResponse& response,
                                      const std::string& prefix) {
    std::vector<KeyValue> out;
    for (const auto& kv : response.kvs()) {
      std::string_view rest(kv.key());
      rest.remove_prefix(prefix.size());
      if (!rest.empty() && rest.find('/') == std::string_view::npos) out.push_back(kv);
    }
    return out;
  }

  Result<std::vector<KeyValue>> Contenders(const std::string& prefix) {
    auto got = client_->Range(ListRequest(prefix));
    if (!got.ok()) return got.status();
    return Filter(*got, prefix);
  }

  // A lease and, if absent, our key on it (etcd's Mutex: create if the key's create
  // revision is 0); `contenders`: the lock's keys, oldest first, read in the same
  // transaction.
  Result<Entry> Create(const AcquireRequest& request, const std::string& prefix,
                       std::vector<KeyValue>* contenders) {
    auto granted = client_->LeaseGrant(request.ttl);
    if (!granted.ok()) return granted.status();
    if (!granted->error().empty()) {
      return UnavailableError(fmt::format("etcd lease grant: {}", granted->error()));
    }
    Entry entry;
    entry.lease = granted->id();
    entry.ttl = milliseconds(granted->ttl() * 1000);
    entry.key = prefix + fmt::format("{:x}", entry.lease);
    TxnRequest txn;
    IfCreateRevision(txn, entry.key, 0);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(entry.key);
    put->set_value(KeyValueJson(request, entry.ttl));
    put->set_lease(entry.lease);
    txn.add_failure()->mutable_request_range()->set_key(entry.key);
    *txn.add_success()->mutable_request_range() = ListRequest(prefix);
    *txn.add_failure()->mutable_request_range() = ListRequest(prefix);
    auto done = client_->Txn(txn);
    if (!done.ok()) {
      client_->LeaseRevoke(entry.lease).IgnoreError();
      return done.status();
    }
    if (done->succeeded()) {
      entry.revision = done->header().revision();
    } else {
      const auto& existing = done->responses(0).response_range();
      if (existing.kvs_size() == 0) {
        client_->LeaseRevoke(entry.lease).IgnoreError();
        return UnavailableError("etcd: our key vanished at once");
      }
      entry.revision = existing.kvs(0).create_revision();
    }
    *contenders = Filter(done->responses(1).response_range(), prefix);
    return entry;
  }

  // Deletes `entry`'s key if it is still that key; a holder's release also records its
  // token for Inspect, in the same transaction. Then revokes the lease, in the background.
  Status Delete(const Entry& entry, std::string_view name, const char* not_held) {
    TxnRequest txn;
    IfCreateRevision(txn, entry.key, entry.revision);
    txn.add_success()->mutable_request_delete_range()->set_key(entry.key);
    if (entry.granted) {
      auto* record = txn.add_success()->mutable_request_put();
      record->set_key(TokenKey(name));
      record->set_value(std::to_string(entry.revision));
    }
    auto done = client_->Txn(txn);
    if (!done.ok()) return done.status();
    if (entry.lease != 0 && !revoker_.Add(entry.lease)) {
      client_->LeaseRevoke(entry.lease).IgnoreError();
    }
    if (!done->succeeded()) return NotHeldError(fmt::format("lock '{}' {}", name, not_held));
    if (!entry.granted)
      return NotHeldError(fmt::format("lock '{}' was waited for, not held", name));
    return OkStatus();
  }

  // Puts our key (same create revision: the token stays) on a new lease of `ttl`, then
  // revokes the old lease. kNotHeld if the key is no longer ours.
  Result<Entry> MoveToNewLease(const Lease& lease, Entry entry, milliseconds ttl) {
    auto granted = client_->LeaseGrant(ttl);
    if (!granted.ok()) return granted.status();
    TxnRequest txn;
    IfCreateRevision(txn, entry.key, entry.revision);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(entry.key);
    put->set_ignore_value(true);
    put->set_lease(granted->id());
    auto done = client_->Txn(txn);
    if (!done.ok()) {
      // Applied or not? Revoking the wrong lease would delete our key: look first.
      RangeRequest get;
      get.set_key(entry.key);
      auto now_on = client_->Range(get);
      bool moved = now_on.ok() && now_on->kvs_size() > 0 &&
                   now_on->kvs(0).create_revision() == entry.revision &&
                   now_on->kvs(0).lease() == granted->id();
      if (now_on.ok() && !moved) client_->LeaseRevoke(granted->id()).IgnoreError();
      if (!moved) return done.status();
    } else if (!done->succeeded()) {
      client_->LeaseRevoke(granted->id()).IgnoreError();
      owners_.Take(lease.owner_id);
      return NotHeldError(fmt::format("lock '{}' is not held by this owner", lease.name));
    }
    client_->LeaseRevoke(entry.lease).IgnoreError();
    entry.lease = granted->id();
    entry.ttl = milliseconds(granted->ttl() * 1000);
    if (owners_.Find(lease.owner_id)) owners_.Store(lease.owner_id, entry);
    return entry;
  }

  // Our entry for `owner_id`: from this process, or found by the owner digest in the
  // key values (a lease taken by another process, `dlock acquire`).
  Result<Entry> Locate(std::string_view name, const std::string& owner_id) {
    if (auto entry = owners_.Find(owner_id)) return *entry;
    auto contenders = Contenders(Prefix(name));
    if (!contenders.ok()) return contenders.status();
    const std::string digest = OwnerDigest(owner_id);
    for (std::size_t i = 0; i < contenders->size(); ++i) {
      const KeyValue& kv = (*contenders)[i];
      ValueFields fields = ParseValue(kv.value());
      if (fields.owner != digest) continue;
      Entry entry{kv.key(), kv.lease(), kv.create_revision(), fields.ttl};
      entry.granted = i == 0;
      return entry;
    }
    return NotHeldError(fmt::format("lock '{}' is not held by this owner", name));
  }

  // Gives up a fresh attempt: revokes the lease (and so the key) unless it is in line.
  Status Abandon(const AcquireRequest& request, const Entry& entry, Status why) {
    if (!owners_.Find(request.owner_id)) {
      client_->LeaseRevoke(entry.lease).IgnoreError();
    } else {
      client_->keep_alive().Track(entry.lease, entry.ttl / 3);  // keep our place
    }
    return why;
  }
  // A queued entry whose refresh failed stays in line (the Locker retries or leaves).
  Status Requeue(const std::string& owner_id, const Entry& entry, Status why) {
    client_->keep_alive().Track(entry.lease, entry.ttl / 3);
    owners_.Store(owner_id, entry);
    return why;
  }

  const EtcdOptions options_;
  std::unique_ptr<etcd::Client> client_;
  internal::OwnerMap<Entry> owners_;  // owner id -> our key
  // Declared after client_: destroyed before it. Drains for at most one call's timeout.
  Revoker revoker_{client_.get(), options_.timeout};
};

}  // namespace

Result<EtcdOptions> EtcdOptionsFromUri(const BackendUri& uri) {
  EtcdOptions o;
  if (uri.hosts.empty()) return InvalidArgumentError("etcd:// needs at least one host");
  o.endpoints.clear();
  for (const auto& hp : uri.hosts) {
    bool v6 = hp.host.find(':') != std::string::npos;
    o.endpoints.push_back(fmt::format("{}{}{}:{}", v6 ? "[" : "", hp.host, v6 ? "]" : "",
                                      hp.port == 0 ? 2379 : hp.port));
  }
  if (!uri.path.empty() && uri.path != "/") {
    return InvalidArgumentError(fmt::format(
        "etcd:// takes no path ('{}'); use ?prefix= to put the locks under a key prefix",
        uri.path));
  }
  if (uri.password && uri.user.empty()) {
    return InvalidArgumentError("etcd:// auth needs a user name: etcd://user:password@host");
  }
  o.user = uri.user;
  o.password = uri.password;
  o.drift = uri.drift;
  for (const auto& [key, value] : uri.query) {
    if (key == "tls" || key == "insecure") {
      if (value != "true" && value != "false") {
        return InvalidArgumentError(
            fmt::format("etcd:// option '{}' takes true or false, not '{}'", key, value));
      }
      if (key == "insecure") {
        return InvalidArgumentError(
            "etcd:// has no insecure TLS mode; give the server's CA with ?cacert=");
      }
      o.tls = value == "true";
    } else if (key == "cacert" || key == "cert" || key == "key") {
      (key == "cacert" ? o.cacert : key == "cert" ? o.cert : o.key) = value;
      o.tls = true;
    } else if (key == "prefix") {
      o.prefix = value;
    } else if (key == "timeout" || key == "connect_timeout") {
      auto d = ParseDuration(value);
      if (!d.ok()) return d.status();
      if (d->count() <= 0) {
        return InvalidArgumentError(fmt::format("etcd:// option '{}' must be positive", key));
      }
      (key == "timeout" ? o.timeout : o.connect_timeout) = *d;
    } else {
      return InvalidArgumentError(fmt::format(
          "unknown option '{}' for etcd://; known: tls, cacert, cert, key, prefix, timeout, "
          "connect_timeout, drift_factor, drift_ms",
          key));
    }
  }
  if (o.cert.empty() != o.key.empty()) {
    return InvalidArgumentError("etcd:// needs both cert= and key= for a client certificate");
  }
  return o;
}

Result<std::shared_ptr<Backend>> MakeEtcdBackend(const EtcdOptions& options) {
  EtcdOptions o = options;
  if (!o.clock) o.clock = SystemClock();
  auto client = etcd::Client::Connect(o);
  if (!client.ok()) return client.status();
  return std::shared_ptr<Backend>(std::make_shared<EtcdBackend>(std::move(o), std::move(*client)));
}

}  // namespace dlock
