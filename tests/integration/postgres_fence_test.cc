// The PostgreSQL guard (dlock/fence/postgres.h) against a real PostgreSQL: the fencing
// rule on a user table, share/dlock/fence.sql from plain SQL, concurrent writers,
// failed statements, connection errors, and a lock holder that comes back too late.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dlock/backends/file.h"
#include "dlock/fence/postgres.h"
#include "dlock/locker.h"
#include "integration/postgres_server.h"
#include "integration/server_process.h"
#include "test_util.h"

namespace dlock {
namespace {

using fence::Guard;
using fence::MakePostgresGuard;
using fence::PostgresGuardOptions;
using std::chrono::milliseconds;
using std::chrono::seconds;
using test::PostgresServer;
using test::StatusIs;

// What a statement returned, read through a plain libpq connection of the test's own.
struct SqlAnswer {
  std::string status;  // "UPDATE 1"; empty on an error
  std::string error;   // the server's message; empty on success
  std::vector<std::vector<std::string>> rows;
  std::string value() const { return rows.empty() || rows[0].empty() ? "" : rows[0][0]; }
};

void IgnoreNotice(void*, const char*) {}

// A blocking libpq connection for the test's own SQL (plain SQL, no guard).
class Sql {
 public:
  explicit Sql(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
    PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
  }
  ~Sql() { PQfinish(conn_); }
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;

  SqlAnswer Run(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
    SqlAnswer answer;
    ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      answer.status = PQcmdStatus(r);
      for (int i = 0; i < PQntuples(r); ++i) {
        answer.rows.emplace_back();
        for (int j = 0; j < PQnfields(r); ++j) answer.rows.back().push_back(PQgetvalue(r, i, j));
      }
    } else {
      answer.error = PQresultErrorMessage(r);
    }
    PQclear(r);
    return answer;
  }

  // Runs `sql`, which must succeed.
  SqlAnswer Must(const std::string& sql, const std::vector<std::string>& params = {}) {
    SqlAnswer answer = Run(sql, params);
    EXPECT_EQ(answer.error, "") << sql;
    return answer;
  }

 private:
  PGconn* conn_;
};

class PostgresFenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = PostgresServer::Start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "PostgreSQL did not start";
    sql_ = std::make_unique<Sql>(server_->ConnInfo());
    // A fresh database per test: its own dlock_fence and tables.
    db_ = "t" + std::to_string(next_db_++);
    sql_->Must("DROP DATABASE IF EXISTS " + db_);
    sql_->Must("CREATE DATABASE " + db_);
    db_sql_ = std::make_unique<Sql>(ConnInfo());
    db_sql_->Must("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)");
    db_sql_->Must("INSERT INTO accounts VALUES (1, 0)");
  }

  std::string ConnInfo(const std::string& password = PostgresServer::kPassword) const {
    return server_->ConnInfo(password) + " dbname=" + db_;
  }

  std::unique_ptr<Guard> MakeGuard() {
    auto guard = MakePostgresGuard({.conninfo = ConnInfo()});
    EXPECT_TRUE(guard.ok()) << guard.status().ToString();
    return guard.ok() ? std::move(*guard) : nullptr;
  }

  std::string Balance() {
    return db_sql_->Must("SELECT balance FROM accounts WHERE id = 1").value();
  }

  // The guard's write: set account 1's balance.
  static std::vector<std::string> SetBalance(int balance) {
    return {"UPDATE accounts SET balance = $1 WHERE id = $2", std::to_string(balance), "1"};
  }

  static PostgresServer* server_;
  static int next_db_;
  std::string db_;
  std::unique_ptr<Sql> sql_;     // the server's "postgres" database
  std::unique_ptr<Sql> db_sql_;  // this test's database
};

PostgresServer* PostgresFenceTest::server_ = nullptr;
int PostgresFenceTest::next_db_ = 0;

TEST_F(PostgresFenceTest, AppliesATokenAtLeastTheHighestAndRefusesAnOlderOne) {
  auto guard = MakeGuard();
  ASSERT_NE(guard, nullptr);
  EXPECT_EQ(guard->kind(), "postgres");
  EXPECT_EQ(*guard->Highest("accounts/1"), 0u);

  auto first = guard->Apply("accounts/1", 5, SetBalance(100));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, "UPDATE 1");
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(*guard->Highest("accounts/1"), 5u);

  // The same token again: one grant, many writes.
  auto again = guard->Apply("accounts/1", 5, SetBalance(150));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Balance(), "150");

  auto stale = guard->Apply("accounts/1", 4, SetBalance(999));
  EXPECT_THAT(stale.status(), StatusIs(Code::kStale));
  EXPECT_EQ(stale.status(), fence::StaleTokenError("accounts/1", 4, 5));
  EXPECT_EQ(Balance(), "150");
  EXPECT_EQ(*guard->Highest("accounts/1"), 5u);

  // Resources are independent; the largest token fits.
  EXPECT_TRUE(guard->Apply("accounts/2", 1, {"SELECT 1"}).ok());
  auto max = guard->Apply("accounts/3", UINT64_MAX, {"SELECT $1::int", "7"});
  ASSERT_TRUE(max.ok()) << max.status().ToString();
  EXPECT_EQ(*max, "SELECT 1");
  EXPECT_EQ(*guard->Highest("accounts/3"), UINT64_MAX);
  EXPECT_EQ(*guard->Highest("accounts/1"), 5u);

  auto newer = guard->Apply("accounts/1", 6, SetBalance(200));
  ASSERT_TRUE(newer.ok()) << newer.status().ToString();
  EXPECT_EQ(Balance(), "200");
  EXPECT_EQ(db_sql_->Must("SELECT token FROM dlock_fence WHERE resource = 'accounts/1'").value(),
            "6");
}

TEST_F(PostgresFenceTest, TheConditionalUpdateOfFenceSqlWorksFromPlainSql) {
  auto guard = MakeGuard();  // creates the schema
  ASSERT_NE(guard, nullptr);
  ASSERT_TRUE(guard->Apply("accounts/1", 5, SetBalance(100)).ok());

  // As fence.sql's comment says, on dlock_fence: a stale token changes no row...
  const std::string ensure =
      "INSERT INTO dlock_fence (resource, token) VALUES ($1, 0) ON CONFLICT DO NOTHING";
  const std::string raise = "UPDATE dlock_fence SET token = $2 WHERE resource = $1 AND token <= $2";
  db_sql_->Must("BEGIN");
  db_sql_->Must(ensure, {"accounts/1"});
  EXPECT_EQ(db_sql_->Must(raise, {"accounts/1", "4"}).status, "UPDATE 0");
  db_sql_->Must("ROLLBACK");
  EXPECT_EQ(Balance(), "100");

  // ...a current one changes one, and the write goes with it.
  db_sql_->Must("BEGIN");
  db_sql_->Must(ensure, {"accounts/1"});
  EXPECT_EQ(db_sql_->Must(raise, {"accounts/1", "7"}).status, "UPDATE 1");
  db_sql_->Must("UPDATE accounts SET balance = 300 WHERE id = 1");
  db_sql_->Must("COMMIT");
  EXPECT_EQ(Balance(), "300");

  // The guard sees what plain SQL recorded, and plain SQL what the guard did.
  EXPECT_EQ(*guard->Highest("accounts/1"), 7u);
  EXPECT_THAT(guard->Apply("accounts/1", 6, SetBalance(1)).status(), StatusIs(Code::kStale));
  EXPECT_EQ(Balance(), "300");

  // A resource plain SQL meets first: the INSERT makes its row.
  db_sql_->Must("BEGIN");
  db_sql_->Must(ensure, {"new"});
  EXPECT_EQ(db_sql_->Must(raise, {"new", "3"}).status, "UPDATE 1");
  db_sql_->Must("COMMIT");
  EXPECT_EQ(*guard->Highest("new"), 3u);

  // The function from plain SQL: DL001 when stale.
  SqlAnswer refused = db_sql_->Run("SELECT dlock_fence('new', 2)");
  EXPECT_NE(refused.error.find("fencing token 2 is stale: resource 'new' has seen token 3"),
            std::string::npos)
      << refused.error;

  // And on a table of one's own that keeps the token with the data.
  db_sql_->Must("CREATE TABLE orders (id int PRIMARY KEY, state text, fence_token numeric(20))");
  db_sql_->Must("INSERT INTO orders VALUES (42, 'new', 0)");
  const std::string pay =
      "UPDATE orders SET state = $3, fence_token = $2 WHERE id = $1 AND fence_token <= $2";
  EXPECT_EQ(db_sql_->Must(pay, {"42", "9", "paid"}).status, "UPDATE 1");
  EXPECT_EQ(db_sql_->Must(pay, {"42", "8", "late"}).status, "UPDATE 0");
  EXPECT_EQ(db_sql_->Must("SELECT state FROM orders").value(), "paid");
}

TEST_F(PostgresFenceTest, ConcurrentWritersNeverApplyATokenBelowOneAppliedBefore) {
  db_sql_->Must("CREATE TABLE history (seq bigserial PRIMARY KEY, token numeric(20) NOT NULL)");
  constexpr int kWriters = 4;
  constexpr int kWritesEach = 40;
  std::vector<std::unique_ptr<Guard>> guards;
  for (int i = 0; i < kWriters; ++i) {
    guards.push_back(MakeGuard());
    ASSERT_NE(guards.back(), nullptr);
  }
  // Tokens from one counter, as a lock service hands them out; each writer takes one and
  // then writes, so writes arrive out of token order.
  std::atomic<FencingToken> next{1};
  std::mutex mu;
  std::vector<FencingToken> stale;
  std::vector<std::string> errors;
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      for (int n = 0; n < kWritesEach; ++n) {
        FencingToken token = next.fetch_add(1);
        auto applied = guards[i]->Apply(
            "shared", token, {"INSERT INTO history (token) VALUES ($1)", std::to_string(token)});
        std::lock_guard lock(mu);
        if (applied.ok()) continue;
        if (applied.status().code() == Code::kStale) {
          stale.push_back(token);
        } else {
          errors.push_back(applied.status().ToString());
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();

  // History in the order of the writes (the sequence is drawn under the row lock, which
  // is held until the commit): never a token below one applied before it.
  SqlAnswer history = db_sql_->Must("SELECT token FROM history ORDER BY seq");
  std::vector<FencingToken> applied;
  for (const auto& row : history.rows) applied.push_back(std::stoull(row[0]));
  ASSERT_FALSE(applied.empty());
  EXPECT_TRUE(std::is_sorted(applied.begin(), applied.end()));
  EXPECT_EQ(applied.size() + stale.size(), static_cast<std::size_t>(kWriters * kWritesEach));
  EXPECT_EQ(std::set<FencingToken>(applied.begin(), applied.end()).size(), applied.size());
  // Every refusal had a reason: a greater token was applied.
  for (FencingToken t : stale) EXPECT_LT(t, applied.back());
  EXPECT_EQ(*guards[0]->Highest("shared"), applied.back());
}

TEST_F(PostgresFenceTest, AFailedStatementChangesNothing) {
  auto guard = MakeGuard();
  ASSERT_NE(guard, nullptr);
  ASSERT_TRUE(guard->Apply("accounts/1", 5, SetBalance(100)).ok());

  auto bad = guard->Apply("accounts/1", 9, {"UPDATE no_such_table SET x = 1"});
  EXPECT_THAT(bad.status(), StatusIs(Code::kFailedPrecondition));
  EXPECT_NE(bad.status().message().find("\"no_such_table\" does not exist"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("42P01"), std::string::npos);
  EXPECT_EQ(bad.status().message().find("\\x0a"), std::string::npos) << "one line";
  EXPECT_EQ(*guard->Highest("accounts/1"), 5u);

  // A statement that fails in the server after changing rows: all rolled back.
  auto violation =
      guard->Apply("accounts/1", 9, {"UPDATE accounts SET balance = balance / $1", "0"});
  EXPECT_THAT(violation.status(), StatusIs(Code::kFailedPrecondition));
  EXPECT_EQ(Balance(), "100");
  EXPECT_EQ(*guard->Highest("accounts/1"), 5u);

  // Not one statement, or one that ends the guard's transaction.
  EXPECT_THAT(guard->Apply("accounts/1", 9, {"SELECT 1; SELECT 2"}).status(),
              StatusIs(Code::kFailedPrecondition));
  EXPECT_THAT(guard->Apply("accounts/1", 9, {"ROLLBACK"}).status(),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(guard->Apply("accounts/1", 9, {"  ; "}).status(), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(guard->Apply("accounts/1", 9, {"COPY accounts FROM STDIN"}).status(),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(guard->Apply("accounts/1", 0, SetBalance(1)).status(),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(guard->Apply("", 9, SetBalance(1)).status(), StatusIs(Code::kInvalidArgument));
  EXPECT_EQ(*guard->Highest("accounts/1"), 5u);
  EXPECT_EQ(Balance(), "100");

  // The guard goes on working after all that.
  auto good = guard->Apply("accounts/1", 9, SetBalance(110));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(Balance(), "110");
  EXPECT_EQ(*guard->Highest("accounts/1"), 9u);
}

TEST_F(PostgresFenceTest, AWrongPasswordIsFailedPreconditionAndNotPrinted) {
  auto guard = MakePostgresGuard({.conninfo = ConnInfo("not-the-password")});
  ASSERT_FALSE(guard.ok());
  EXPECT_THAT(guard.status(), StatusIs(Code::kFailedPrecondition));
  const std::string& message = guard.status().message();
  EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
  EXPECT_EQ(message.find("not-the-password"), std::string::npos) << message;
  EXPECT_EQ(message.find("\\x0a"), std::string::npos) << message;

  // The URI form, with the right password, connects.
  auto by_uri = MakePostgresGuard({.conninfo = server_->Uri()});
  EXPECT_TRUE(by_uri.ok()) << by_uri.status().ToString();
}

TEST_F(PostgresFenceTest, AClosedPortIsUnavailableAndABadConninfoInvalid) {
  const std::uint16_t closed = test::ClosedPort();
  auto start = std::chrono::steady_clock::now();
  auto guard = MakePostgresGuard(
      {.conninfo = "host=127.0.0.1 port=" + std::to_string(closed) + " user=x password=secret1"});
  ASSERT_FALSE(guard.ok());
  EXPECT_THAT(guard.status(), StatusIs(Code::kUnavailable));
  EXPECT_NE(guard.status().message().find("Connection refused"), std::string::npos)
      << guard.status().message();
  EXPECT_EQ(guard.status().message().find("secret1"), std::string::npos);
  EXPECT_EQ(guard.status().message().find("\\x0a"), std::string::npos) << guard.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));

  auto bad = MakePostgresGuard({.conninfo = "host=127.0.0.1 no_such_option=1"});
  EXPECT_THAT(bad.status(), StatusIs(Code::kInvalidArgument));
  EXPECT_NE(bad.status().message().find("no_such_option"), std::string::npos);
  auto unterminated = MakePostgresGuard({.conninfo = "password='hunter22"});
  EXPECT_THAT(unterminated.status(), StatusIs(Code::kInvalidArgument));
  EXPECT_EQ(unterminated.status().message().find("hunter22"), std::string::npos);
  EXPECT_THAT(MakePostgresGuard({.conninfo = ConnInfo(), .timeout = milliseconds(0)}).status(),
              StatusIs(Code::kInvalidArgument));
}

TEST_F(PostgresFenceTest, AServerThatDoesNotAnswerIsUnavailableWithinTheTimeout) {
  server_->Pause();  // accepts the TCP connection, never answers it
  auto start = std::chrono::steady_clock::now();
  auto guard = MakePostgresGuard({.conninfo = ConnInfo(), .timeout = milliseconds(300)});
  auto took = std::chrono::steady_clock::now() - start;
  server_->Resume();
  EXPECT_THAT(guard.status(), StatusIs(Code::kUnavailable));
  EXPECT_NE(guard.status().message().find("within 300 ms"), std::string::npos)
      << guard.status().message();
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, seconds(3));
}

TEST_F(PostgresFenceTest, AGuardConnectsAgainAfterTheServerRestarts) {
  auto guard = MakeGuard();
  ASSERT_NE(guard, nullptr);
  ASSERT_TRUE(guard->Apply("accounts/1", 5, SetBalance(100)).ok());

  // Down: unavailable, and nothing written.
  server_->Stop();
  EXPECT_THAT(guard->Apply("accounts/1", 6, SetBalance(200)).status(),
              StatusIs(Code::kUnavailable));
  EXPECT_THAT(guard->Highest("accounts/1").status(), StatusIs(Code::kUnavailable));
  ASSERT_TRUE(server_->Restart());
  db_sql_ = std::make_unique<Sql>(ConnInfo());
  EXPECT_EQ(Balance(), "100");
  auto up = guard->Apply("accounts/1", 6, SetBalance(200));
  ASSERT_TRUE(up.ok()) << up.status().ToString();

  // Restarted between two calls: the guard's connection is gone, which it sees only at
  // the next call, and then it connects again without failing that call.
  ASSERT_TRUE(server_->Restart());
  db_sql_ = std::make_unique<Sql>(ConnInfo());
  auto again = guard->Apply("accounts/1", 7, SetBalance(300));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Balance(), "300");
  ASSERT_TRUE(server_->Restart());
  db_sql_ = std::make_unique<Sql>(ConnInfo());
  EXPECT_EQ(*guard->Highest("accounts/1"), 7u);
}

TEST_F(PostgresFenceTest, TheSchemaIsCreatedOnceByManyGuardsOrRequired) {
  // Without create_schema, a database without it is refused.
  auto bare = MakePostgresGuard({.conninfo = ConnInfo(), .create_schema = false});
  EXPECT_THAT(bare.status(), StatusIs(Code::kFailedPrecondition));
  EXPECT_NE(bare.status().message().find("fence.sql"), std::string::npos);

  // Many guards starting at once on it: each makes sure, and all succeed.
  constexpr int kGuards = 6;
  std::vector<Status> made(kGuards, InternalError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kGuards; ++i) {
    threads.emplace_back([&, i] {
      auto guard = MakePostgresGuard({.conninfo = ConnInfo()});
      made[i] = guard.ok() ? OkStatus() : guard.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& m : made) EXPECT_TRUE(m.ok()) << m.ToString();

  // fence.sql loads again over it (idempotent), and the schema is then just required.
  auto again = MakePostgresGuard({.conninfo = ConnInfo(), .create_schema = false});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE((*again)->Apply("r", 1, {"SELECT 1"}).ok());
}

TEST_F(PostgresFenceTest, APausedHolderComingBackLateIsRefused) {
  test::TempDir dir;
  auto backend = MakeFileBackend({.dir = dir.path()});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  Locker first_locker(*backend);
  Locker second_locker(*backend);
  auto guard = MakeGuard();
  ASSERT_NE(guard, nullptr);

  // The first holder writes under its lease, then stalls past its TTL (no renewal).
  auto first = first_locker.Acquire("accounts/1", {.ttl = milliseconds(200), .auto_renew = false});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(guard->Apply("accounts/1", first->token(), SetBalance(10)).ok());

  // Meanwhile the lease expires and a second holder gets the lock (waiting for that,
  // rather than sleeping), with a greater token, and writes.
  auto second = second_locker.Acquire("accounts/1", {.wait = seconds(10)});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(first->held());
  ASSERT_GT(second->token(), first->token());
  auto written = guard->Apply("accounts/1", second->token(), SetBalance(20));
  ASSERT_TRUE(written.ok()) << written.status().ToString();

  // The first holder wakes up and writes, believing it still holds the lock: refused.
  auto late = guard->Apply("accounts/1", first->token(), SetBalance(666));
  EXPECT_THAT(late.status(), StatusIs(Code::kStale));
  EXPECT_EQ(Balance(), "20");
  EXPECT_EQ(*guard->Highest("accounts/1"), second->token());
}

}  // namespace
}  // namespace dlock
