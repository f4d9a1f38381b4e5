"""The shared part of the multi-process tests of the `dlock` CLI (README.md, dlock(1)):
DLOCK, the binary under test, and DlockTestCase, the base class of every cli_*_test.py
class.

Run by ctest with DLOCK_BIN set to the built binary. Every test works in its own
temporary lock directory and kills what it started.
"""
import json
import os
import subprocess
import tempfile
import time
import unittest

DLOCK = os.environ.get("DLOCK_BIN", "build/cli/dlock")


class DlockTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="dlock-cli-")
        self.dir = os.path.join(self.tmp.name, "locks")
        self.backend = "file://" + self.dir
        self.env = dict(os.environ, DLOCK_BACKEND=self.backend)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def dlock(self, *args, env=None, timeout=30):
        """Runs dlock to completion; returns (exit code, stdout, stderr)."""
        r = subprocess.run([DLOCK, *args], env=env or self.env, capture_output=True,
                           text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def start(self, *args, **kw):
        p = subprocess.Popen([DLOCK, *args], env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        return p

    def inspect(self, name):
        code, out, err = self.dlock("inspect", name, "--json")
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def wait_until(self, pred, limit=10.0):
        give_up = time.monotonic() + limit
        while time.monotonic() < give_up:
            if pred():
                return True
            time.sleep(0.01)
        return pred()

    def hold(self, name, ttl="30s", marker=None):
        """Starts `dlock run NAME -- sleep` and returns once it holds the lock."""
        marker = marker or self.path("holding-" + name.replace("/", "_"))
        p = self.start("run", name, "--ttl", ttl, "--", "sh", "-c",
                       f'echo "$DLOCK_FENCING_TOKEN" > {marker}; exec sleep 60')
        self.assertTrue(self.wait_until(lambda: os.path.exists(marker) and
                                        os.path.getsize(marker) > 0), "holder never started")
        with open(marker) as f:
            return p, int(f.read())

    def assertOneLineError(self, err):
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].startswith("dlock: "), err)


class ServerPerClass:
    """Mixed in before DlockTestCase (or a class derived from it): one server of class
    SERVER (from servers.py) for the whole class, `self.server`, started in a temporary
    directory and stopped by PID at the end; `self.serial` counts the tests, for names of
    their own."""
    SERVER = None

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.TemporaryDirectory(prefix="dlock-store-")
        cls.server = cls.SERVER(cls.workdir.name)
        cls.serial = 0

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.workdir.cleanup()

    def setUp(self):
        super().setUp()
        type(self).serial += 1
