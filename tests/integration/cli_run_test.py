#!/usr/bin/env python3
"""`dlock run` on the file backend: mutual exclusion, waiting, liveness, loss of the lock
and the child process (environment, exit status, signals, job control).
"""
import json
import os
import pty
import select
import signal
import subprocess
import threading
import time
import unittest

from cli_util import DLOCK, DlockTestCase


def proc_stat(pid):
    """(state, ppid, pgid, name) of process `pid`, from /proc; None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    state, ppid, pgid = stat[stat.rindex(")") + 2:].split()[:3]
    return state, int(ppid), int(pgid), name


def running(pid):
    """Whether `pid` is a live process. A zombie is not: it runs nothing, and whoever
    inherits orphans here may be slow to reap them."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in "ZX"


def running_in_group(pgid):
    """The live processes of process group `pgid`."""
    stats = ((int(pid), proc_stat(pid)) for pid in os.listdir("/proc") if pid.isdigit())
    return [pid for pid, stat in stats if stat and stat[0] not in "ZX" and stat[2] == pgid]


def kill_quietly(pid):
    """SIGKILL to `pid` (a process group if negative), if it is still there."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


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


class MultiLockTest(DlockTestCase):
    """`dlock run NAME1 NAME2 ... -- cmd`: every name or none (Locker::AcquireAll)."""
    # The resource's view of the set {a, b}: a directory per name, made on entry (mkdir
    # fails if it exists, so an overlap on either name shows) and removed on exit.
    CRITICAL = ('if mkdir "$D/a" 2>/dev/null; then :; else echo OVERLAP >> "$D/log"; exit 0; fi; '
                'if mkdir "$D/b" 2>/dev/null; then :; else echo OVERLAP >> "$D/log"; exit 0; fi; '
                'echo "$DLOCK_FENCING_TOKENS" >> "$D/log"; rmdir "$D/a" "$D/b"')

    @staticmethod
    def tokens_of(text):
        """DLOCK_FENCING_TOKENS as {name: token}: one NAME=TOKEN per line."""
        pairs = (line.rsplit("=", 1) for line in text.splitlines() if line)
        return {name: int(token) for name, token in pairs}

    def test_every_token_is_in_the_environment_in_the_order_given(self):
        out = self.path("env")
        code, _, err = self.dlock(
            "run", "orders/1", "stock a=b", "--", "sh", "-c",
            f'printf "%s\\n" "$DLOCK_FENCING_TOKENS" > {out}; '
            f'printf "%s %s\\n" "$DLOCK_NAME" "$DLOCK_FENCING_TOKEN" >> {out}')
        self.assertEqual(code, 0, err)
        with open(out) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(lines[0].startswith("orders/1="), lines)
        self.assertTrue(lines[1].startswith("stock a=b="), lines)
        tokens = self.tokens_of("\n".join(lines[:2]))
        self.assertEqual(lines[2], f"orders/1 {tokens['orders/1']}")
        for name, token in tokens.items():
            state = self.inspect(name)
            self.assertFalse(state["held"])  # both released
            self.assertEqual(state["fencing_token"], token)

    def test_opposite_orders_for_30s_never_deadlock_nor_overlap(self):
        # The case: two processes taking {a, b} and {b, a} in a loop for 30 s.
        env = dict(self.env, D=self.tmp.name)
        until = time.monotonic() + float(os.environ.get("DLOCK_TEST_MULTI_SECONDS", "30"))
        failures = []
        rounds = {}

        def loop(names):
            rounds[names] = 0
            while time.monotonic() < until:
                r = subprocess.run([DLOCK, "run", *names, "--wait", "20s", "--", "sh", "-c",
                                    self.CRITICAL], env=env, capture_output=True, text=True)
                if r.returncode != 0:
                    failures.append(f"{names}: exit {r.returncode}: {r.stderr}")
                    return
                rounds[names] += 1

        threads = [threading.Thread(target=loop, args=(names,))
                   for names in (("a", "b"), ("b", "a"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])
        with open(self.path("log")) as f:
            log = f.read()
        self.assertNotIn("OVERLAP", log)
        # One line per name per round; a's and b's tokens each increase in grant order.
        for name in ("a", "b"):
            seen = [int(line.rsplit("=", 1)[1]) for line in log.splitlines()
                    if line.startswith(name + "=")]
            self.assertEqual(len(seen), sum(rounds.values()))
            self.assertEqual(seen, sorted(set(seen)), f"{name}'s tokens must strictly increase")
        self.assertGreater(rounds[("a", "b")], 0)
        self.assertGreater(rounds[("b", "a")], 0)
        self.assertFalse(self.inspect("a")["held"])
        self.assertFalse(self.inspect("b")["held"])

    def test_a_set_waiting_for_one_held_name_takes_no_other(self):
        holder, _ = self.hold("b")
        marker = self.path("ran")
        waiting = self.start("run", "a", "b", "--wait", "30s", "--", "sh", "-c",
                             f'echo "$DLOCK_FENCING_TOKENS" > {marker}')
        # It waits in b's line (the file backend keeps one), holding nothing else.
        self.assertTrue(self.wait_until(lambda: self.inspect("b").get("waiters", 0) >= 1))
        self.assertFalse(self.inspect("a")["held"])
        code, _, err = self.dlock("run", "a", "--wait", "0", "--", "true")
        self.assertEqual(code, 0, err)  # a was free for anyone meanwhile
        self.assertIsNone(waiting.poll())
        holder.send_signal(signal.SIGTERM)  # b comes free
        holder.wait(timeout=30)
        self.assertEqual(waiting.wait(timeout=30), 0, waiting.stderr.read())
        with open(marker) as f:
            self.assertEqual(sorted(self.tokens_of(f.read())), ["a", "b"])

    def test_a_held_name_without_waiting_exits_75_and_names_it(self):
        holder, _ = self.hold("b")
        code, _, err = self.dlock("run", "a", "b", "c", "--wait", "0", "--", "true")
        self.assertEqual(code, 75, err)
        self.assertOneLineError(err)
        self.assertIn("'b'", err)
        self.assertFalse(self.inspect("a")["held"])
        self.assertFalse(self.inspect("c")["held"])

    def test_a_name_listed_twice_exits_64(self):
        code, _, err = self.dlock("run", "a", "b", "a", "--", "true")
        self.assertEqual(code, 64, err)
        self.assertOneLineError(err)
        self.assertIn("listed twice", err)
        self.assertFalse(self.inspect("a")["held"])


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

    def start_with_markers(self, script, markers, *options, **kw):
        """Starts `dlock run` of `sh -c script` in the temporary directory, where each
        process of the command writes its pid to a marker file of its own; returns once
        they all have, with the pids."""
        p = self.start("run", "tree", *options, "--", "sh", "-c", script, cwd=self.tmp.name, **kw)
        self.assertTrue(self.wait_until(lambda: all(os.path.exists(self.path(m))
                                                    for m in markers)), "no markers")
        pids = []
        for m in markers:
            with open(self.path(m)) as f:
                pids.append(int(f.read()))
        self.addCleanup(kill_quietly, -pids[0])  # if the test fails
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.stderr.close)
        return p, pids

    def watcher_of(self, p):
        """The watcher of `dlock run` process `p`: its child in its process group."""
        found = [(int(pid), stat) for pid, stat in
                 ((pid, proc_stat(pid)) for pid in os.listdir("/proc") if pid.isdigit())
                 if stat and stat[1] == p.pid and stat[3] == "dlock watcher"]
        self.assertEqual(len(found), 1, "no watcher")
        (pid, (_, _, pgid, _)), = found
        self.assertEqual(pgid, os.getpgid(p.pid), "the watcher is not in dlock's group")
        return pid

    def test_kill_9_of_dlock_stops_the_commands_whole_process_group(self):
        # A pipeline and what follows it; each process writes its own pid ($$ in each sh,
        # which then becomes sleep or cat).
        script = ("echo $$ > top.tmp && mv top.tmp top; "
                  "sh -c 'echo $$ > left.tmp && mv left.tmp left; exec sleep 100' | "
                  "sh -c 'echo $$ > right.tmp && mv right.tmp right; exec cat'; sleep 100")
        p, pids = self.start_with_markers(script, ["top", "left", "right"], "--grace", "10s")
        pgid = pids[0]  # the command's process group is its own, led by the top shell
        self.assertEqual([proc_stat(pid)[2] for pid in pids], [pgid] * 3)
        self.assertNotEqual(pgid, os.getpgid(p.pid))
        watcher = self.watcher_of(p)
        killed = time.monotonic()
        p.kill()
        p.wait()

        def within_1s_of_the_kill(pred):
            return self.wait_until(pred, limit=killed + 1.0 - time.monotonic())
        self.assertTrue(within_1s_of_the_kill(lambda: not running_in_group(pgid)),
                        f"still running in the command's group: {running_in_group(pgid)}")
        self.assertEqual([pid for pid in pids if running(pid)], [])
        self.assertTrue(within_1s_of_the_kill(lambda: not running(watcher)),
                        "the watcher outlived the command")

    def test_kill_9_of_dlock_sigkills_what_ignores_sigterm_after_grace(self):
        # The shell dies of the SIGTERM; the process that ignores it, of the SIGKILL.
        script = ("echo $$ > top.tmp && mv top.tmp top; "
                  "sh -c \"trap '' TERM; echo \\$\\$ > stubborn.tmp && mv stubborn.tmp stubborn; "
                  "exec sleep 100\" & wait")
        p, (top, stubborn) = self.start_with_markers(script, ["top", "stubborn"], "--grace", "2s")
        killed = time.monotonic()
        p.kill()
        p.wait()
        self.assertTrue(self.wait_until(lambda: not running(top), limit=1.0),
                        "the command's shell did not get SIGTERM")
        self.assertTrue(running(stubborn), "killed with the shell")
        seen_at = time.monotonic()  # when it was last seen running
        while time.monotonic() < killed + 3.0:
            now = time.monotonic()
            if not running(stubborn):
                break
            seen_at = now
            time.sleep(0.01)
        self.assertFalse(running(stubborn), "not killed within --grace and a second")
        self.assertGreater(seen_at - killed, 1.5, "killed before --grace passed")
        self.assertEqual(running_in_group(top), [])

    def test_after_a_normal_exit_no_watcher_is_left_and_nothing_was_signalled(self):
        # The command leaves a process behind in its group, which a normal exit of dlock
        # does not stop; dlock runs in a session of its own, to find its process group.
        script = ("sh -c 'echo $$ > left.tmp && mv left.tmp left; exec sleep 100' "
                  "> /dev/null 2>&1 &")
        p, (left,) = self.start_with_markers(script, ["left"], "--grace", "100ms",
                                             start_new_session=True)
        self.addCleanup(kill_quietly, left)
        _, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(running_in_group(p.pid), [], "the watcher outlived dlock")
        self.assertTrue(running(left))
        self.assertEqual(err, "")


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


if __name__ == "__main__":
    unittest.main(verbosity=2)
