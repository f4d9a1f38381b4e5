#!/usr/bin/env python3
"""`dlock bench` on the file backend: each mode's JSON result, and on a terminal its
progress line and result table."""
import json
import os
import pty
import select
import subprocess
import unittest

from cli_util import DLOCK, DlockTestCase


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

    def bench_on_a_terminal(self, *args):
        """Runs dlock bench with stderr on a pseudo-terminal; returns (exit code, stdout,
        what the terminal got)."""
        master, slave = pty.openpty()
        p = subprocess.Popen([DLOCK, "bench", *args], env=self.env, stdout=subprocess.PIPE,
                             stderr=slave, text=True)
        self.procs.append(p)
        os.close(slave)
        terminal = b""
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer closed its end
                break
            if not chunk:
                break
            terminal += chunk
        os.close(master)
        out = p.stdout.read()
        return p.wait(timeout=30), out, terminal.decode()

    def test_on_a_terminal_it_shows_progress_then_prints_a_table(self):
        code, out, terminal = self.bench_on_a_terminal("--mode", "seq", "--duration", "2500ms")
        self.assertEqual(code, 0, terminal)
        # A live line each second, rewritten in place, and erased at the end.
        updates = [u for u in terminal.split("\r") if u.startswith("dlock bench: ")]
        self.assertGreaterEqual(len(updates), 2, repr(terminal))
        self.assertIn(" ops, ", updates[0])
        self.assertTrue(terminal.endswith("\r\x1b[K"), repr(terminal))
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("dlock bench: seq on file://"), out)
        labels = [line.strip() for line in lines[1:] if line.startswith("  ")]
        for label in ("operations", "throughput", "latency p50", "latency p99", "client CPU",
                      "errors"):
            self.assertTrue(any(row.startswith(label + " ") for row in labels), out)

    def test_on_a_terminal_separate_processes_show_progress_too(self):
        code, out, terminal = self.bench_on_a_terminal(
            "--mode", "contended", "--workers", "2", "--processes", "--hold", "1ms",
            "--duration", "1500ms")
        self.assertEqual(code, 0, terminal)
        self.assertIn("of 2 processes done", terminal)
        self.assertIn("dlock bench: contended on file://", out)
        self.assertIn("per worker", out)

    def test_without_a_terminal_nothing_but_the_table(self):
        code, out, err = self.dlock("bench", "--mode", "hold", "--locks", "10", "--duration",
                                    "1100ms")
        self.assertEqual(code, 0, err)
        self.assertEqual(err, "")
        self.assertTrue(out.startswith("dlock bench: hold on file://"), out)
        self.assertIn("locks held", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
