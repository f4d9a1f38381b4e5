// connection.h: one libpq connection whose every round trip has a deadline (libpq's
// non-blocking calls and poll(2)), and the mapping of libpq's and the server's errors to
// Status codes, on one line and without the password.
//
// Thread-safety: none; one thread at a time (the guard holds its mutex).
#ifndef DLOCK_SRC_POSTGRES_CONNECTION_H_
#define DLOCK_SRC_POSTGRES_CONNECTION_H_

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/status.h"

namespace dlock::postgres {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// The server's SQLSTATE of a failed result ("" if none).
std::string_view SqlState(const PGresult* result);

class Connection {
 public:
  // kInvalidArgument if libpq cannot parse `conninfo` (a connection string or a URI).
  static Result<std::unique_ptr<Connection>> Make(const std::string& conninfo,
                                                  std::chrono::milliseconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects if not connected (again after Drop): kFailedPrecondition if the server
  // refuses us, kUnavailable if it cannot be reached within the timeout.
  Status Ensure();

  // Closes the connection; the server rolls back a transaction left open.
  void Drop();

  // Sends `sql` and waits, up to the timeout, for all its results. With `params` (each
  // sent as text, types inferred by the server) `sql` is one statement; without, it may
  // be several, separated by semicolons. Returns the first failed result, else the last
  // one; kUnavailable (the connection then dropped) if the server did not answer in time
  // or the connection broke; kInvalidArgument (dropped too) if the statement began a COPY.
  Result<PgResult> Exec(const std::string& sql,
                        const std::optional<std::vector<std::string>>& params = std::nullopt);

  // The status for a failed `result` of what we were doing (`doing`: "the statement
  // failed"): kUnavailable for a broken connection, a timeout, a serialization failure
  // or a deadlock (the transaction was rolled back: try again); else kFailedPrecondition.
  // Drops the connection if it broke.
  Status ServerError(const PGresult* result, std::string_view doing);

  // `message` on one line, with the password (if the conninfo has one) replaced.
  std::string Clean(std::string_view message) const;

  // Whether a transaction is open on the connection.
  bool InTransaction() const;

  // Whether the connection is up, as far as libpq knows (a server that closed it is
  // seen at the next call).
  bool connected() const;

  // Whether the last Exec failed for want of an answer within the timeout.
  bool timed_out() const { return timed_out_; }

  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  Connection(std::string conninfo, std::string password, std::chrono::milliseconds timeout);
  // Waits until the socket is ready for `events` or `deadline`; false on a timeout.
  bool WaitSocket(short events, std::chrono::steady_clock::time_point deadline) const;
  Status Broken(std::string_view what);  // Drop()s; kUnavailable naming libpq's error

  const std::string conninfo_;
  const std::string password_;
  const std::chrono::milliseconds timeout_;
  PGconn* conn_ = nullptr;
  bool timed_out_ = false;
};

}  // namespace dlock::postgres

#endif  // DLOCK_SRC_POSTGRES_CONNECTION_H_
