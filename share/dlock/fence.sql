-- fence.sql: fencing at the resource, in PostgreSQL (dlock/fence.h says the rule).
--
-- Per resource, dlock_fence keeps H, the highest fencing token seen. A write carrying
-- token T is applied if T >= H, and H becomes T, in the same transaction as the write;
-- otherwise the transaction fails and nothing is written. Tokens are unsigned 64-bit
-- integers: numeric(20,0) holds them all (bigint stops at 2^63 - 1).
--
-- Load it with psql -f, as many times as you like: it creates only what is missing and
-- replaces the function with this version. The objects go to the first schema of the
-- search_path; writers must have that schema on theirs. The guard of
-- dlock/fence/postgres.h loads this file itself unless told not to (create_schema).
--
-- With the function, a fenced write is:
--
--   BEGIN;
--   SELECT dlock_fence('orders/42', 17);      -- raises SQLSTATE DL001 if 17 is stale
--   UPDATE orders SET state = 'paid' WHERE id = 42;
--   COMMIT;
--
-- dlock_fence locks the resource's row until the transaction ends, so two writers of
-- one resource serialize on it: the second one waits, then sees the first one's token.
-- (At REPEATABLE READ or SERIALIZABLE the second one fails with SQLSTATE 40001
-- instead: retry it.)
--
-- Without the function, the same with a conditional UPDATE, which also locks the row:
--
--   BEGIN;
--   INSERT INTO dlock_fence (resource, token) VALUES ($1, 0) ON CONFLICT DO NOTHING;
--   UPDATE dlock_fence SET token = $2 WHERE resource = $1 AND token <= $2;
--   -- "UPDATE 1": the token is current, and stays so until COMMIT: write now.
--   -- "UPDATE 0": the token is stale: ROLLBACK and write nothing.
--   ... the write ...
--   COMMIT;
--
-- or, on a table of your own that keeps the token with the data it fences:
--
--   UPDATE orders SET state = 'paid', fence_token = $2
--    WHERE id = 42 AND fence_token <= $2;   -- "UPDATE 0": stale (or no such row)
--
-- A writer that does not fence is not refused: fence every writer of a resource.

CREATE TABLE IF NOT EXISTS dlock_fence (
  resource text PRIMARY KEY,
  token numeric(20, 0) NOT NULL CHECK (token BETWEEN 0 AND 18446744073709551615)
);

-- Raises H of `resource` to `token` and keeps its row locked until the end of the
-- caller's transaction; raises SQLSTATE DL001, naming both tokens, if `token` < H.
CREATE OR REPLACE FUNCTION dlock_fence(resource text, token numeric) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  -- The parameters by other names: "resource" and "token" are also the columns.
  p_resource ALIAS FOR $1;
  p_token ALIAS FOR $2;
  highest numeric;
BEGIN
  IF p_resource IS NULL OR p_resource = '' THEN
    RAISE EXCEPTION 'dlock_fence: the resource name is empty'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_token IS NULL OR p_token < 1 OR p_token > 18446744073709551615
     OR p_token <> trunc(p_token) THEN
    RAISE EXCEPTION 'dlock_fence: fencing token % is not an integer from 1 to 2^64 - 1',
      coalesce(p_token::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Inserts the row, or updates it if the token is not stale. Either way the row is
  -- locked (ON CONFLICT DO UPDATE locks it even when the WHERE is false), and a
  -- concurrent writer's row waits for our transaction and is then seen as it left it.
  INSERT INTO dlock_fence AS f (resource, token) VALUES (p_resource, p_token)
    ON CONFLICT ON CONSTRAINT dlock_fence_pkey DO UPDATE SET token = excluded.token
    WHERE f.token <= excluded.token;
  IF NOT FOUND THEN
    SELECT f.token INTO highest FROM dlock_fence AS f WHERE f.resource = p_resource;
    RAISE EXCEPTION 'fencing token % is stale: resource ''%'' has seen token %; nothing was written',
      p_token, p_resource, highest
      USING ERRCODE = 'DL001';
  END IF;
END
$$;
