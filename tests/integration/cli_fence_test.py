#!/usr/bin/env python3
"""`dlock fence`: a write that the resource itself refuses when its fencing token is
stale: a file (`dlock fence file PATH -- CMD`), and a resource in etcd, ZooKeeper or
PostgreSQL (`dlock fence URI RESOURCE -- WRITE`, on a real server per class). The guards'
own cases are in tests/integration/*_fence_test.cc.
"""
import os
import signal
import tempfile
import unittest

from cli_util import DLOCK, DlockTestCase, ServerPerClass
from servers import EtcdServer, PostgresServer, RedisServer, ZkServer, closed_port


class FenceFileTest(DlockTestCase):
    def read(self, name):
        with open(self.path(name)) as f:
            return f.read()

    def fence(self, path, *write, token=None, env=None):
        args = ["fence", "file", path]
        if token is not None:
            args += ["--token", str(token)]
        return self.dlock(*args, "--", *write, env=env)

    def test_a_write_is_applied_and_a_stale_one_refused_with_its_own_exit_code(self):
        stock = self.path("stock")
        self.assertEqual(self.fence(stock, "echo", "20", token=5)[0], 0)
        self.assertEqual(self.read("stock"), "20\n")
        self.assertEqual(self.read("stock.fence"), "5\n")
        code, out, err = self.fence(stock, "echo", "99", token=4)
        self.assertEqual(code, 77, err)
        self.assertOneLineError(err)
        self.assertIn("stale", err)
        self.assertEqual(self.read("stock"), "20\n")
        # The same token again is applied: one holder may write many times.
        code, _, err = self.fence(stock, "sh", "-c", f'echo $(( $(cat {stock}) - 1 ))',
                                  token=5)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.read("stock"), "19\n")

    def test_the_token_defaults_to_the_one_dlock_run_gives_its_command(self):
        stock = self.path("stock")
        code, _, err = self.dlock("run", "stock-lock", "--", DLOCK, "fence", "file", stock,
                                  "--", "echo", "under the lock")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.read("stock"), "under the lock\n")
        self.assertEqual(int(self.read("stock.fence")), self.inspect("stock-lock")["fencing_token"])

    def test_bad_input_is_one_line_and_writes_nothing(self):
        stock = self.path("stock")
        env = {k: v for k, v in self.env.items() if k != "DLOCK_FENCING_TOKEN"}
        for args, code in [
            (["fence", "file", stock, "--token", "x", "--", "echo", "1"], 64),
            (["fence", "file", stock, "--token", "0", "--", "echo", "1"], 64),
            (["fence", "file", stock, "--token", "-3", "--", "echo", "1"], 64),
            (["fence", "file", stock, "--", "echo", "1"], 64),  # no token at all
            (["fence", "file", stock, "--token", "3"], 64),  # no '--' and write
            (["fence", "file", stock, "--token", "3", "--"], 64),  # an empty write
            (["fence", "nosuch://x", "r", "--token", "3", "--", "SET", "a", "b"], 64),
            (["fence", "file", self.path("no/such/dir/f"), "--token", "3", "--", "echo"], 69),
        ]:
            with self.subTest(args=args):
                got, _, err = self.dlock(*args, env=env)
                self.assertEqual(got, code, err)
                self.assertOneLineError(err)
        self.assertFalse(os.path.exists(stock))

    def test_a_failing_command_leaves_the_file_as_it_was(self):
        stock = self.path("stock")
        self.assertEqual(self.fence(stock, "echo", "kept", token=3)[0], 0)
        code, _, err = self.fence(stock, "sh", "-c", "echo partial; exit 3", token=4)
        self.assertEqual(code, 3, err)
        self.assertOneLineError(err)
        self.assertEqual(self.fence(stock, "no-such-command-xyz", token=4)[0], 127)
        self.assertEqual(self.read("stock"), "kept\n")
        self.assertEqual(self.read("stock.fence"), "3\n")
        self.assertEqual(sorted(os.listdir(self.tmp.name)), ["stock", "stock.fence"])

    def test_a_holder_paused_past_its_ttl_has_its_late_write_refused(self):
        # The first holder's dlock is stopped (SIGSTOP) past its TTL, so it renews
        # nothing; its command goes on and writes only after the next holder wrote.
        stock, fifo = self.path("stock"), self.path("go")
        os.mkfifo(fifo)
        self.env.update(DLOCK=DLOCK, STOCK=stock, FIFO=fifo, T=self.tmp.name)
        first = self.start(
            "run", "stock-lock", "--ttl", "1s", "--", "sh", "-c",
            'echo "$DLOCK_FENCING_TOKEN" > "$T/first.token"; read go < "$FIFO"; '
            '"$DLOCK" fence file "$STOCK" -- echo first; echo $? > "$T/first.rc"')
        self.assertTrue(self.wait_until(lambda: os.path.exists(self.path("first.token"))))
        os.kill(first.pid, signal.SIGSTOP)
        try:
            self.assertTrue(self.wait_until(lambda: not self.inspect("stock-lock")["held"]))
            code, _, err = self.dlock("run", "stock-lock", "--wait", "10s", "--", DLOCK,
                                      "fence", "file", stock, "--", "echo", "second")
            self.assertEqual(code, 0, err)
            with open(fifo, "w") as f:
                f.write("go\n")
            self.assertTrue(self.wait_until(lambda: os.path.exists(self.path("first.rc")) and
                                            os.path.getsize(self.path("first.rc")) > 0))
        finally:
            os.kill(first.pid, signal.SIGCONT)
        self.assertEqual(self.read("first.rc"), "77\n")
        self.assertEqual(self.read("stock"), "second\n")
        self.assertGreater(int(self.read("stock.fence")), int(self.read("first.token")))
        first.wait(timeout=30)


class FenceStoreCases(ServerPerClass):
    """For a class per resource store (mixed in before DlockTestCase): one server of class
    SERVER for the class; `uri()` names it, `write(value)` is the WRITE that sets the
    resource, `read()` reads it back with the store's own client, `bad_write` is a WRITE
    the guard cannot run, and `unreachable_uri()` names a closed port."""

    def setUp(self):
        super().setUp()
        self.resource = f"stock-{self.serial}"
        self.prepare()

    def prepare(self):
        pass

    def fence(self, token, write, uri=None):
        return self.dlock("fence", uri or self.uri(), self.resource, "--token", str(token),
                          "--", *write)

    def test_a_write_is_applied_and_a_stale_one_refused_with_exit_77(self):
        code, _, err = self.fence(5, self.write("20"))
        self.assertEqual(code, 0, err)
        self.assertEqual(self.read(), "20")
        code, _, err = self.fence(5, self.write("19"))  # >=: the same holder again
        self.assertEqual(code, 0, err)
        code, _, err = self.fence(4, self.write("99"))
        self.assertEqual(code, 77, err)
        self.assertOneLineError(err)
        self.assertIn("stale", err)
        self.assertEqual(self.read(), "19")

    def test_a_write_the_store_cannot_run_and_an_unreachable_store_are_one_line(self):
        code, _, err = self.fence(3, self.bad_write)
        self.assertIn(code, (64, 69), err)
        self.assertOneLineError(err)
        code, _, err = self.fence(3, self.write("1"), uri=self.unreachable_uri())
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)

    def test_a_stale_holder_under_dlock_run_is_refused_after_the_next_one_wrote(self):
        # The lock on file:// (the test's own), the resource in the store.
        code, _, err = self.dlock("run", "stock-lock", "--", DLOCK, "fence", self.uri(),
                                  self.resource, "--", *self.write("second"))
        self.assertEqual(code, 0, err)
        stale = self.inspect("stock-lock")["fencing_token"] - 1
        code, _, err = self.fence(stale, self.write("first, late"))
        self.assertEqual(code, 77, err)
        self.assertEqual(self.read(), "second")


class FenceRedisTest(FenceStoreCases, DlockTestCase):
    SERVER = RedisServer
    bad_write = ["NOSUCHCOMMAND", "k"]

    def uri(self):
        return self.server.uri()

    def unreachable_uri(self):
        return f"redis://127.0.0.1:{closed_port()}?connect_timeout=500ms"

    def write(self, value):
        return ["SET", f"data:{self.resource}", value]

    def read(self):
        return self.server.cli("GET", f"data:{self.resource}").strip()


class FenceEtcdTest(FenceStoreCases, DlockTestCase):
    SERVER = EtcdServer
    bad_write = ["append", "k", "v"]

    def uri(self):
        return f"etcd://127.0.0.1:{self.server.port}?prefix=cli-fence/"

    def unreachable_uri(self):
        return f"etcd://127.0.0.1:{closed_port()}?connect_timeout=500ms"

    def write(self, value):
        return ["put", f"data/{self.resource}", value]

    def read(self):
        got = self.server.ctl("get", f"data/{self.resource}", "--print-value-only")
        self.assertEqual(got.returncode, 0, got.stderr)
        return got.stdout.strip()


class FenceZkTest(FenceStoreCases, DlockTestCase):
    SERVER = ZkServer
    bad_write = ["append", "/k", "v"]

    def uri(self):
        return f"zk://{self.server.hosts()}/cli-fence"

    def unreachable_uri(self):
        return f"zk://127.0.0.1:{closed_port()}?connect_timeout=500ms"

    def write(self, value):
        return ["create", f"/cli-fence-data-{self.resource}", value]

    def read(self):
        from kazoo.client import KazooClient
        client = KazooClient(hosts=self.server.hosts())
        client.start(timeout=10)
        try:
            return client.get(f"/cli-fence-data-{self.resource}")[0].decode()
        finally:
            client.stop()
            client.close()


class FencePostgresTest(FenceStoreCases, DlockTestCase):
    SERVER = PostgresServer
    bad_write = ["UPDATE no_such_table SET n = 1"]

    def prepare(self):
        self.server.psql(f'CREATE TABLE "{self.resource}" (n text); '
                         f'INSERT INTO "{self.resource}" VALUES (\'\')')

    def uri(self):
        return self.server.uri()

    def unreachable_uri(self):
        return f"postgres://dlock:pw@127.0.0.1:{closed_port()}/postgres?connect_timeout=1"

    def write(self, value):
        return [f'UPDATE "{self.resource}" SET n = $1', value]

    def read(self):
        return self.server.psql(f'SELECT n FROM "{self.resource}"').strip()


if __name__ == "__main__":
    unittest.main()
