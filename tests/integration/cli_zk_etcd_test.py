#!/usr/bin/env python3
"""The zk:// and etcd:// backends through the CLI, each next to a third-party client of
its store (kazoo, `etcdctl lock`), on one server per class.
"""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import cli_run_test
from cli_util import DlockTestCase, ServerPerClass
from servers import EtcdServer, TlsFiles, TlsZkServer, ZkServer, closed_port


class StoreCases(ServerPerClass):
    """For the CLI test class of a networked store (mixed in before MutualExclusionTest):
    one server of class SERVER for the whole class (`self.server`; `self.serial` counts
    the tests, for names of their own), and the liveness and loss cases: a killed
    holder's lock frees within its TTL (lease or session), and a holder paused past it
    learns the loss when it resumes and signals its command."""

    def test_kill_9_holder_frees_the_lock_within_the_ttl(self):
        holder, token = self.hold("crash", ttl="2s")
        holder.kill()
        holder.wait()
        killed_at = time.monotonic()
        code, out, err = self.dlock("run", "crash", "--wait", "10s", "--", "sh", "-c",
                                    'echo "$DLOCK_FENCING_TOKEN"')
        self.assertEqual(code, 0, err)
        self.assertGreater(int(out), token)
        # The TTL plus the store's expiry tick (ZooKeeper: one tickTime; etcd: ~500 ms).
        self.assertLess(time.monotonic() - killed_at, 2.0 + 1.5)

    def test_paused_holder_learns_the_loss_on_resume_and_signals_its_child(self):
        trapped = self.path("trapped")
        started = self.path("started")
        p = self.start("run", "paused", "--ttl", "2s", "--grace", "5s", "--", "sh", "-c",
                       f'trap "touch {trapped}; exit 143" TERM; touch {started}; '
                       'sleep 60 & wait')
        self.assertTrue(self.wait_until(lambda: os.path.exists(started)))
        os.kill(p.pid, signal.SIGSTOP)
        try:
            # The lease or session ends while dlock is stopped: another run gets the lock.
            code, _, err = self.dlock("run", "paused", "--wait", "10s", "--", "true")
            self.assertEqual(code, 0, err)
        finally:
            os.kill(p.pid, signal.SIGCONT)
        _, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 76, err)
        self.assertTrue(os.path.exists(trapped), "the child never got SIGTERM")
        self.assertIn("lost the lock 'paused'", err)


class ZkCliTest(StoreCases, cli_run_test.MutualExclusionTest):
    """The zk:// backend through the CLI, next to kazoo (a third-party client)."""
    SERVER = ZkServer

    def setUp(self):
        super().setUp()
        self.root = f"/locks{self.serial}"
        self.backend = f"zk://{self.server.hosts()}{self.root}"
        self.env["DLOCK_BACKEND"] = self.backend
        from kazoo.client import KazooClient  # python3-kazoo; missing is a failure
        self.kazoo = KazooClient(hosts=self.server.hosts())
        self.kazoo.start(timeout=10)

    def tearDown(self):
        self.kazoo.stop()
        self.kazoo.close()
        super().tearDown()

    def kazoo_lock(self, name):
        # Curator-style children ("-lock-", which dlock makes too) count as contenders.
        return self.kazoo.Lock(f"{self.root}/{name}", "kazoo", extra_lock_patterns=("-lock-",))

    def test_four_runs_never_overlap_and_tokens_increase_across_restarts(self):
        super().test_four_runs_never_overlap_and_tokens_increase_across_restarts()
        self.assertEqual(self.kazoo.get_children(f"{self.root}/shared"), [])

    def test_kazoo_and_dlock_exclude_each_other_and_tokens_keep_increasing(self):
        lock = self.kazoo_lock("jobs")
        self.assertTrue(lock.acquire(timeout=10))
        kazoo_token = self.kazoo.exists(f"{self.root}/jobs/{lock.node}").czxid
        start = time.monotonic()
        code, _, err = self.dlock("run", "jobs", "--wait", "0", "--", "true")
        self.assertEqual(code, 75, err)
        self.assertOneLineError(err)
        self.assertLess(time.monotonic() - start, 5)
        # A dlock run waiting behind kazoo gets the lock when kazoo lets go.
        waiter = self.start("run", "jobs", "--wait", "20s", "--", "sh", "-c",
                            'echo "$DLOCK_FENCING_TOKEN"')
        self.assertTrue(self.wait_until(
            lambda: len(self.kazoo.get_children(f"{self.root}/jobs")) == 2))
        lock.release()
        out, err = waiter.communicate(timeout=20)
        self.assertEqual(waiter.returncode, 0, err)
        dlock_token = int(out)
        self.assertGreater(dlock_token, kazoo_token)
        # A dlock holder makes kazoo wait, under Curator's node names.
        holder, held_token = self.hold("jobs")
        self.assertGreater(held_token, dlock_token)
        children = self.kazoo.get_children(f"{self.root}/jobs")
        self.assertEqual(len(children), 1)
        self.assertRegex(children[0], r"^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                      r"[0-9a-f]{12}-lock-\d{10}$")
        second = self.kazoo_lock("jobs")
        from kazoo.exceptions import LockTimeout
        with self.assertRaises(LockTimeout):
            second.acquire(timeout=1)
        holder.send_signal(signal.SIGTERM)  # forwarded; dlock releases when the child ends
        holder.wait(timeout=10)
        self.assertTrue(second.acquire(timeout=10))
        second_token = self.kazoo.exists(f"{self.root}/jobs/{second.node}").czxid
        self.assertGreater(second_token, held_token)
        second.release()
        code, out, err = self.dlock("run", "jobs", "--", "sh", "-c", 'echo "$DLOCK_FENCING_TOKEN"')
        self.assertEqual(code, 0, err)
        self.assertGreater(int(out), second_token)

    def test_acquire_is_refused_and_store_errors_exit_69(self):
        code, _, err = self.dlock("acquire", "manual")
        self.assertEqual(code, 64, err)
        self.assertOneLineError(err)
        self.assertIn("dlock run", err)
        code, _, err = self.dlock("--backend", f"zk://127.0.0.1:{closed_port()}?connect_timeout=500ms",
                                  "run", "x", "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)

    def test_tls_to_a_plain_port_exits_69_with_one_line(self):
        tls = TlsFiles(self.path("tls"))
        code, _, err = self.dlock("--backend", f"{self.backend}?tls=true&cacert={tls.ca_cert}",
                                  "run", "x", "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)
        self.assertIn(f"TLS to ZooKeeper at {self.server.hosts()} failed", err)


class ZkTlsCliTest(ServerPerClass, DlockTestCase):
    """zk:// over TLS through the CLI, on a TLS-only ZooKeeper (secureClientPort only)."""
    SERVER = TlsZkServer

    def setUp(self):
        super().setUp()
        self.base = f"zk://{self.server.hosts()}/tls{self.serial}"
        self.env["DLOCK_BACKEND"] = f"{self.base}?{self.server.tls_query()}"

    def test_run_over_tls_waits_and_tokens_increase(self):
        holder = self.start("run", "job", "--", "sh", "-c", 'echo "$DLOCK_FENCING_TOKEN"; sleep 1')
        self.assertTrue(self.wait_until(lambda: self.inspect("job")["held"]))
        code, out, err = self.dlock("run", "job", "--wait", "10s", "--", "sh", "-c",
                                    'echo "$DLOCK_FENCING_TOKEN"')
        self.assertEqual(code, 0, err)
        first, _ = holder.communicate(timeout=10)
        self.assertEqual(holder.returncode, 0)
        self.assertGreater(int(out), int(first))

    def test_a_plain_client_at_the_tls_port_exits_69_with_one_line(self):
        start = time.monotonic()
        code, _, err = self.dlock("--backend", f"{self.base}?connect_timeout=1s", "run", "x",
                                  "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)
        self.assertIn("did not answer the ZooKeeper handshake", err)
        self.assertIn("tls=true", err)
        self.assertLess(time.monotonic() - start, 5)

    def test_missing_or_misplaced_tls_files_exit_64(self):
        for query, says in [("tls=true&cacert=/nonexistent/ca.crt", "/nonexistent/ca.crt"),
                            (f"cacert={self.server.tls.ca_cert}", "tls=true"),
                            (f"tls=true&cert={self.server.tls.client_cert}", "key="),
                            ("tls=maybe", "true or false")]:
            with self.subTest(query=query):
                code, _, err = self.dlock("--backend", f"{self.base}?{query}", "run", "x", "--",
                                          "true")
                self.assertEqual(code, 64, err)
                self.assertOneLineError(err)
                self.assertIn(says, err)

    def test_an_untrusted_server_exits_69_with_one_line(self):
        other = TlsFiles(self.path("other"), "another-ca")
        code, _, err = self.dlock("--backend", f"{self.base}?tls=true&cacert={other.ca_cert}",
                                  "run", "x", "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)
        self.assertIn("certificate verify failed", err)


class EtcdCliTest(StoreCases, cli_run_test.MutualExclusionTest):
    """The etcd:// backend through the CLI, next to `etcdctl lock` (etcd's own Mutex)."""
    SERVER = EtcdServer

    def setUp(self):
        super().setUp()
        # Each test its own key prefix on the shared server.
        self.prefix = f"t{self.serial}/"
        self.backend = f"etcd://127.0.0.1:{self.server.port}?prefix={self.prefix}"
        self.env["DLOCK_BACKEND"] = self.backend

    def etcdctl_lock(self, name, script):
        p = subprocess.Popen(self.server.ctl_args("lock", self.prefix + name, "--", "sh", "-c",
                                                script),
                             env=dict(os.environ, ETCDCTL_API="3"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def read_int(self, path):
        self.assertTrue(self.wait_until(lambda: os.path.exists(path) and
                                        os.path.getsize(path) > 0), path)
        with open(path) as f:
            return int(f.read())

    def test_a_wall_clock_jumping_during_calls_ends_none_of_them(self):
        # gRPC converts a wall-clock deadline at each use, so a jump during the connect
        # ended it at once ("no etcd server ... answered within 5000ms") in about 4% of
        # runs; deadlines are now on the monotonic clock.
        faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"  # Debian's faketime
        self.assertTrue(os.path.exists(faketime), faketime)
        clock = self.path("clock")
        with open(clock, "w") as f:
            f.write("+0\n")
        stop = threading.Event()

        def jump():  # one hour back and forth, every 2 ms
            while not stop.is_set():
                for offset in ("-1h\n", "+0\n"):
                    with open(clock, "w") as f:
                        f.write(offset)
                    time.sleep(0.002)

        jumper = threading.Thread(target=jump)
        jumper.start()
        env = dict(self.env, LD_PRELOAD=faketime, FAKETIME_TIMESTAMP_FILE=clock,
                   FAKETIME_NO_CACHE="1", DONT_FAKE_MONOTONIC="1")
        failed = []
        try:
            for _ in range(100):
                code, _, err = self.dlock("run", "jumping", "--wait", "5s", "--", "true", env=env)
                if code != 0:
                    failed.append((code, err.strip()))
        finally:
            stop.set()
            jumper.join()
        self.assertEqual(failed, [])

    def test_etcdctl_lock_and_dlock_exclude_each_other_and_tokens_keep_increasing(self):
        rev1, gate = self.path("rev1"), self.path("gate")
        holder = self.etcdctl_lock("jobs", f'echo "$ETCD_LOCK_REV" > {rev1}; '
                                           f'while [ ! -e {gate} ]; do sleep 0.02; done')
        etcd_token = self.read_int(rev1)
        code, _, err = self.dlock("run", "jobs", "--wait", "0", "--", "true")
        self.assertEqual(code, 75, err)
        self.assertOneLineError(err)
        waiter = self.start("run", "jobs", "--wait", "20s", "--", "sh", "-c",
                            'echo "$DLOCK_FENCING_TOKEN"')
        self.assertTrue(self.wait_until(lambda: self.inspect("jobs")["waiters"] == 1))
        open(gate, "w").close()
        holder.wait(timeout=10)
        out, err = waiter.communicate(timeout=20)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertGreater(int(out), etcd_token)
        # A dlock holder makes `etcdctl lock` wait until it is done.
        held, held_token = self.hold("jobs")
        self.assertGreater(held_token, int(out))
        rev2 = self.path("rev2")
        second = self.etcdctl_lock("jobs", f'echo "$ETCD_LOCK_REV" > {rev2}')
        self.assertTrue(self.wait_until(lambda: self.inspect("jobs")["waiters"] == 1))
        self.assertFalse(os.path.exists(rev2), "etcdctl lock ran while dlock held the lock")
        held.send_signal(signal.SIGTERM)
        held.wait(timeout=10)
        self.assertGreater(self.read_int(rev2), held_token)
        second.wait(timeout=10)
        code, out, err = self.dlock("run", "jobs", "--", "sh", "-c", 'echo "$DLOCK_FENCING_TOKEN"')
        self.assertEqual(code, 0, err)
        self.assertGreater(int(out), self.read_int(rev2))

    def test_a_lease_outlives_dlock_acquire_and_another_process_extends_it(self):
        code, out, err = self.dlock("acquire", "manual", "--ttl", "5s", "--json")
        self.assertEqual(code, 0, err)
        lease = json.loads(out)
        self.assertTrue(self.inspect("manual")["held"])
        code, _, err = self.dlock("extend", "manual", "--owner", lease["owner"], "--ttl", "60s")
        self.assertEqual(code, 0, err)
        self.assertGreater(self.inspect("manual")["ttl_ms"], 50000)
        self.assertEqual(self.inspect("manual")["fencing_token"], lease["fencing_token"])
        code, _, err = self.dlock("release", "manual", "--owner", "0" * 32)
        self.assertEqual(code, 1, err)
        code, _, err = self.dlock("release", "manual", "--owner", lease["owner"])
        self.assertEqual(code, 0, err)
        self.assertFalse(self.inspect("manual")["held"])

    def test_store_errors_exit_69(self):
        code, _, err = self.dlock("--backend",
                                  f"etcd://127.0.0.1:{closed_port()}?connect_timeout=500ms",
                                  "run", "x", "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
