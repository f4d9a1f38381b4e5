// The PostgreSQL guard: SELECT dlock_fence($1, $2), the caller's statement and COMMIT in
// one transaction on one connection (share/dlock/fence.sql has the table and function).
#include <fmt/format.h>

#include <charconv>
#include <string>
#include <utility>

#include "core/mutex.h"
#include "dlock/fence/postgres.h"
#include "postgres/connection.h"
#include "postgres/fence_sql.h"  // generated from share/dlock/fence.sql: kFenceSql

namespace dlock::fence {
namespace {

using internal::Mutex;
using internal::MutexLock;
using postgres::Connection;
using postgres::PgResult;
using postgres::SqlState;

// Serializes the guards that create the schema at once (CREATE OR REPLACE FUNCTION run
// concurrently fails with "tuple concurrently updated"): "dlockfen" as a number.
constexpr const char* kSchemaLockKey = "7236281174071862638";

// The SQLSTATE dlock_fence raises for a stale token.
constexpr std::string_view kStaleState = "DL001";

// The most parameters a statement may have (the protocol counts them in 16 bits).
constexpr std::size_t kMaxParams = 65535;

Result<FencingToken> ParseToken(const char* text) {
  std::string_view s(text ? text : "");
  FencingToken token = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), token);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return FailedPreconditionError(
        fmt::format("PostgreSQL: dlock_fence holds '{}', not a fencing token", s));
  }
  return token;
}

class PostgresGuard final : public Guard {
 public:
  explicit PostgresGuard(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

  Status Init(bool create_schema) {
    MutexLock lock(mu_);
    DLOCK_RETURN_IF_ERROR(conn_->Ensure());
    auto found = conn_->Exec(
        "SELECT to_regclass('dlock_fence') IS NOT NULL AND "
        "to_regprocedure('dlock_fence(text,numeric)') IS NOT NULL");
    if (!found.ok()) return found.status();
    if (PQresultStatus(found->get()) != PGRES_TUPLES_OK) {
      return conn_->ServerError(found->get(), "cannot look for the fence schema");
    }
    if (std::string_view(PQgetvalue(found->get(), 0, 0)) == "t") return OkStatus();
    if (!create_schema) {
      return FailedPreconditionError(
          "PostgreSQL: the table or the function dlock_fence is missing: load "
          "share/dlock/fence.sql (psql -f) or let the guard create them (create_schema)");
    }
    auto created = conn_->Exec(fmt::format("BEGIN; SELECT pg_advisory_xact_lock({}); {}\n; COMMIT",
                                           kSchemaLockKey, postgres::kFenceSql));
    if (!created.ok()) return created.status();
    if (PQresultStatus(created->get()) != PGRES_COMMAND_OK) {
      Status error = conn_->ServerError(created->get(), "cannot create the fence schema");
      Rollback();
      return error;
    }
    return OkStatus();
  }

  Result<std::string> Apply(std::string_view resource, FencingToken token,
                            const std::vector<std::string>& write) override {
    DLOCK_RETURN_IF_ERROR(ValidateFencedWrite(resource, token, write));
    if (write[0].find_first_not_of(" \t\r\n;") == std::string::npos) {
      return InvalidArgumentError("a PostgreSQL write is {SQL, PARAMS...}: the SQL is empty");
    }
    if (write.size() - 1 > kMaxParams) {
      return InvalidArgumentError(
          fmt::format("{} parameters: PostgreSQL takes at most {}", write.size() - 1, kMaxParams));
    }
    for (const auto& w : write) {
      if (w.find('\0') != std::string::npos) {
        return InvalidArgumentError("a PostgreSQL write cannot contain a NUL byte");
      }
    }
    const std::string name(resource);
    MutexLock lock(mu_);
    DLOCK_RETURN_IF_ERROR(RunOnce("BEGIN", std::nullopt, "cannot begin a transaction").status());

    auto fenced = conn_->Exec("SELECT dlock_fence($1, $2)",
                              std::vector<std::string>{name, std::to_string(token)});
    if (!fenced.ok()) return fenced.status();
    if (PQresultStatus(fenced->get()) != PGRES_TUPLES_OK) {
      const bool stale = SqlState(fenced->get()) == kStaleState;
      Status error = conn_->ServerError(fenced->get(), "dlock_fence failed");
      Rollback();
      if (!stale) return error;
      auto highest = HighestLocked(name);
      if (!highest.ok()) return StaleError(error.message());
      return StaleTokenError(resource, token, *highest);
    }

    std::vector<std::string> params(write.begin() + 1, write.end());
    auto applied = conn_->Exec(write[0], params);
    if (!applied.ok()) return Abandon(applied.status());
    ExecStatusType status = PQresultStatus(applied->get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      Status error = status == PGRES_EMPTY_QUERY
                         ? InvalidArgumentError("a PostgreSQL write's SQL is empty")
                         : conn_->ServerError(applied->get(), "the write failed");
      Rollback();
      return error;
    }
    std::string answer = PQcmdStatus(applied->get());
    if (!conn_->InTransaction()) {
      // COMMIT, ROLLBACK or PREPARE TRANSACTION: the write would not be in our
      // transaction any more (a COMMIT there made the token alone durable).
      return InvalidArgumentError(
          fmt::format("a PostgreSQL write must not end the guard's transaction ({})", answer));
    }

    auto committed = Run("COMMIT", std::nullopt, "the COMMIT failed");
    if (!committed.ok()) return committed.status();
    return answer;
  }

  Result<FencingToken> Highest(std::string_view resource) override {
    if (resource.empty()) return InvalidArgumentError("the resource name is empty");
    MutexLock lock(mu_);
    auto result =
        RunOnce("SELECT token::text FROM dlock_fence WHERE resource = $1",
                std::vector<std::string>{std::string(resource)}, "cannot read dlock_fence");
    if (!result.ok()) return result.status();
    return TokenOf(result->get());
  }

  std::string_view kind() const override { return "postgres"; }

 private:
  // Runs `sql`; a failed result is an error (`doing` says what failed), after which an
  // open transaction is rolled back.
  Result<PgResult> Run(const std::string& sql,
                       const std::optional<std::vector<std::string>>& params,
                       std::string_view doing) REQUIRES(mu_) {
    auto result = conn_->Exec(sql, params);
    if (!result.ok()) return Abandon(result.status());
    ExecStatusType status = PQresultStatus(result->get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      Status error = conn_->ServerError(result->get(), doing);
      Rollback();
      return error;
    }
    return result;
  }

  // Run for a statement that changes nothing or opens a transaction, which may be sent
  // twice: on a connection made again if the server had closed ours since the last call
  // (a restart, an idle timeout), which is seen only when the statement fails.
  Result<PgResult> RunOnce(const std::string& sql,
                           const std::optional<std::vector<std::string>>& params,
                           std::string_view doing) REQUIRES(mu_) {
    DLOCK_RETURN_IF_ERROR(conn_->Ensure());
    auto result = Run(sql, params, doing);
    if (result.ok() || result.status().code() != Code::kUnavailable || conn_->connected() ||
        conn_->timed_out()) {
      return result;
    }
    DLOCK_RETURN_IF_ERROR(conn_->Ensure());
    return Run(sql, params, doing);
  }

  Result<FencingToken> HighestLocked(const std::string& resource) REQUIRES(mu_) {
    auto result = Run("SELECT token::text FROM dlock_fence WHERE resource = $1",
                      std::vector<std::string>{resource}, "cannot read dlock_fence");
    if (!result.ok()) return result.status();
    return TokenOf(result->get());
  }

  // The token in dlock_fence's row of a resource (`result` of a SELECT); 0 if none.
  static Result<FencingToken> TokenOf(const PGresult* result) {
    if (PQntuples(result) == 0) return FencingToken{0};
    return ParseToken(PQgetvalue(result, 0, 0));
  }

  // Ends an open transaction without its changes; if that fails, drops the connection,
  // which makes the server roll it back.
  void Rollback() REQUIRES(mu_) {
    if (!conn_->InTransaction()) return;
    auto result = conn_->Exec("ROLLBACK");
    if (!result.ok() || PQresultStatus(result->get()) != PGRES_COMMAND_OK) conn_->Drop();
  }

  // `error` came from the connection in the middle of a transaction: make sure it is
  // gone, and return `error`.
  Status Abandon(Status error) REQUIRES(mu_) {
    Rollback();
    return error;
  }

  Mutex mu_;
  const std::unique_ptr<Connection> conn_ GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<Guard>> MakePostgresGuard(const PostgresGuardOptions& options) {
  auto conn = Connection::Make(options.conninfo, options.timeout);
  if (!conn.ok()) return conn.status();
  auto guard = std::make_unique<PostgresGuard>(std::move(*conn));
  DLOCK_RETURN_IF_ERROR(guard->Init(options.create_schema));
  return std::unique_ptr<Guard>(std::move(guard));
}

}  // namespace dlock::fence
