// The Redis guard: lua/fence.lua checks the token, runs the write and raises the
// resource's highest token, in one script; the write is a command (lua/fence_command.lua)
// or the caller's EVAL body, wrapped here.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dlock/fence/redis.h"
#include "redis/client/client.h"
#include "redis/client/reply_error.h"
#include "redis/common/client_options.h"
#include "redis/common/keys.h"
#include "redis/lua_scripts.h"

namespace dlock::fence {
namespace {

namespace lua = redis::lua;
using redis::Reply;

// A caller's EVAL body is sent as kBodyHead BODY kBodyTail, then lua/fence.lua: BODY
// starts on the script's first line, so the line numbers in Redis's errors are BODY's.
// The newline before `end` ends a last line that is a comment.
constexpr std::string_view kBodyHead = "local function dlock_write(KEYS, ARGV) ";
constexpr std::string_view kBodyTail = "\nend\n";

// Scripts made of distinct bodies kept at most; beyond that the cache starts again.
constexpr std::size_t kMaxCachedBodies = 64;

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// Redis's message on one line.
std::string OneLine(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::optional<FencingToken> ParseToken(std::string_view text) {
  FencingToken token = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), token);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return token;
}

// The reply as Apply returns it (fence/redis.h).
void AppendText(const Reply& r, std::string* out) {
  switch (r.type) {
    case Reply::Type::kString:
    case Reply::Type::kStatus:
    case Reply::Type::kError: *out += r.str; return;
    case Reply::Type::kInteger: *out += std::to_string(r.integer); return;
    case Reply::Type::kNil: *out += "(nil)"; return;
    case Reply::Type::kArray:
      for (std::size_t i = 0; i < r.elements.size(); ++i) {
        if (i > 0) *out += '\n';
        AppendText(r.elements[i], out);
      }
      return;
  }
}

class RedisGuard final : public Guard {
 public:
  RedisGuard(RedisOptions options, std::unique_ptr<redis::Client> client)
      : options_(std::move(options)),
        command_({lua::kFenceCommand, lua::kFence}),
        client_(std::move(client)) {}

  Result<std::string> Apply(std::string_view resource, FencingToken token,
                            const std::vector<std::string>& write) override {
    DLOCK_RETURN_IF_ERROR(ValidateFencedWrite(resource, token, write));
    std::vector<std::string> keys = {FenceKey(resource)};
    std::vector<std::string> args = {std::to_string(token)};
    const std::string verb = Upper(write[0]);
    if (verb == "EVALSHA" || verb == "EVALSHA_RO" || verb == "EVAL_RO" || verb == "FCALL" ||
        verb == "FCALL_RO") {
      return InvalidArgumentError(fmt::format(
          "a fenced write cannot be {}: give a script's body as {{\"EVAL\", BODY, NUMKEYS, ...}}",
          verb));
    }
    Result<Reply> reply = UnavailableError("not sent");
    if (verb == "EVAL") {
      auto script = BodyScript(write);
      if (!script.ok()) return script.status();
      const std::size_t numkeys = *ParseToken(write[2]);  // checked by BodyScript
      keys.insert(keys.end(), write.begin() + 3, write.begin() + 3 + numkeys);
      args.insert(args.end(), write.begin() + 3 + numkeys, write.end());
      reply = client_->Eval(**script, keys, args);
    } else {
      args.insert(args.end(), write.begin(), write.end());
      reply = client_->Eval(command_, keys, args);
    }
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) return Refused(resource, token, *reply);
    std::string text;
    AppendText(*reply, &text);
    return text;
  }

  Result<FencingToken> Highest(std::string_view resource) override {
    // The resource's rules are a write's; the token and the write here are placeholders.
    DLOCK_RETURN_IF_ERROR(ValidateFencedWrite(resource, 1, {"GET"}));
    const std::string key = FenceKey(resource);
    auto reply = client_->Call({"GET", key});
    if (!reply.ok()) return reply.status();
    if (reply->type == Reply::Type::kNil) return FencingToken{0};
    if (reply->is_error() && reply->str.starts_with("WRONGTYPE")) return NotARecord(key);
    if (reply->type != Reply::Type::kString) return redis::ReplyError(client_->endpoint(), *reply);
    auto token = ParseToken(reply->str);
    if (!token) return NotARecord(key);
    return *token;
  }

  std::string_view kind() const override { return "redis"; }

 private:
  std::string FenceKey(std::string_view resource) const {
    return redis::LockKey(options_.prefix, resource, ":fence");
  }

  Status NotARecord(const std::string& key) const {
    return FailedPreconditionError(
        fmt::format("{}: key '{}' is not a fence record (one decimal token); was it written by "
                    "something else?",
                    client_->endpoint(), key));
  }

  // The error reply of the script as Apply's status.
  Status Refused(std::string_view resource, FencingToken token, const Reply& reply) const {
    const std::string& e = reply.str;
    constexpr std::string_view kStale = "DLOCK_STALE ";
    if (e.starts_with(kStale)) {
      auto highest = ParseToken(std::string_view(e).substr(kStale.size()));
      if (!highest) return NotARecord(FenceKey(resource));
      return StaleTokenError(resource, token, *highest);
    }
    if (e.starts_with("DLOCK_BADFENCE ")) return NotARecord(FenceKey(resource));
    // Authentication and permissions: kFailedPrecondition, as every call says.
    if (e.starts_with("NOAUTH") || e.starts_with("WRONGPASS") || e.starts_with("NOPERM")) {
      return redis::ReplyError(client_->endpoint(), reply);
    }
    // The server cannot run it now; nothing was written, the same token may try again.
    for (std::string_view transient :
         {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"}) {
      if (e.starts_with(transient) && (e.size() == transient.size() || e[transient.size()] == ' '))
        return UnavailableError(OneLine(fmt::format("{}: {}", client_->endpoint(), e)));
    }
    return FailedPreconditionError(
        OneLine(fmt::format("{}: the fenced write to '{}' failed, its token is not recorded: {}",
                            client_->endpoint(), resource, e)));
  }

  // The script for {"EVAL", BODY, NUMKEYS, ...}: kInvalidArgument if it is not one.
  Result<std::shared_ptr<const redis::Script>> BodyScript(const std::vector<std::string>& write) {
    if (write.size() < 3) {
      return InvalidArgumentError("a fenced EVAL is {\"EVAL\", BODY, NUMKEYS, KEY..., ARG...}");
    }
    const std::string& body = write[1];
    if (body.empty()) return InvalidArgumentError("a fenced EVAL's body is empty");
    if (body.starts_with("#!")) {
      return InvalidArgumentError(
          "a fenced EVAL's body cannot start with a #! line: it runs inside the guard's script");
    }
    auto numkeys = ParseToken(write[2]);
    if (!numkeys || *numkeys > write.size() - 3) {
      return InvalidArgumentError(fmt::format(
          "a fenced EVAL's NUMKEYS '{}' is not a number from 0 to {}", write[2], write.size() - 3));
    }
    std::lock_guard lock(mu_);
    auto it = bodies_.find(body);
    if (it != bodies_.end()) return it->second;
    if (bodies_.size() >= kMaxCachedBodies) bodies_.clear();
    auto script = std::make_shared<const redis::Script>(
        std::initializer_list<std::string_view>{kBodyHead, body, kBodyTail, lua::kFence});
    bodies_.emplace(body, script);
    return script;
  }

  const RedisOptions options_;
  const redis::Script command_;
  std::mutex mu_;
  // A script per caller's body, so that its SHA1 is computed once.
  std::map<std::string, std::shared_ptr<const redis::Script>, std::less<>>
      bodies_;  // guarded by mu_
  std::unique_ptr<redis::Client> client_;
};

}  // namespace

Result<std::unique_ptr<Guard>> MakeRedisGuard(const RedisOptions& options) {
  auto client_options = redis::MakeClientOptions(options);
  if (!client_options.ok()) return client_options.status();
  auto client = std::make_unique<redis::Client>(*client_options);
  DLOCK_RETURN_IF_ERROR(client->Ping());
  return std::unique_ptr<Guard>(std::make_unique<RedisGuard>(options, std::move(client)));
}

}  // namespace dlock::fence
