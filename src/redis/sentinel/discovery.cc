#include "redis/sentinel/discovery.h"

#include <fmt/format.h>

#include <charconv>
#include <string_view>
#include <thread>

#include "redis/client/reply_error.h"
#include "redis/redis_backend.h"

namespace dlock::redis {
namespace {

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// The value of `field` in a flat field/value array reply; null if absent.
const std::string* Field(const Reply& reply, std::string_view field) {
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    if (reply.elements[i].str == field) return &reply.elements[i + 1].str;
  }
  return nullptr;
}

}  // namespace

Result<MasterAddress> AskSentinel(Client& sentinel, const std::string& name) {
  auto reply = sentinel.Call({"SENTINEL", "MASTER", name});
  if (!reply.ok()) return reply.status();
  const std::string who = fmt::format("sentinel {}", sentinel.endpoint());
  if (reply->is_error()) {
    if (reply->str.find("No such master") != std::string::npos) {
      return FailedPreconditionError(
          fmt::format("{} knows no master named '{}'", sentinel.endpoint(), name));
    }
    return ReplyError(who, *reply);
  }
  const std::string* ip = Field(*reply, "ip");
  const std::string* port = Field(*reply, "port");
  const std::string* epoch = Field(*reply, "config-epoch");
  const std::string* flags = Field(*reply, "flags");
  MasterAddress out;
  std::uint64_t e = 0;
  if (ip == nullptr || port == nullptr || epoch == nullptr || flags == nullptr ||
      !ParseNumber(*port, &out.port) || !ParseNumber(*epoch, &e)) {
    return UnavailableError(
        fmt::format("{}: an answer to SENTINEL MASTER without ip, port, "
                    "flags and config-epoch",
                    who));
  }
  // During a failover, the leader has raised config-epoch on the promoted replica's
  // report while ip and port still name the old master until the switch.
  if (flags->find("failover_in_progress") != std::string::npos) {
    return UnavailableError(fmt::format("{}: a failover of '{}' is in progress", who, name));
  }
  if (e > kMaxFencingEpoch) {
    return FailedPreconditionError(
        fmt::format("{}: config-epoch {} of '{}' does not fit in the 24 bits of a fencing token",
                    who, e, name));
  }
  out.host = *ip;
  out.epoch = static_cast<std::uint32_t>(e);
  return out;
}

Result<FoundMaster> FindMaster(const std::vector<Client*>& sentinels, std::size_t first,
                               const std::string& name, const ConnectMaster& connect,
                               std::chrono::steady_clock::time_point deadline) {
  std::string why;
  bool all_refused = true;
  while (true) {
    why.clear();
    all_refused = true;
    bool try_again = false;  // a sentinel answered, but its master could not be used
    for (std::size_t k = 0; k < sentinels.size(); ++k) {
      const std::size_t i = (first + k) % sentinels.size();
      Client& sentinel = *sentinels[i];
      auto fail = [&](const Status& status) {
        if (status.code() != Code::kFailedPrecondition) all_refused = false;
        why += fmt::format("{}{}", why.empty() ? "" : "; ", status.message());
      };
      auto address = AskSentinel(sentinel, name);
      if (!address.ok()) {
        fail(address.status());
        if (address.status().code() == Code::kUnavailable &&
            address.status().message().find("in progress") != std::string_view::npos) {
          try_again = true;
        }
        continue;
      }
      auto client = connect(*address);
      if (!client.ok()) {
        fail(client.status());
        continue;
      }
      if (Status role = CheckMaster(**client); !role.ok()) {
        fail(Status(role.code(),
                    fmt::format("sentinel {} names {}", sentinel.endpoint(), role.message())));
        try_again = true;
        continue;
      }
      return FoundMaster{*std::move(address), *std::move(client), i};
    }
    const auto pause = std::chrono::milliseconds(100);
    if (!try_again || std::chrono::steady_clock::now() + pause >= deadline) break;
    std::this_thread::sleep_for(pause);
  }
  std::string message = fmt::format("no usable master '{}' from the {} sentinel{} tried: {}", name,
                                    sentinels.size(), sentinels.size() == 1 ? "" : "s", why);
  return all_refused ? FailedPreconditionError(message) : UnavailableError(message);
}

}  // namespace dlock::redis
