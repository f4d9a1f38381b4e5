#!/usr/bin/env python3
"""`dlock bench` on the file backend: each mode's JSON result."""
import json
import unittest

from cli_util import DlockTestCase


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


if __name__ == "__main__":
    unittest.main(verbosity=2)
