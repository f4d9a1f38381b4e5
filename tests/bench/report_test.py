#!/usr/bin/env python3
"""bench/report.py on made-up results: the summary table of the targets at the top, every
target read off the right rows (met, not met, not measured), and one SVG chart per
workload with dlock's ratio to the best library on it. Runs on Debian's python3, the one
python3-matplotlib is installed for."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

REPORT = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "report.py")

RESULTS = [
    # seq: dlock at 0.95 x the raw loop (met), CPU 60 vs 50 (1.2 x: not met).
    {"workload": "seq", "ops_per_s": 9500, "p50_us": 100, "p99_us": 200, "cpu_us_per_op": 60},
    {"workload": "seq", "peer": "raw hiredis 0.14.1", "ops_per_s": 10000, "cpu_us_per_op": 50},
    {"workload": "seq", "peer": "node-redlock@5", "pairs_per_s": 5000},
    # conc256: 1.4 x raw ioredis (met), 2 x the best library (met).
    {"workload": "conc256", "ops_per_s": 70000},
    {"workload": "conc256", "peer": "raw ioredis@5", "pairs_per_s": 50000},
    {"workload": "conc256", "peer": "node-redlock@5", "pairs_per_s": 35000},
    {"workload": "conc256", "peer": "node-redis-semaphore@5", "pairs_per_s": 30000},
    # redlock3 over two rounds: the median of 3000 and 5000 is 4000, 1.0 x (not met).
    {"workload": "redlock3", "ops_per_s": 3000},
    {"workload": "redlock3", "ops_per_s": 5000},
    {"workload": "redlock3", "peer": "node-redlock@5", "pairs_per_s": 4000},
    {"workload": "hold10k", "mode": "hold", "cpu_us_per_lock_s": 2.1, "process_threads": 4,
     "rss_bytes_per_lock": 900, "cpu_percent": 2.1, "renewals_per_s": 3000,
     "renew_failed": 0, "lost": 0},
]


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="dlock-report-")
        results = os.path.join(self.tmp.name, "results.jsonl")
        with open(results, "w") as f:
            for r in RESULTS:
                f.write(json.dumps(r) + "\n")
        self.charts = os.path.join(self.tmp.name, "charts")
        r = subprocess.run([sys.executable, REPORT, results, "5", "2", "7.0.15", "v20",
                            "--charts", self.charts], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.markdown = r.stdout

    def tearDown(self):
        self.tmp.cleanup()

    def summary(self):
        """The summary table's rows: {(workload, target): [cells]}."""
        section = self.markdown.split("## Summary", 1)[1].split("\n## ", 1)[0]
        rows = {}
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 6 and cells[0] not in ("workload", "---"):
                rows[(cells[0], cells[3])] = cells
        return rows

    def test_the_summary_comes_first_and_judges_each_target(self):
        self.assertLess(self.markdown.index("## Summary"), self.markdown.index("## Sequential"))
        rows = self.summary()
        seq = rows[("seq", "≥ 0.9 × raw hiredis loop")]
        self.assertEqual(seq[1], "9,500")
        self.assertEqual(seq[2], "5,000 (node-redlock@5)")  # the best library, not the raw loop
        self.assertEqual(seq[4:], ["0.95 ×", "yes"])
        self.assertEqual(rows[("seq", "CPU/pair ≤ 1.1 × raw hiredis")][4:],
                         ["60.0 vs 50.0", "**no**"])
        self.assertEqual(rows[("conc256", "≥ 1.3 × raw ioredis")][4:], ["1.40 ×", "yes"])
        self.assertEqual(rows[("conc256", "≥ 1.6 × best library peer")][4:],
                         ["2.00 × node-redlock@5", "yes"])
        self.assertEqual(rows[("redlock3", "≥ 1.25 × node-redlock")][4:], ["1.00 ×", "**no**"])
        self.assertEqual(rows[("hold10k", "≤ 2.5 µs CPU per lock per second (Redis)")][4:],
                         ["2.10 µs", "yes"])
        self.assertEqual(rows[("zk-contended8", "≥ 1.3 × kazoo")][4:], ["not measured", "–"])

    def test_each_workload_has_a_chart_with_dlock_highlighted_and_its_ratio(self):
        for workload in ("seq", "conc256", "redlock3"):
            path = os.path.join(self.charts, f"{workload}.svg")
            self.assertIn(f"![{workload}]({path})", self.markdown)
            root = ET.parse(path).getroot()  # well-formed SVG
            self.assertTrue(root.tag.endswith("svg"))
            with open(path) as f:
                svg = f.read()
            self.assertIn("#d9480f", svg)  # dlock's bar colour
        with open(os.path.join(self.charts, "conc256.svg")) as f:
            svg = f.read()
        # Text is drawn as glyphs, each labelled by its string in a comment.
        self.assertIn("2.00", svg)
        self.assertFalse(os.path.exists(os.path.join(self.charts, "zk-seq.svg")))

    def test_charts_are_the_same_for_the_same_numbers(self):
        with open(os.path.join(self.charts, "seq.svg")) as f:
            first = f.read()
        first_run = self.tmp
        self.setUp()  # a second run, into a directory of its own
        first_run.cleanup()
        with open(os.path.join(self.charts, "seq.svg")) as f:
            self.assertEqual(f.read(), first)


if __name__ == "__main__":
    unittest.main(verbosity=2)
