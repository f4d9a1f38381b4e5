#!/usr/bin/env python3
"""What dlock shows of itself on the file backend: Prometheus metrics (--metrics-listen),
JSON logs and `dlock inspect --watch`.
"""
import json
import os
import shutil
import subprocess
import unittest
import urllib.request

from cli_util import DLOCK, DlockTestCase
from servers import free_port

# ctest says whether dlock was built with -DDLOCK_WITH_PROMETHEUS=OFF; by hand, ON.
PROMETHEUS = os.environ.get("DLOCK_WITH_PROMETHEUS", "ON") == "ON"


def metric(text, name, *has):
    """The value of the first sample `name{...}` whose line contains every string in `has`."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(h in line for h in has):
                return float(line.rsplit(" ", 1)[1])
    return None


class ObservabilityTest(DlockTestCase):
    @unittest.skipUnless(PROMETHEUS, "built with -DDLOCK_WITH_PROMETHEUS=OFF")
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

    @unittest.skipUnless(PROMETHEUS, "built with -DDLOCK_WITH_PROMETHEUS=OFF")
    def test_metrics_listen_on_a_bad_address_is_one_line(self):
        code, _, err = self.dlock("--metrics-listen", "256.0.0.1:1", "run", "x", "--", "true")
        self.assertEqual(code, 69, err)
        self.assertOneLineError(err)

    @unittest.skipIf(PROMETHEUS, "built with Prometheus")
    def test_metrics_listen_without_prometheus_is_one_line_and_exit_64(self):
        marker = self.path("ran")
        code, _, err = self.dlock("--metrics-listen", "127.0.0.1:9464", "run", "x", "--",
                                  "touch", marker)
        self.assertEqual(code, 64, err)
        self.assertOneLineError(err)
        self.assertIn("built without Prometheus support", err)
        self.assertFalse(os.path.exists(marker), "the command ran")

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
