#!/usr/bin/env python3
"""The redis://, redis+sentinel://, redis+cluster:// and redlock:// backends through the CLI,
on redis-servers (and sentinels, and a cluster) of their own."""
import json
import os
import signal
import subprocess
import unittest

import cli_run_test
from cli_util import DlockTestCase
from servers import RedisClusterSet, RedisSentinelSet, RedisServer


class RedisCliTest(cli_run_test.MutualExclusionTest):
    def setUp(self):
        super().setUp()
        self.redis = RedisServer(self.tmp.name, "--requirepass", "hunter2")
        self.backend = self.redis.uri(":hunter2")
        self.env["DLOCK_BACKEND"] = self.backend

    def tearDown(self):
        self.redis.stop()
        super().tearDown()

    def inspect(self, name):
        code, out, err = self.dlock("inspect", name, "--json")
        self.assertEqual(code, 0, err)
        state = json.loads(out)
        self.assertNotIn("hunter2", out)
        return state

    def test_bench_conc_keeps_every_loop_in_flight_from_one_thread(self):
        code, out, err = self.dlock("bench", "--mode", "conc", "--concurrency", "64",
                                    "--duration", "500ms", "--json")
        self.assertEqual(code, 0, err)
        result = json.loads(out)
        self.assertEqual(result["threads"], 1)
        self.assertEqual(result["in_flight"], 64)
        self.assertGreater(result["ops"], 64)
        self.assertEqual(result["errors"], 0)
        # Every loop released what it took.
        keys = self.redis.cli("-a", "hunter2", "--no-auth-warning", "KEYS", "*").split()
        self.assertEqual([k for k in keys if not k.endswith(":fence")], [])

    def test_four_runs_never_overlap_and_only_the_counter_is_left(self):
        self.run_workers(4, 10)
        with open(self.path("log")) as f:
            lines = f.read().split()
        self.assertNotIn("OVERLAP", lines)
        tokens = [int(x) for x in lines]
        self.assertEqual(tokens, list(range(1, 41)))
        keys = self.redis.cli("-a", "hunter2", "--no-auth-warning", "KEYS", "*").split()
        self.assertEqual(keys, ["dlock:{shared}:fence"])
        channels = self.redis.cli("-a", "hunter2", "--no-auth-warning", "PUBSUB", "CHANNELS")
        self.assertEqual(channels.strip(), "")

    def test_four_runs_never_overlap_and_tokens_increase_across_restarts(self):
        super().test_four_runs_never_overlap_and_tokens_increase_across_restarts()

    def test_child_sees_the_backend_without_its_password(self):
        code, out, err = self.dlock("run", "pw", "--", "sh", "-c", 'echo "$DLOCK_BACKEND"')
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), f"redis://:***@127.0.0.1:{self.redis.port}")

    def test_store_errors_exit_69_without_the_password(self):
        for backend in [self.redis.uri(":wrong-pw"), self.redis.uri(),
                        "redis://127.0.0.1:1", f"rediss://127.0.0.1:{self.redis.port}?timeout=1s"]:
            with self.subTest(backend=backend):
                code, out, err = self.dlock("--backend", backend, "run", "x", "--", "true")
                self.assertEqual(code, 69, err)
                self.assertOneLineError(err)
                self.assertNotIn("wrong-pw", err + out)
                self.assertNotIn("hunter2", err + out)

    def test_tls_errors_exit_69_and_a_trusted_server_works(self):
        d = self.path("tls")
        os.makedirs(d)

        def openssl(*args):
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                "-subj", "/CN=dlock-cli-test-ca")
        openssl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
        with open(os.path.join(d, "san.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "san.ext")
        tls = RedisServer(d, "--port", "0", "--tls-port", "{port}", "--tls-cert-file",
                          os.path.join(d, "srv.crt"), "--tls-key-file", os.path.join(d, "srv.key"),
                          "--tls-ca-cert-file", os.path.join(d, "ca.crt"),
                          "--tls-auth-clients", "no")
        try:
            base = f"rediss://127.0.0.1:{tls.port}"
            code, out, err = self.dlock("--backend", base + "?cacert=" + os.path.join(d, "ca.crt"),
                                        "run", "tls", "--", "sh", "-c", 'echo "$DLOCK_FENCING_TOKEN"')
            self.assertEqual((code, out.strip()), (0, "1"), err)
            for backend, says in [(base, "certificate verify failed"),
                                  (f"redis://127.0.0.1:{tls.port}?timeout=1s", "")]:
                code, _, err = self.dlock("--backend", backend, "run", "tls", "--", "true")
                self.assertEqual(code, 69, err)
                self.assertOneLineError(err)
                self.assertIn(says, err)
        finally:
            tls.stop()

    def test_inspect_counts_the_waiting_processes(self):
        holder = self.start("run", "queue", "--", "sleep", "30")
        self.assertTrue(self.wait_until(lambda: self.inspect("queue")["held"]))
        waiters = [self.start("run", "queue", "--wait", "30s", "--", "true") for _ in range(2)]
        self.assertTrue(self.wait_until(lambda: self.inspect("queue").get("waiters") == 2))
        code, out, _ = self.dlock("inspect", "queue")
        self.assertIn("2 waiting", out)
        holder.terminate()
        for w in waiters:
            self.assertEqual(w.wait(timeout=20), 0)

    def test_debug_logs_never_show_the_password_or_owner(self):
        code, out, err = self.dlock("--log-level", "debug", "--log-format", "json", "run", "dbg",
                                    "--", "sh", "-c", 'echo "$DLOCK_OWNER"')
        self.assertEqual(code, 0, err)
        self.assertNotIn("hunter2", err)
        self.assertNotIn(out.strip(), err)

    def test_one_round_trip_to_acquire_renewals_and_one_to_release(self):
        monitor = subprocess.Popen(["redis-cli", "-p", str(self.redis.port), "-a", "hunter2",
                                    "--no-auth-warning", "MONITOR"], stdout=subprocess.PIPE,
                                   text=True)
        self.procs.append(monitor)
        self.assertEqual(monitor.stdout.readline().strip(), "OK")
        code, _, err = self.dlock("run", "watched", "--ttl", "3s", "--", "sleep", "2.5")
        self.assertEqual(code, 0, err)
        self.redis.cli("-a", "hunter2", "--no-auth-warning", "ECHO", "end-of-run")
        lines = []
        for line in monitor.stdout:
            if "end-of-run" in line:
                break
            lines.append(line)
        monitor.kill()
        commands = [l.split('"')[1].upper() for l in lines if '"' in l]
        scripted = [c for c in commands if c in ("EVAL", "EVALSHA")]
        # acquire, a renewal every second (ttl/3) while the command ran, release
        self.assertEqual(len(scripted), 4, lines)
        self.assertNotIn("SUBSCRIBE", commands)  # it never had to wait


class RedlockCliTest(DlockTestCase):
    def setUp(self):
        super().setUp()
        self.servers = []
        for i in range(5):
            workdir = os.path.join(self.tmp.name, f"redis{i}")
            os.makedirs(workdir)
            self.servers.append(RedisServer(workdir))
        ports = ",".join(f"127.0.0.1:{s.port}" for s in self.servers)
        self.env["DLOCK_BACKEND"] = f"redlock://{ports}?timeout=500ms&connect_timeout=500ms"

    def tearDown(self):
        for s in self.servers:
            os.kill(s.proc.pid, signal.SIGCONT)
            s.stop()
        super().tearDown()

    def test_two_paused_work_three_paused_fail_naming_how_many_answered(self):
        for s in self.servers[:2]:
            os.kill(s.proc.pid, signal.SIGSTOP)
        code, out, err = self.dlock("run", "rl", "--", "sh", "-c", 'echo "$DLOCK_FENCING_TOKEN"')
        self.assertEqual(code, 0, err)
        self.assertGreater(int(out), 0)
        os.kill(self.servers[2].proc.pid, signal.SIGSTOP)
        code, _, err = self.dlock("run", "rl", "--wait", "1s", "--", "true")
        self.assertIn(code, (69, 75), err)
        self.assertOneLineError(err)
        self.assertIn("of 5 Redis instances answered", err)



class RedisSentinelCliTest(DlockTestCase):
    """dlock on redis+sentinel://: run, inspect and bench work, and follow a failover."""

    def setUp(self):
        super().setUp()
        self.set = RedisSentinelSet(self.tmp.name)
        self.env["DLOCK_BACKEND"] = self.set.uri()

    def tearDown(self):
        self.set.stop()
        super().tearDown()

    def token(self, name):
        code, out, err = self.dlock("run", name, "--", "sh", "-c", 'echo "$DLOCK_FENCING_TOKEN"')
        self.assertEqual(code, 0, err)
        return int(out)

    def test_run_exports_tokens_that_increase_across_a_failover(self):
        before = [self.token("job") for _ in range(3)]
        self.assertEqual(before, sorted(set(before)))
        self.assertEqual(before[-1] >> 40, self.set.config_epoch())
        old = self.set.master
        self.set.failover()
        self.set.await_new_master(old)
        after = self.token("job")
        self.assertGreater(after, before[-1])
        self.assertEqual(after >> 40, self.set.config_epoch())
        self.assertGreater(after >> 40, before[-1] >> 40)
        state = self.inspect("job")
        self.assertFalse(state["held"])
        self.assertEqual(state["fencing_token"], after)
        code, out, err = self.dlock("run", "job", "--", "sh", "-c", 'echo "$DLOCK_BACKEND"')
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), self.set.uri())

    def test_bench_and_bad_uris(self):
        code, out, err = self.dlock("bench", "--mode", "conc", "--concurrency", "16",
                                    "--duration", "300ms", "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["errors"], 0)
        code, _, err = self.dlock("--backend", self.set.uri() + "?bogus=1", "inspect", "x")
        self.assertEqual(code, 64, err)
        self.assertOneLineError(err)
        self.assertIn("unknown option 'bogus'", err)
        code, _, err = self.dlock("--backend", "redis+sentinel://127.0.0.1:1", "inspect", "x")
        self.assertEqual(code, 64, err)
        self.assertIn("master's name", err)


class RedisClusterCliTest(DlockTestCase):
    """dlock on redis+cluster://: run exports tokens with the slot master's configEpoch in
    their high bits, inspect and bench work, and a failover is followed."""

    def setUp(self):
        super().setUp()
        self.cluster = RedisClusterSet(self.tmp.name)
        self.env["DLOCK_BACKEND"] = self.cluster.uri()

    def tearDown(self):
        self.cluster.stop()
        super().tearDown()

    def token(self, name):
        code, out, err = self.dlock("run", name, "--", "sh", "-c", 'echo "$DLOCK_FENCING_TOKEN"')
        self.assertEqual(code, 0, err)
        return int(out)

    def owner(self, name):
        return self.cluster.owner(self.cluster.key_slot("dlock:{" + name + "}"))

    def test_run_exports_the_slot_masters_epoch_and_tokens_increase_across_a_failover(self):
        owners = self.cluster.owners()
        masters = sorted(set(owners))
        self.assertEqual(len(masters), 3)
        # A lock on each master: its tokens carry that master's configEpoch.
        names = {}
        n = 0
        while len(names) < 3:
            name = f"job-{n}"
            names.setdefault(owners[self.cluster.key_slot("dlock:{" + name + "}")], name)
            n += 1
        for master, name in names.items():
            tokens = [self.token(name) for _ in range(3)]
            self.assertEqual(tokens, sorted(set(tokens)), name)
            self.assertEqual(tokens[-1] >> 40, self.cluster.config_epoch(master), name)
            state = self.inspect(name)
            self.assertFalse(state["held"])
            self.assertEqual(state["fencing_token"], tokens[-1])
        # The master of one of them fails over: its tokens go on above, under the new
        # master's epoch.
        name = names[masters[0]]
        before = self.token(name)
        replica = self.cluster.replica_of(masters[0])
        self.assertGreaterEqual(replica, 0)
        self.cluster.failover(replica)
        after = self.token(name)
        self.assertGreater(after, before)
        self.assertEqual(after >> 40, self.cluster.config_epoch(replica))
        self.assertGreater(after >> 40, before >> 40)
        self.assertEqual(self.owner(name), replica)
        self.assertEqual(self.inspect(name)["fencing_token"], after)
        code, out, err = self.dlock("run", name, "--", "sh", "-c", 'echo "$DLOCK_BACKEND"')
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), self.cluster.uri())

    def test_inspect_shows_the_holder_and_bench_and_bad_uris(self):
        holder = self.start("run", "held", "--", "sleep", "30")
        try:
            self.wait_until(lambda: self.inspect("held")["held"])
            state = self.inspect("held")
            self.assertEqual(state["fencing_token"] >> 40,
                             self.cluster.config_epoch(self.owner("held")))
        finally:
            holder.terminate()
            holder.communicate(timeout=10)
        code, out, err = self.dlock("bench", "--mode", "conc", "--concurrency", "16",
                                    "--duration", "300ms", "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["errors"], 0)
        code, _, err = self.dlock("--backend", self.cluster.uri() + "?bogus=1", "inspect", "x")
        self.assertEqual(code, 64, err)
        self.assertOneLineError(err)
        self.assertIn("unknown option 'bogus'", err)
        code, _, err = self.dlock("--backend", self.cluster.uri() + "/1", "inspect", "x")
        self.assertEqual(code, 64, err)
        self.assertOneLineError(err)
        self.assertIn("only database 0", err)
        os.makedirs(os.path.join(self.tmp.name, "plain"))
        plain = RedisServer(os.path.join(self.tmp.name, "plain"))
        try:
            code, _, err = self.dlock("--backend", f"redis+cluster://127.0.0.1:{plain.port}",
                                      "inspect", "x")
            self.assertNotEqual(code, 0, err)
            self.assertOneLineError(err)
            self.assertIn("is not a cluster node", err)
        finally:
            plain.stop()

if __name__ == "__main__":
    unittest.main(verbosity=2)
