#!/usr/bin/env python3
"""`dlock fence`: a write that the resource itself refuses when its fencing token is
stale. Here the resource is a file (`dlock fence file PATH -- CMD`); the guards of the
other stores have their own tests beside their servers'.
"""
import os
import signal
import unittest

from cli_util import DLOCK, DlockTestCase


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


if __name__ == "__main__":
    unittest.main()
