// The etcd guard: `PREFIX fence/R` keeps the highest token R has seen, as 20 zero-padded
// digits; one transaction compares it with the write's token and either reads it (stale)
// or raises it and runs the write.
#include <fmt/format.h>

#include <charconv>
#include <string>

#include "dlock/fence/etcd.h"
#include "etcd/client.h"

namespace dlock::fence {
namespace {

using etcd::pb::Compare;
using etcd::pb::TxnRequest;

// 20 digits hold every 64-bit token; zero-padded, byte order is numeric order.
constexpr std::size_t kTokenDigits = 20;

std::string PaddedToken(FencingToken token) { return fmt::format("{:0{}}", token, kTokenDigits); }

Result<FencingToken> ParsePaddedToken(const std::string& value, const std::string& key) {
  FencingToken token = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), token);
  if (value.size() != kTokenDigits || ec != std::errc() || end != value.data() + value.size()) {
    return FailedPreconditionError(fmt::format(
        "etcd key '{}' is not a fence record ({} decimal digits); was it written by something "
        "else?",
        key, kTokenDigits));
  }
  return token;
}

class EtcdGuard final : public Guard {
 public:
  EtcdGuard(std::string prefix, std::unique_ptr<etcd::Client> client)
      : fence_prefix_(std::move(prefix) + "fence/"), client_(std::move(client)) {}

  Result<std::string> Apply(std::string_view resource, FencingToken token,
                            const std::vector<std::string>& write) override {
    DLOCK_RETURN_IF_ERROR(ValidateFencedWrite(resource, token, write));
    DLOCK_RETURN_IF_ERROR(ValidateWrite(write));
    const std::string fence_key = FenceKey(resource);

    // compare: the recorded token is greater than ours. Only true if the fence key
    // exists: etcd fails a value compare on a missing key (etcdserver's applyCompare), so
    // a first write takes the failure branch too, and a misreading of that could only
    // refuse a write, never let a stale one through.
    TxnRequest txn;
    auto* cmp = txn.add_compare();
    cmp->set_key(fence_key);
    cmp->set_target(Compare::VALUE);
    cmp->set_result(Compare::GREATER);
    cmp->set_value(PaddedToken(token));
    // success (stale): read the record, to say which token it has seen.
    auto* range = txn.add_success()->mutable_request_range();
    range->set_key(fence_key);
    range->set_limit(1);
    // failure (ours is the highest, or the first): raise the record, then write.
    auto* raise = txn.add_failure()->mutable_request_put();
    raise->set_key(fence_key);
    raise->set_value(PaddedToken(token));
    if (write[0] == "put") {
      auto* put = txn.add_failure()->mutable_request_put();
      put->set_key(write[1]);
      put->set_value(write[2]);
    } else {
      txn.add_failure()->mutable_request_delete_range()->set_key(write[1]);
    }

    auto response = client_->Txn(txn);
    if (!response.ok()) return response.status();
    if (response->succeeded()) {
      const auto& kvs = response->responses(0).response_range().kvs();
      if (kvs.empty()) {
        return InternalError(fmt::format(
            "etcd compared the missing key '{}' as greater than token {}; nothing was written",
            fence_key, token));
      }
      auto highest = ParsePaddedToken(kvs[0].value(), fence_key);
      if (!highest.ok()) return highest.status();
      return StaleTokenError(resource, token, *highest);
    }
    if (write[0] == "put") return std::string();
    return fmt::format("deleted {}", response->responses(1).response_delete_range().deleted());
  }

  Result<FencingToken> Highest(std::string_view resource) override {
    if (resource.empty()) return InvalidArgumentError("the resource name is empty");
    const std::string fence_key = FenceKey(resource);
    etcd::pb::RangeRequest request;
    request.set_key(fence_key);
    request.set_limit(1);
    auto response = client_->Range(request);
    if (!response.ok()) return response.status();
    if (response->kvs().empty()) return FencingToken{0};
    return ParsePaddedToken(response->kvs(0).value(), fence_key);
  }

  std::string_view kind() const override { return "etcd"; }

 private:
  std::string FenceKey(std::string_view resource) const {
    return fence_prefix_ + std::string(resource);
  }

  Status ValidateWrite(const std::vector<std::string>& write) const {
    const bool put = write[0] == "put" && write.size() == 3;
    const bool del = write[0] == "delete" && write.size() == 2;
    if (!put && !del) {
      return InvalidArgumentError(fmt::format(
          "an etcd write is {{\"put\", KEY, VALUE}} or {{\"delete\", KEY}}, not '{}' with {} "
          "argument(s)",
          write[0], write.size() - 1));
    }
    if (write[1].empty()) return InvalidArgumentError("the etcd key to write is empty");
    if (write[1].starts_with(fence_prefix_)) {
      return InvalidArgumentError(
          fmt::format("etcd key '{}' is under '{}', where the guard keeps its tokens", write[1],
                      fence_prefix_));
    }
    return OkStatus();
  }

  const std::string fence_prefix_;
  const std::unique_ptr<etcd::Client> client_;
};

}  // namespace

Result<std::unique_ptr<Guard>> MakeEtcdGuard(const EtcdOptions& options) {
  auto client = etcd::Client::Connect(options);
  if (!client.ok()) return client.status();
  return std::unique_ptr<Guard>(std::make_unique<EtcdGuard>(options.prefix, std::move(*client)));
}

}  // namespace dlock::fence
