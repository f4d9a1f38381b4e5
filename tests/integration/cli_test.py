#!/usr/bin/env python3
"""Multi-process tests of the `dlock` CLI on the file backend (DESIGN.md section 6).

Run by ctest with DLOCK_BIN set to the built binary. Every test works in its own
temporary lock directory and kills what it started.
"""
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from servers import EtcdServer, RedisServer, ZkServer, free_port

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


class MutualExclusionTest(DlockTestCase):
    CRITICAL = ('mkdir "$D/inside" 2>/dev/null || echo OVERLAP >> "$D/log"; '
                'echo "$DLOCK_FENCING_TOKEN" >> "$D/log"; sleep 0.01; rmdir "$D/inside"')

    def run_workers(self, workers, rounds):
        env = dict(self.env, D=self.tmp.name)
        failures = []

        def worker():
            for _ in range(rounds):
                r = subprocess.run([DLOCK, "run", "shared", "--wait", "60s", "--", "sh", "-c",
                                    self.CRITICAL], env=env, capture_output=True, text=True)
                if r.returncode != 0:
                    failures.append(r.stderr)

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])

    def test_four_runs_never_overlap_and_tokens_increase_across_restarts(self):
        self.run_workers(4, 10)
        self.run_workers(4, 5)  # new processes: the counter lives in the store
        with open(self.path("log")) as f:
            lines = f.read().split()
        self.assertNotIn("OVERLAP", lines)
        tokens = [int(x) for x in lines]
        self.assertEqual(len(tokens), 60)
        self.assertEqual(tokens, sorted(tokens))
        self.assertEqual(len(set(tokens)), 60, "tokens must strictly increase")
        self.assertFalse(self.inspect("shared")["held"])
        self.assertEqual(self.inspect("shared")["fencing_token"], tokens[-1])


class WaitTest(DlockTestCase):
    def test_wait_zero_on_held_lock_exits_75_at_once(self):
        holder, _ = self.hold("busy")
        start = time.monotonic()
        code, _, err = self.dlock("run", "busy", "--wait", "0", "--", "true")
        self.assertEqual(code, 75, err)
        self.assertOneLineError(err)
        self.assertIn("held by", err)
        self.assertLess(time.monotonic() - start, 2.0)

    def test_wait_2s_gives_up_after_about_2s(self):
        holder, _ = self.hold("busy")
        start = time.monotonic()
        code, _, err = self.dlock("run", "busy", "--wait", "2s", "--", "true")
        elapsed = time.monotonic() - start
        self.assertEqual(code, 75, err)
        self.assertIn("gave up after waiting 2s", err)
        self.assertGreaterEqual(elapsed, 2.0)
        self.assertLess(elapsed, 6.0)

    def test_waiter_gets_the_lock_when_the_holder_finishes(self):
        marker = self.path("second-ran")
        holder = self.start("run", "handoff", "--", "sh", "-c", "sleep 0.5")
        self.assertTrue(self.wait_until(lambda: self.inspect("handoff")["held"]))
        code, _, err = self.dlock("run", "handoff", "--wait", "10s", "--", "touch", marker)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(marker))
        self.assertEqual(holder.wait(), 0)

    def test_a_waiting_run_on_a_terminal_says_who_holds_the_lock(self):
        holder, token = self.hold("shown")
        leader, follower = pty.openpty()
        p = subprocess.Popen([DLOCK, "run", "shown", "--wait", "3s", "--", "true"],
                             env=self.env, stdin=follower, stdout=follower, stderr=follower)
        self.procs.append(p)
        os.close(follower)
        seen = b""
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up and b"waited" not in seen:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 4096)
                except OSError:
                    break
        p.wait()
        os.close(leader)
        text = seen.decode(errors="replace")
        self.assertIn("waiting for 'shown', held by host", text)
        self.assertIn(f"pid {holder.pid}", text)
        self.assertIn(f"token {token}", text)
        self.assertEqual(p.returncode, 75)


class LivenessTest(DlockTestCase):
    def test_kill_9_holder_frees_the_lock_within_ttl(self):
        holder, token = self.hold("crash", ttl="2s")
        holder.kill()  # SIGKILL: no release
        holder.wait()
        killed_at = time.monotonic()
        code, out, err = self.dlock("run", "crash", "--wait", "10s", "--", "sh", "-c",
                                    'echo "$DLOCK_FENCING_TOKEN"')
        self.assertEqual(code, 0, err)
        self.assertGreater(int(out), token)
        self.assertLess(time.monotonic() - killed_at, 2.0 + 1.5)

    def test_kill_9_of_dlock_also_stops_its_command(self):
        marker = self.path("child-pid")
        p = self.start("run", "orphan", "--", "sh", "-c", f"echo $$ > {marker}; exec sleep 60")
        self.assertTrue(self.wait_until(lambda: os.path.exists(marker) and
                                        os.path.getsize(marker) > 0))
        with open(marker) as f:
            child = int(f.read())
        p.kill()
        p.wait()

        def gone():
            try:
                os.kill(child, 0)
                return False
            except ProcessLookupError:
                return True
        self.assertTrue(self.wait_until(gone), "the command outlived dlock")


class LossTest(DlockTestCase):
    def test_force_release_makes_run_signal_its_child_and_exit_76(self):
        trapped = self.path("trapped")
        started = self.path("started")
        p = self.start("run", "stolen", "--ttl", "3s", "--grace", "5s", "--", "sh", "-c",
                       f'trap "touch {trapped}; exit 143" TERM; touch {started}; '
                       'sleep 60 & wait')
        self.assertTrue(self.wait_until(lambda: os.path.exists(started)))
        code, _, err = self.dlock("release", "stolen", "--force")
        self.assertEqual(code, 0, err)
        _, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 76, err)
        self.assertTrue(os.path.exists(trapped), "the child never got SIGTERM")
        self.assertIn("lost the lock 'stolen'", err)

    def test_child_ignoring_sigterm_is_killed_after_grace(self):
        started = self.path("started")
        p = self.start("run", "stubborn", "--ttl", "1s", "--grace", "300ms", "--", "sh", "-c",
                       f'trap "" TERM; touch {started}; while :; do sleep 0.05; done')
        self.assertTrue(self.wait_until(lambda: os.path.exists(started)))
        self.assertEqual(self.dlock("release", "stubborn", "--force")[0], 0)
        _, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 76, err)
        self.assertIn("SIGKILL", err)


class ChildTest(DlockTestCase):
    def test_environment_and_inspect_agree(self):
        marker = self.path("env")
        p = self.start("run", "jobs/nightly", "--ttl", "20s", "--", "sh", "-c",
                       f'env | grep ^DLOCK_ > {marker}.tmp; mv {marker}.tmp {marker}; sleep 60')
        self.assertTrue(self.wait_until(lambda: os.path.exists(marker)))
        with open(marker) as f:
            env = dict(line.split("=", 1) for line in f.read().splitlines())
        state = self.inspect("jobs/nightly")
        self.assertEqual(env["DLOCK_NAME"], "jobs/nightly")
        self.assertEqual(env["DLOCK_BACKEND"], self.backend)
        self.assertEqual(len(env["DLOCK_OWNER"]), 32)
        self.assertTrue(state["held"])
        self.assertEqual(state["fencing_token"], int(env["DLOCK_FENCING_TOKEN"]))
        self.assertEqual(state["pid"], p.pid)
        self.assertEqual(state["host"], os.uname().nodename)
        self.assertGreater(state["ttl_ms"], 15000)
        self.assertLessEqual(state["ttl_ms"], 20000)
        self.assertRegex(state["since"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertNotIn(env["DLOCK_OWNER"], json.dumps(state))
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        self.assertFalse(self.inspect("jobs/nightly")["held"])

    def test_exit_status_is_the_childs(self):
        self.assertEqual(self.dlock("run", "x", "--", "sh", "-c", "exit 3")[0], 3)
        self.assertEqual(self.dlock("run", "x", "--", "sh", "-c", "kill -KILL $$")[0], 128 + 9)
        self.assertFalse(self.inspect("x")["held"])

    def test_sigterm_to_dlock_is_forwarded_and_the_lock_released(self):
        trapped = self.path("trapped")
        started = self.path("started")
        p = self.start("run", "fwd", "--", "sh", "-c",
                       f'trap "touch {trapped}; exit 7" TERM; touch {started}; sleep 60 & wait')
        self.assertTrue(self.wait_until(lambda: os.path.exists(started)))
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        self.assertEqual(p.returncode, 7)
        self.assertTrue(os.path.exists(trapped))
        self.assertFalse(self.inspect("fwd")["held"])

    def test_sigint_while_waiting_gives_up_cleanly(self):
        holder, _ = self.hold("busy")
        p = self.start("run", "busy", "--wait", "60s", "--", "true")
        time.sleep(0.3)  # let it start waiting; an earlier SIGINT is handled the same way
        p.send_signal(signal.SIGINT)
        p.wait(timeout=10)
        self.assertEqual(p.returncode, 128 + signal.SIGINT)

    def test_ctrl_z_stops_the_job_and_fg_resumes_it(self):
        pid, fd = pty.fork()
        if pid == 0:  # an interactive shell with job control, on a terminal
            os.environ.update(self.env)
            os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])

        def read(seconds, until=None):
            out, end = b"", time.monotonic() + seconds
            while time.monotonic() < end and not (until and until in out):
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return out.decode(errors="replace")
        try:
            read(1.0, b"# ")
            os.write(fd, f"{DLOCK} run jobctl --ttl 5s -- sh -c 'sleep 1; echo child-done'\n"
                     .encode())
            self.assertTrue(self.wait_until(lambda: self.inspect("jobctl")["held"]))
            os.write(fd, b"\x1a")  # Ctrl-Z
            self.assertIn("Stopped", read(5.0, b"Stopped"))
            os.write(fd, b"fg\n")
            self.assertIn("child-done", read(10.0, b"child-done"))
            os.write(fd, b"echo exit=$?\n")
            self.assertIn("exit=0", read(5.0, b"exit=0"))
            self.assertFalse(self.inspect("jobctl")["held"])
        finally:
            os.write(fd, b"exit\n")
            os.waitpid(pid, 0)
            os.close(fd)

    def test_missing_command_is_127_and_releases(self):
        code, _, err = self.dlock("run", "x", "--", "/no/such/program")
        self.assertEqual(code, 127)
        self.assertOneLineError(err)
        self.assertFalse(self.inspect("x")["held"])


class ManualLeaseTest(DlockTestCase):
    def test_acquire_extend_release_round_trip(self):
        code, out, err = self.dlock("acquire", "manual", "--ttl", "5s", "--json")
        self.assertEqual(code, 0, err)
        lease = json.loads(out)
        self.assertTrue(self.inspect("manual")["held"])
        self.assertEqual(self.inspect("manual")["fencing_token"], lease["fencing_token"])
        code, _, err = self.dlock("run", "manual", "--wait", "0", "--", "true")
        self.assertEqual(code, 75)
        wrong = "0" * 32
        code, _, err = self.dlock("extend", "manual", "--owner", wrong)
        self.assertEqual(code, 1)
        self.assertOneLineError(err)
        code, _, err = self.dlock("release", "manual", "--owner", wrong)
        self.assertEqual(code, 1)
        self.assertTrue(self.inspect("manual")["held"])
        code, _, err = self.dlock("extend", "manual", "--owner", lease["owner"], "--ttl", "60s")
        self.assertEqual(code, 0, err)
        self.assertGreater(self.inspect("manual")["ttl_ms"], 50000)
        code, _, err = self.dlock("release", "manual", "--owner", lease["owner"])
        self.assertEqual(code, 0, err)
        self.assertFalse(self.inspect("manual")["held"])
        self.assertEqual(self.dlock("release", "manual", "--owner", lease["owner"])[0], 1)

    def test_acquire_text_output_is_shell_evaluable(self):
        code, out, _ = self.dlock("acquire", "evaluated")
        self.assertEqual(code, 0)
        r = subprocess.run(["sh", "-c", out + '\n"$0" release "$DLOCK_NAME" --owner "$DLOCK_OWNER"',
                            DLOCK], env=self.env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.inspect("evaluated")["held"])


class BadInputTest(DlockTestCase):
    # Every argument of every command, malformed one at a time: (command, argument,
    # arguments, what the one-line error must say). All exit 64, the usage code.
    MALFORMED = [
        ("", "--backend", ["--backend", "", "inspect", "a"], "the URI is empty"),
        ("", "--backend", ["--backend", "bogus://x", "inspect", "a"], "unknown backend scheme"),
        ("", "--backend", ["--backend", "notauri", "inspect", "a"], "SCHEME://"),
        ("", "--backend", ["--backend", "redis://:6379", "inspect", "a"], "empty host"),
        ("", "--backend", ["--backend", "redis://h:99999", "inspect", "a"], "bad port"),
        ("", "--backend", ["--backend", "file://", "inspect", "a"], "needs a directory"),
        ("", "--backend", ["--backend", "redis://h?timeout=soon", "inspect", "a"],
         "invalid duration"),
        ("", "--backend", ["--backend", "redis://h?colour=red", "inspect", "a"], "colour"),
        ("", "--log-level", ["--log-level", "loud", "inspect", "a"], "loud not in"),
        ("", "--log-level", ["--log-level"], "--log-level"),
        ("", "--log-format", ["--log-format", "xml", "inspect", "a"], "xml not in"),
        ("", "--metrics-listen", ["--metrics-listen", "nowhere", "run", "a", "--", "true"],
         "is not [HOST:]PORT"),
        ("", "--metrics-listen", ["--metrics-listen", "127.0.0.1:99999", "run", "a", "--",
                                  "true"], "is not [HOST:]PORT"),
        ("", "--metrics-listen", ["--metrics-listen", "", "run", "a", "--", "true"],
         "the address is empty"),
        ("", "--metrics-listen", ["--metrics-listen", "::1:9464", "run", "a", "--", "true"],
         "is not [HOST:]PORT"),
        ("", "option", ["--bogus", "inspect", "a"], "unknown option '--bogus'"),
        ("", "subcommand", ["frobnicate"], "unknown command 'frobnicate'"),
        ("", "subcommand", [], "subcommand"),
        ("run", "name", ["run", "", "--", "true"], "lock name is empty"),
        ("run", "name", ["run", "a" * 10000, "--", "true"], "limit is 512"),
        ("run", "name", ["run", "a\nb", "--", "true"], "control character"),
        ("run", "--ttl", ["run", "a", "--ttl", "0", "--", "true"], "TTL 0ms is out of range"),
        ("run", "--ttl", ["run", "a", "--ttl", "10y", "--", "true"], "unknown unit 'y'"),
        ("run", "--ttl", ["run", "a", "--ttl", "48h", "--", "true"], "out of range"),
        ("run", "--ttl", ["run", "a", "--ttl"], "--ttl"),
        ("run", "--wait", ["run", "a", "--wait", "-1s", "--", "true"], "negative"),
        ("run", "--wait", ["run", "a", "--wait", "later", "--", "true"], "--wait"),
        ("run", "--grace", ["run", "a", "--grace", "-1s", "--", "true"], "--grace"),
        ("run", "--grace", ["run", "a", "--grace", "abc", "--", "true"], "--grace"),
        ("run", "command", ["run", "a", "--"], "missing command"),
        ("run", "command", ["run", "a", "true"], "missing '--'"),
        ("run", "command", ["run", "a", "b", "--", "true"], "unexpected argument 'b'"),
        ("run", "option", ["run", "a", "--bogus", "--", "true"], "unknown option '--bogus'"),
        ("acquire", "name", ["acquire", ""], "lock name is empty"),
        ("acquire", "--ttl", ["acquire", "a", "--ttl", "0"], "TTL 0ms is out of range"),
        ("acquire", "--wait", ["acquire", "a", "--wait", "x"], "--wait"),
        ("acquire", "--json", ["acquire", "a", "--json=banana"], "--json"),
        ("acquire", "option", ["acquire", "a", "--ttI", "5s"], "unknown option '--ttI'"),
        ("extend", "name", ["extend", "a\x01", "--owner", "abc"], "control character"),
        ("extend", "--owner", ["extend", "a"], "--owner is required"),
        ("extend", "--owner", ["extend", "a", "--owner", "x y"], "owner id"),
        ("extend", "--ttl", ["extend", "a", "--owner", "abc", "--ttl", "soon"],
         "invalid duration"),
        ("release", "name", ["release", "", "--force"], "lock name is empty"),
        ("release", "--owner", ["release", "a", "--owner", "x;y"], "owner id"),
        ("release", "--owner", ["release", "a", "--owner", ""], "owner id"),
        ("release", "--owner", ["release", "a"], "exactly one of --owner ID and --force"),
        ("release", "--force", ["release", "a", "--owner", "abc", "--force"], "excludes"),
        ("release", "--force", ["release", "a", "--force=perhaps"], "--force"),
        ("inspect", "name", ["inspect"], "name is required"),
        ("inspect", "--json", ["inspect", "a", "--json=banana"], "--json"),
        ("inspect", "--watch", ["inspect", "a", "--watch=banana"], "--watch"),
        ("bench", "--mode", ["bench", "--mode", "fast"], "--mode must be"),
        ("bench", "--concurrency", ["bench", "--concurrency", "0"], "--concurrency must be"),
        ("bench", "--concurrency", ["bench", "--concurrency", "many"], "--concurrency"),
        ("bench", "--workers", ["bench", "--workers", "100000"], "--workers must be"),
        ("bench", "--hold", ["bench", "--hold", "-1ms"], "--hold"),
        ("bench", "--duration", ["bench", "--duration", "0"], "--duration must be"),
        ("bench", "--ttl", ["bench", "--ttl", "0"], "TTL 0ms is out of range"),
        ("bench", "--json", ["bench", "--json=banana"], "--json"),
        ("bench", "--processes", ["bench", "--mode", "seq", "--processes"], "--processes"),
        ("bench", "--processes", ["--metrics-listen", "127.0.0.1:9464", "bench", "--mode",
                                  "contended", "--processes"], "does not go with --processes"),
        ("bench", "--lock", ["bench", "--lock", ""], "lock name is empty"),
        ("bench", "--lock", ["bench", "--lock", "a\nb"], "control character"),
        ("bench", "--locks", ["bench", "--mode", "hold", "--locks", "0"], "--locks must be"),
        ("bench", "--locks", ["bench", "--locks", "lots"], "--locks"),
    ]

    def options_of(self, command):
        """The options and positionals that `dlock COMMAND --help` lists."""
        code, out, err = self.dlock(*([command] if command else []), "--help")
        self.assertEqual(code, 0, err)
        found, positionals = set(), False
        for line in out.splitlines():
            if line.strip().endswith(":"):
                positionals = line.strip().lower() == "positionals:"
                continue
            words = line.split()
            if not words or not line.startswith("  ") or line.startswith("    "):
                continue
            name = words[0].split(",")[-1]
            if name.startswith("--") and name not in ("--help", "--version"):
                found.add(name)
            elif positionals:
                found.add(name)
        return found

    def test_version_is_one_line_and_exit_0(self):
        code, out, err = self.dlock("--version")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^dlock \d+\.\d+\.\d+\n$")

    def test_every_argument_of_every_command_is_covered_by_a_case(self):
        covered = {(c, a) for c, a, _, _ in self.MALFORMED}
        listed = {c: self.options_of(c) for c in
                  ["", "run", "acquire", "extend", "release", "inspect", "bench"]}
        # The help parser still finds options and positionals (a format change would
        # otherwise make this test pass on nothing).
        self.assertIn("--backend", listed[""])
        self.assertIn("name", listed["run"])
        self.assertIn("--ttl", listed["run"])
        for command, args in listed.items():
            for arg in args:
                self.assertIn((command, arg), covered, "no malformed case for this argument")
        # And no case names an argument that no longer exists.
        pseudo = {"subcommand", "command", "option"}
        for command, arg in covered:
            if arg not in pseudo:
                self.assertIn(arg, listed[command], f"stale case for {command} {arg}")

    def test_each_malformed_argument_is_one_line_and_exit_64_and_nothing_happens(self):
        marker = self.path("ran")
        for _, _, args, says in self.MALFORMED:
            if args[-1:] == ["true"]:
                args = [*args[:-1], "touch", marker]  # the command must not run
            with self.subTest(args=[a[:40] for a in args[:6]]):
                code, _, err = self.dlock(*args)
                self.assertEqual(code, 64, err)
                self.assertOneLineError(err)
                self.assertIn(says, err)
                self.assertFalse(os.path.exists(marker), "the command ran")
        # Nothing was left locked, and nothing was written for the refused names.
        self.assertFalse(self.inspect("a")["held"])
        self.assertEqual(os.listdir(self.dir) if os.path.exists(self.dir) else [], [])

    def test_password_never_shows(self):
        code, _, err = self.dlock("--backend", "redis://u:hunter2@127.0.0.1:1", "inspect", "a")
        self.assertNotEqual(code, 0)
        self.assertNotIn("hunter2", err)

    def test_unusable_lock_directory_exits_69(self):
        os.makedirs(self.path("open"))
        os.chmod(self.path("open"), 0o777)
        code, _, err = self.dlock("--backend", "file://" + self.path("open"), "inspect", "a")
        self.assertEqual(code, 69)
        self.assertOneLineError(err)
        with open(self.path("plain"), "w") as f:
            f.write("x")
        code, _, err = self.dlock("--backend", "file://" + self.path("plain"), "inspect", "a")
        self.assertEqual(code, 69)
        self.assertOneLineError(err)

    def test_odd_names_stay_inside_the_lock_directory(self):
        for name in ["jobs/nightly", "../../escape", "/etc/passwd-dlock", "..", "a b/c"]:
            code, _, err = self.dlock("run", name, "--", "true")
            self.assertEqual(code, 0, f"{name}: {err}")
        outside = set(os.listdir(self.tmp.name)) - {"locks"}
        self.assertEqual(outside, set())
        for entry in os.listdir(self.dir):
            self.assertTrue(os.path.isfile(os.path.join(self.dir, entry)))
        self.assertFalse(os.path.exists("/etc/passwd-dlock.lock"))


class DefaultBackendTest(DlockTestCase):
    def test_no_backend_uses_the_per_user_runtime_dir(self):
        env = {k: v for k, v in os.environ.items() if k != "DLOCK_BACKEND"}
        env["XDG_RUNTIME_DIR"] = self.tmp.name
        code, out, err = self.dlock("run", "dflt", "--", "sh", "-c", 'echo "$DLOCK_BACKEND"', env=env)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), "file://" + os.path.join(self.tmp.name, "dlock"))
        self.assertTrue(os.path.isfile(os.path.join(self.tmp.name, "dlock", "dflt.lock")))

    def test_an_empty_dlock_backend_means_the_default_but_an_empty_option_is_refused(self):
        env = dict(os.environ, DLOCK_BACKEND="", XDG_RUNTIME_DIR=self.tmp.name)
        code, out, err = self.dlock("run", "dflt", "--", "sh", "-c", 'echo "$DLOCK_BACKEND"', env=env)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), "file://" + os.path.join(self.tmp.name, "dlock"))
        code, _, err = self.dlock("--backend", "", "run", "dflt", "--", "true", env=env)
        self.assertEqual(code, 64, err)


def metric(text, name, *has):
    """The value of the first sample `name{...}` whose line contains every string in `has`."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(h in line for h in has):
                return float(line.rsplit(" ", 1)[1])
    return None


class ObservabilityTest(DlockTestCase):
    def test_metrics_of_a_run_that_waited_2s(self):
        holder = self.start("run", "metered", "--", "sleep", "2")
        self.assertTrue(self.wait_until(lambda: self.inspect("metered")["held"]))
        port = free_port()
        started = self.path("started")
        p = self.start("--metrics-listen", f"127.0.0.1:{port}", "run", "metered", "--wait", "10s",
                       "--", "sh", "-c", f"touch {started}; sleep 30")
        self.assertTrue(self.wait_until(lambda: os.path.exists(started)))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
        p.terminate()
        p.wait()
        holder.wait()
        acquired = 'result="acquired"'
        self.assertEqual(metric(text, "dlock_acquire_wait_seconds_bucket", acquired, 'le="1"'), 0)
        self.assertEqual(metric(text, "dlock_acquire_wait_seconds_bucket", acquired, 'le="2.5"'), 1)
        self.assertEqual(metric(text, "dlock_acquire_total", acquired, 'backend="file"'), 1)
        self.assertEqual(metric(text, "dlock_held", 'backend="file"'), 1)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool missing: scripts/install-deps.sh --test")
        check = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                               capture_output=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_metrics_listen_on_a_bad_address_is_one_line(self):
        code, _, err = self.dlock("--metrics-listen", "256.0.0.1:1", "run", "x", "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)

    def test_json_logs_carry_the_events_and_no_owner_id(self):
        code, out, err = self.dlock("--log-level", "info", "--log-format", "json", "run",
                                    "logged", "--", "sh", "-c", 'echo "$DLOCK_OWNER"')
        self.assertEqual(code, 0, err)
        owner = out.strip()
        self.assertEqual(len(owner), 32)
        self.assertNotIn(owner, err)
        events = [json.loads(line) for line in err.splitlines()]
        self.assertEqual([e["event"] for e in events], ["acquired", "released"])
        self.assertEqual(events[0]["lock"], "logged")
        self.assertIn("fencing_token", events[0])

    def test_inspect_watch_prints_each_change(self):
        watcher = subprocess.Popen([DLOCK, "inspect", "watched", "--watch", "--json"],
                                   env=self.env, stdout=subprocess.PIPE, text=True)
        self.procs.append(watcher)
        self.assertFalse(json.loads(watcher.stdout.readline())["held"])
        code, _, err = self.dlock("run", "watched", "--", "sleep", "0.6")
        self.assertEqual(code, 0, err)
        held = json.loads(watcher.stdout.readline())
        self.assertTrue(held["held"])
        self.assertFalse(json.loads(watcher.stdout.readline())["held"])
        watcher.kill()


class BenchTest(DlockTestCase):
    FIELDS = {"ops_per_s", "p50_us", "p99_us", "p999_us", "max_us", "cpu_us_per_op", "errors"}

    def test_seq_json_has_the_documented_fields(self):
        code, out, err = self.dlock("bench", "--mode", "seq", "--duration", "300ms", "--json")
        self.assertEqual(code, 0, err)
        result = json.loads(out)
        self.assertLessEqual(self.FIELDS, set(result))
        self.assertGreater(result["ops_per_s"], 0)
        self.assertEqual(result["errors"], 0)

    def test_conc_without_async_calls_runs_a_thread_per_loop(self):
        code, out, err = self.dlock("bench", "--mode", "conc", "--concurrency", "4",
                                    "--duration", "300ms", "--json")
        self.assertEqual(code, 0, err)
        result = json.loads(out)
        self.assertEqual(result["threads"], 4)
        self.assertEqual(result["in_flight"], 4)
        self.assertEqual(result["errors"], 0)

    def test_hold_keeps_many_locks_renewed_on_few_threads(self):
        code, out, err = self.dlock("bench", "--mode", "hold", "--locks", "200", "--ttl",
                                    "300ms", "--duration", "1s", "--json")
        self.assertEqual(code, 0, err)
        result = json.loads(out)
        self.assertEqual(result["locks"], 200)
        # Every 100 ms each lock is renewed: at least once each within the second.
        self.assertGreaterEqual(result["renewals"], 200)
        self.assertEqual(result["lost"], 0)
        self.assertEqual(result["renew_failed"], 0)
        self.assertEqual(result["errors"], 0)
        self.assertLessEqual(result["process_threads"], 8)

    def test_contended_in_separate_processes_counts_each_worker(self):
        code, out, err = self.dlock("bench", "--mode", "contended", "--workers", "3",
                                    "--processes", "--hold", "1ms", "--duration", "500ms",
                                    "--json")
        self.assertEqual(code, 0, err)
        result = json.loads(out)
        self.assertEqual(result["processes"], 3)
        self.assertGreater(result["worker_min"], 0)
        self.assertGreaterEqual(result["worker_max"], result["worker_min"])
        self.assertEqual(result["errors"], 0)


class RedisCliTest(MutualExclusionTest):
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


class StoreCases:
    """For the CLI test class of a networked store (mixed in before MutualExclusionTest):
    one server of class SERVER for the whole class (`self.server`; `self.serial` counts
    the tests, for names of their own), and the liveness and loss cases: a killed
    holder's lock frees within its TTL (lease or session), and a holder paused past it
    learns the loss when it resumes and signals its command."""
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


class ZkCliTest(StoreCases, MutualExclusionTest):
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
        # Curator-style children ("-lock-") count as contenders, as SERVERS.md says.
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
        code, _, err = self.dlock("--backend", f"zk://127.0.0.1:{free_port()}?connect_timeout=500ms",
                                  "run", "x", "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)


class EtcdCliTest(StoreCases, MutualExclusionTest):
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
                                  f"etcd://127.0.0.1:{free_port()}?connect_timeout=500ms",
                                  "run", "x", "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
