// fence/postgres.h: a fenced PostgreSQL database. The highest token of each resource is a
// row of the table dlock_fence, raised by the function dlock_fence (share/dlock/fence.sql,
// which also shows how to fence from plain SQL) in the transaction of the write.
//
// A write is {SQL, PARAM1, PARAM2, ...}: one SQL statement and its parameters ($1, $2...,
// as text; PostgreSQL infers their types). The guard runs, in one transaction,
//   SELECT dlock_fence(resource, token); SQL with its parameters; COMMIT
// so the write is applied, and the token recorded, together or not at all; the resource's
// row stays locked until the COMMIT, so fenced writers of one resource serialize. Apply
// returns the statement's command status, e.g. "UPDATE 1" or "INSERT 0 1" ("UPDATE 0" is
// applied: the statement ran and changed no row), or
//   kStale              a newer token was seen: the transaction was rolled back,
//   kFailedPrecondition the statement (or the COMMIT) failed, with the server's message
//                       and SQLSTATE (several statements in one are refused there too):
//                       rolled back, the highest token unchanged,
//   kInvalidArgument    as Guard::Apply, and for an empty statement, or one that ends the
//                       guard's transaction (COMMIT, ROLLBACK: not applied, though a COMMIT
//                       there has recorded the token) or starts a COPY,
//   kUnavailable        the server could not be reached or did not answer within the
//                       timeout, or the transaction hit a serialization failure or a
//                       deadlock (SQLSTATE 40001, 40P01) and was rolled back: the same
//                       token may try again. The connection is dropped and made again at
//                       the next call. If the COMMIT itself went unanswered, the write
//                       may have been applied.
//
// Thread-safety: safe for concurrent use. The guard has one connection, behind a mutex:
// its writes run one at a time. For parallel writes, make several guards (writes of one
// resource serialize in the server anyway, on the resource's row).
#ifndef DLOCK_FENCE_POSTGRES_H_
#define DLOCK_FENCE_POSTGRES_H_

#include <chrono>
#include <memory>
#include <string>

#include "dlock/export.h"
#include "dlock/fence.h"
#include "dlock/status.h"

namespace dlock::fence {

struct DLOCK_API PostgresGuardOptions {
  // A libpq connection string ("host=db1 dbname=app user=writer") or a postgres:// URI;
  // libpq's environment variables (PGHOST, PGPASSWORD...) and ~/.pgpass fill in the rest.
  std::string conninfo;
  // Bounds connecting and each round trip to the server (and, as statement_timeout, each
  // statement in the server, waiting for the resource's row included).
  std::chrono::milliseconds timeout{5000};
  // Create the table and the function of share/dlock/fence.sql (built into the library)
  // when they are missing. false: they must exist, made by whoever owns the schema.
  bool create_schema = true;
};

// Connects, and creates the schema if asked: kInvalidArgument for a conninfo libpq cannot
// parse or a timeout <= 0, kFailedPrecondition if the server refuses us (a wrong password,
// an unknown user or database, TLS required, no right to create the schema, or the schema
// missing when create_schema is false), kUnavailable if it cannot be reached in time. The
// messages never contain the password.
DLOCK_API Result<std::unique_ptr<Guard>> MakePostgresGuard(const PostgresGuardOptions& options);

}  // namespace dlock::fence

#endif  // DLOCK_FENCE_POSTGRES_H_
