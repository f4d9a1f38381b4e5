#include "postgres/connection.h"

#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace dlock::postgres {
namespace {

using Clock = std::chrono::steady_clock;

// libpq's messages end in a newline and may run over several lines ("...failed:
// Connection refused\n\tIs the server running...?"): one line, "; " for line breaks,
// one space for a run of blanks ("FATAL:  password...").
std::string OneLine(std::string_view text) {
  std::string out;
  bool line_break = false, blank = false;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      line_break = true;
    } else if (c == ' ' || c == '\t') {
      blank = true;
    } else {
      if (!out.empty() && (line_break || blank)) out += line_break ? "; " : " ";
      line_break = blank = false;
      out += c;
    }
  }
  return out;
}

// A parse error of the conninfo quotes a piece of it. Keep the piece where it is an
// option's name; elsewhere it could be a piece of the password.
std::string RedactParseError(std::string_view message) {
  const std::string line = OneLine(message);
  if (line.starts_with("invalid connection option") ||
      line.starts_with("invalid URI query parameter")) {
    return line;
  }
  std::string out;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      out += quoted ? "...\"" : "\"";
      quoted = !quoted;
    } else if (!quoted) {
      out += c;
    }
  }
  return out;
}

bool Contains(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

// Whether a failed connection attempt was the server (or TLS) refusing us rather than
// the server out of reach. libpq gives no SQLSTATE here, so this reads its message.
bool RefusedUs(PGconn* conn, std::string_view message) {
  for (std::string_view passing : {"starting up", "shutting down", "in recovery",
                                   "too many clients", "too many connections"}) {
    if (Contains(message, passing)) return false;
  }
  if (PQconnectionNeedsPassword(conn) || PQconnectionUsedPassword(conn)) return true;
  for (std::string_view refused :
       {"FATAL:", "fe_sendauth", "SSL was required", "does not support SSL", "certificate",
        "GSSAPI", "authentication"}) {
    if (Contains(message, refused)) return true;
  }
  return false;
}

void IgnoreNotice(void*, const char*) {}

int MillisUntil(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits until `fd` is ready for `events` (or has an error) or `deadline` passes.
// Returns the ready events, 0 on a timeout.
short Wait(int fd, short events, Clock::time_point deadline) {
  if (fd < 0) return POLLERR;
  while (true) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, MillisUntil(deadline));
    if (n > 0) return p.revents != 0 ? p.revents : events;
    if (n == 0) return 0;
    if (errno != EINTR) return POLLERR;
  }
}

}  // namespace

std::string_view SqlState(const PGresult* result) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  return state ? state : "";
}

Result<std::unique_ptr<Connection>> Connection::Make(const std::string& conninfo,
                                                     std::chrono::milliseconds timeout) {
  if (timeout <= std::chrono::milliseconds(0)) {
    return InvalidArgumentError(
        fmt::format("the PostgreSQL timeout must be positive, not {} ms", timeout.count()));
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    std::string why = error ? RedactParseError(error) : "out of memory";
    PQfreemem(error);
    return InvalidArgumentError(
        fmt::format("not a libpq connection string or postgres:// URI: {}", why));
  }
  std::string password;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr) password = o->val;
  }
  PQconninfoFree(options);
  return std::unique_ptr<Connection>(new Connection(conninfo, std::move(password), timeout));
}

Connection::Connection(std::string conninfo, std::string password,
                       std::chrono::milliseconds timeout)
    : conninfo_(std::move(conninfo)), password_(std::move(password)), timeout_(timeout) {}

Connection::~Connection() { Drop(); }

void Connection::Drop() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

std::string Connection::Clean(std::string_view message) const {
  std::string line = OneLine(message);
  // The server's and libpq's messages do not quote the password; this is in case.
  if (password_.size() >= 4) {
    for (auto at = line.find(password_); at != std::string::npos; at = line.find(password_, at)) {
      line.replace(at, password_.size(), "***");
    }
  }
  return line;
}

bool Connection::connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool Connection::InTransaction() const {
  if (conn_ == nullptr) return false;
  PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

bool Connection::WaitSocket(short events, Clock::time_point deadline) const {
  return Wait(PQsocket(conn_), events, deadline) != 0;
}

Status Connection::Broken(std::string_view what) {
  std::string why = conn_ ? Clean(PQerrorMessage(conn_)) : "not connected";
  Drop();
  return UnavailableError(fmt::format("PostgreSQL: {}: {}", what, why));
}

Status Connection::Ensure() {
  if (connected()) return OkStatus();
  Drop();
  const auto deadline = Clock::now() + timeout_;
  // expand_dbname: the conninfo, in "dbname", is read as a whole connection string.
  const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {conninfo_.c_str(), "dlock", nullptr};
  PGconn* conn = PQconnectStartParams(keywords, values, 1);
  if (conn == nullptr) return InternalError("libpq could not allocate a connection");
  PostgresPollingStatusType polled =
      PQstatus(conn) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
  while (polled != PGRES_POLLING_OK && polled != PGRES_POLLING_FAILED) {
    const short events = polled == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (Wait(PQsocket(conn), events, deadline) == 0) {
      PQfinish(conn);
      return UnavailableError(
          fmt::format("PostgreSQL: no connection within {} ms", timeout_.count()));
    }
    polled = PQconnectPoll(conn);
  }
  if (polled == PGRES_POLLING_FAILED) {
    const std::string message = Clean(PQerrorMessage(conn));
    const bool refused = RefusedUs(conn, message);
    PQfinish(conn);
    std::string text = fmt::format("PostgreSQL: {}", message);
    return refused ? FailedPreconditionError(std::move(text)) : UnavailableError(std::move(text));
  }
  // Notices (say, "relation already exists, skipping") would go to stderr.
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  if (PQsetnonblocking(conn, 1) != 0) {
    std::string why = Clean(PQerrorMessage(conn));
    PQfinish(conn);
    return InternalError(fmt::format("libpq: cannot make the connection non-blocking: {}", why));
  }
  conn_ = conn;
  // The server gives up on a statement (waiting for a row lock included) at our timeout.
  auto set = Exec(fmt::format("SET statement_timeout = {}", timeout_.count()));
  if (!set.ok()) return set.status();
  if (PQresultStatus(set->get()) != PGRES_COMMAND_OK) {
    Status error = ServerError(set->get(), "cannot set statement_timeout");
    Drop();
    return error;
  }
  return OkStatus();
}

Result<PgResult> Connection::Exec(const std::string& sql,
                                  const std::optional<std::vector<std::string>>& params) {
  timed_out_ = false;
  if (conn_ == nullptr) return UnavailableError("PostgreSQL: not connected");
  const auto deadline = Clock::now() + timeout_;
  int sent;
  if (params) {
    std::vector<const char*> values;
    values.reserve(params->size());
    for (const auto& p : *params) values.push_back(p.c_str());
    sent = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  } else {
    sent = PQsendQuery(conn_, sql.c_str());
  }
  if (!sent) return Broken("cannot send a statement");
  // Non-blocking: the query may not have left in one go (a large statement, a slow peer).
  int flushed;
  while ((flushed = PQflush(conn_)) == 1) {
    short ready = Wait(PQsocket(conn_), POLLIN | POLLOUT, deadline);
    if (ready == 0) {
      timed_out_ = true;
      return Broken(fmt::format("no answer within {} ms (sending)", timeout_.count()));
    }
    if ((ready & POLLIN) && !PQconsumeInput(conn_)) return Broken("cannot read");
  }
  if (flushed < 0) return Broken("cannot send a statement");

  PgResult last, failed;
  while (true) {
    while (PQisBusy(conn_)) {
      if (!WaitSocket(POLLIN, deadline)) {
        timed_out_ = true;
        Drop();
        return UnavailableError(fmt::format(
            "PostgreSQL: no answer within {} ms; the connection is dropped", timeout_.count()));
      }
      if (!PQconsumeInput(conn_)) return Broken("cannot read the answer");
    }
    PgResult result(PQgetResult(conn_));
    if (!result) break;
    switch (PQresultStatus(result.get())) {
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH: Drop(); return InvalidArgumentError("a fenced write cannot be a COPY");
      case PGRES_BAD_RESPONSE:
      case PGRES_NONFATAL_ERROR:
      case PGRES_FATAL_ERROR:
        if (!failed) failed = std::move(result);
        break;
      default: last = std::move(result);
    }
  }
  if (failed) return failed;
  if (last) return last;
  return Broken("no result");
}

Status Connection::ServerError(const PGresult* result, std::string_view doing) {
  std::string_view state = SqlState(result);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string message = Clean(primary ? primary : PQresultErrorMessage(result));
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    Drop();
    return UnavailableError(
        fmt::format("PostgreSQL: {}: the connection broke: {}", doing, message));
  }
  std::string text = state.empty()
                         ? fmt::format("PostgreSQL: {}: {}", doing, message)
                         : fmt::format("PostgreSQL: {}: {} (SQLSTATE {})", doing, message, state);
  // Rolled back by the server, nothing written; the same call may succeed: serialization
  // failure, deadlock, statement_timeout or cancel, lock_timeout, connection exceptions,
  // the server shutting down.
  if (state == "40001" || state == "40P01" || state == "57014" || state == "55P03" ||
      state.starts_with("08") || state.starts_with("57P")) {
    return UnavailableError(text + "; the same token may try again");
  }
  return FailedPreconditionError(std::move(text));
}

}  // namespace dlock::postgres
