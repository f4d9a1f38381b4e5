#!/usr/bin/env python3
"""The operations examples (examples/systemd/, examples/cron/, docs/operations.md):
`systemd-analyze verify` on the unit files, their exit codes against cli/exit_codes.h,
their dlock command lines run with the built dlock, and the doc's quotes of them.

systemd-analyze (Debian's systemd package) runs offline here: systemd need not be PID 1.
It verifies the units as installed: copied unchanged into a temporary root's
/etc/systemd/system, beside a copy of this machine's /usr/lib/systemd/system (the
targets they depend on) and the built dlock as the root's /usr/bin/dlock (verify checks
that ExecStart's binary is executable). It reports some errors only as warnings, with
exit status 0 ("Failed to parse value, ignoring"), so any output fails the test too.

The command lines run with the built binary in place of /usr/bin/dlock, a file:// store
in a temporary directory in place of the EnvironmentFile's DLOCK_BACKEND, and a script
of the test's in place of the job.
"""
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import unittest

from cli_util import DLOCK, DlockTestCase
from servers import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEMD_DIR = os.path.join(REPO, "examples", "systemd")
CRON_FILE = os.path.join(REPO, "examples", "cron", "nightly-report")
JOB = "nightly-report.service"     # oneshot, started by nightly-report.timer
LEADER = "queue-worker.service"    # long-running, one replica at a time
HOST_UNITS = "/usr/lib/systemd/system"
PROMETHEUS = os.environ.get("DLOCK_WITH_PROMETHEUS", "ON") == "ON"


def exit_codes():
    """kExit* constants of cli/exit_codes.h, by name."""
    with open(os.path.join(REPO, "cli", "exit_codes.h")) as f:
        codes = dict(re.findall(r"inline constexpr int (kExit\w+) = (\d+);", f.read()))
    return {name: int(value) for name, value in codes.items()}


def parse_unit_lines(lines):
    """{section: {key: [values]}} of a unit file's lines: comments dropped, lines ending
    in a backslash joined (systemd replaces the backslash and newline with a space)."""
    sections = {}
    current = None
    pending = ""
    for raw in lines:
        line = raw.rstrip("\n")
        if not pending and line.lstrip().startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(" ".join(value.split()))
    return sections


def parse_unit(path):
    with open(path) as f:
        return parse_unit_lines(f)


def doc_blocks(language):
    """The ```LANGUAGE code blocks of docs/operations.md, each as its lines."""
    with open(os.path.join(REPO, "docs", "operations.md")) as f:
        text = f.read()
    return [b.splitlines() for b in re.findall(rf"^```{language}\n(.*?)^```$", text,
                                                 re.M | re.S)]


def statuses(unit, key):
    """The exit statuses listed by every KEY= line of [Service] (numbers only)."""
    return {int(v) for line in unit["Service"].get(key, []) for v in line.split() if v.isdigit()}


def option(argv, name):
    """The value of option NAME in ARGV, or None."""
    return argv[argv.index(name) + 1] if name in argv else None


def job_script(tmp, marker, status=0):
    """A job that records the lock it runs under, then exits with `status`."""
    path = os.path.join(tmp, f"job-{status}.sh")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\necho "$DLOCK_NAME $DLOCK_FENCING_TOKEN" > {marker}\n'
                f'echo "the job ran"\nexit {status}\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class SystemdExamplesTest(DlockTestCase):
    @classmethod
    def setUpClass(cls):
        cls.codes = exit_codes()
        for name in ("kExitUsage", "kExitUnavailable", "kExitNotAcquired", "kExitLost",
                     "kExitStale", "kExitCannotExecute", "kExitCommandNotFound"):
            assert name in cls.codes, f"{name} not found in cli/exit_codes.h"
        cls.files = sorted(f for f in os.listdir(SYSTEMD_DIR)
                           if f.endswith((".service", ".timer")))
        cls.units = {f: parse_unit(os.path.join(SYSTEMD_DIR, f)) for f in cls.files}

    def exec_start(self, name):
        """ExecStart of unit NAME as argv, which must start with /usr/bin/dlock."""
        lines = self.units[name]["Service"]["ExecStart"]
        self.assertEqual(len(lines), 1, lines)
        argv = shlex.split(lines[0])
        self.assertEqual(argv[0], "/usr/bin/dlock", lines[0])
        self.assertIn("run", argv)
        self.assertIn("--", argv)
        return argv

    def runnable(self, argv, job):
        """ARGV with the built dlock, a free metrics port (or no --metrics-listen in a
        build without Prometheus) and JOB as the command."""
        argv = [DLOCK] + argv[1:argv.index("--") + 1] + [job]
        if "--metrics-listen" in argv:
            i = argv.index("--metrics-listen")
            if PROMETHEUS:
                argv[i + 1] = f"127.0.0.1:{free_port()}"
            else:
                del argv[i:i + 2]
        return argv

    def test_the_units_pass_systemd_analyze_verify(self):
        self.assertIn(JOB, self.files)
        self.assertIn(LEADER, self.files)
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "no systemd-analyze: install Debian's systemd "
                             "(scripts/install-deps.sh --test)")
        self.assertTrue(os.path.isdir(HOST_UNITS), f"no {HOST_UNITS}: install systemd")
        root = self.path("root")
        shutil.copytree(HOST_UNITS, os.path.join(root, HOST_UNITS.lstrip("/")), symlinks=True)
        units = os.path.join(root, "etc", "systemd", "system")
        os.makedirs(units)
        for f in self.files:
            shutil.copy(os.path.join(SYSTEMD_DIR, f), units)
        os.makedirs(os.path.join(root, "usr", "bin"))
        try:
            os.link(DLOCK, os.path.join(root, "usr", "bin", "dlock"))
        except OSError:  # another file system
            shutil.copy(DLOCK, os.path.join(root, "usr", "bin", "dlock"))
        r = subprocess.run([analyze, "verify", "--man=no", f"--root={root}", *self.files],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_each_timer_starts_a_service_of_the_examples(self):
        timers = [f for f in self.files if f.endswith(".timer")]
        self.assertTrue(timers)
        for timer in timers:
            started = self.units[timer]["Timer"].get("Unit", [timer[:-6] + ".service"])[-1]
            self.assertIn(started, self.files, timer)

    def test_the_doc_quotes_the_units_as_they_are(self):
        blocks = doc_blocks("ini")
        self.assertEqual(len(blocks), 2)  # the job's unit and the leader's
        for block in blocks:
            quoted = parse_unit_lines(block)
            # The unit the block quotes: the one with its ExecStart.
            matches = [f for f in self.files if self.units[f].get("Service", {}).get(
                "ExecStart") == quoted["Service"]["ExecStart"]]
            self.assertEqual(len(matches), 1, quoted["Service"]["ExecStart"])
            unit = self.units[matches[0]]
            for section, keys in quoted.items():
                for key, values in keys.items():
                    self.assertEqual(unit.get(section, {}).get(key), values,
                                     f"{matches[0]}: [{section}] {key}")

    def test_the_job_counts_not_acquired_a_success_and_retries_what_may_pass(self):
        c = self.codes
        unit = self.units[JOB]
        self.assertEqual(unit["Service"]["Type"], ["oneshot"])
        self.assertEqual(unit["Service"]["Restart"], ["on-failure"])
        self.assertIn(c["kExitNotAcquired"], statuses(unit, "SuccessExitStatus"))
        # One attempt: a host that waited would run the job again once the first is done.
        self.assertEqual(option(self.exec_start(JOB), "--wait"), "0")
        prevent = statuses(unit, "RestartPreventExitStatus")
        for name in ("kExitUsage", "kExitStale", "kExitCannotExecute", "kExitCommandNotFound"):
            self.assertIn(c[name], prevent, name)
        for name in ("kExitUnavailable", "kExitLost"):  # retried, as docs/operations.md says
            self.assertNotIn(c[name], prevent, name)
            self.assertNotIn(c[name], statuses(unit, "SuccessExitStatus"), name)

    def test_the_leader_restarts_after_a_loss_but_not_after_a_usage_error(self):
        c = self.codes
        unit = self.units[LEADER]
        self.assertEqual(unit["Service"]["Restart"], ["always"])
        prevent = statuses(unit, "RestartPreventExitStatus")
        for name in ("kExitUsage", "kExitCannotExecute", "kExitCommandNotFound"):
            self.assertIn(c[name], prevent, name)
        for name in ("kExitLost", "kExitUnavailable", "kExitNotAcquired"):
            self.assertNotIn(c[name], prevent, name)
        self.assertNotIn(c["kExitLost"], statuses(unit, "SuccessExitStatus"))

    def test_each_service_runs_its_command_under_its_lock(self):
        for name in (JOB, LEADER):
            with self.subTest(unit=name):
                argv = self.exec_start(name)
                lock = option(argv, "run")
                marker = self.path(f"ran-{name}")
                r = subprocess.run(self.runnable(argv, job_script(self.tmp.name, marker)),
                                   env=self.env, capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                with open(marker) as f:
                    ran_under, token = f.read().split()
                self.assertEqual(ran_under, lock)
                self.assertGreater(int(token), 0)

    def test_a_second_host_of_the_job_exits_with_a_status_the_unit_counts_a_success(self):
        argv = self.exec_start(JOB)
        holder, _ = self.hold(option(argv, "run"))
        marker = self.path("ran-second")
        r = subprocess.run(self.runnable(argv, job_script(self.tmp.name, marker)),
                           env=self.env, capture_output=True, text=True, timeout=60)
        self.assertIn(r.returncode, statuses(self.units[JOB], "SuccessExitStatus"), r.stderr)
        self.assertEqual(r.returncode, self.codes["kExitNotAcquired"], r.stderr)
        self.assertFalse(os.path.exists(marker), "the job ran on the second host too")
        self.assertIsNone(holder.poll())


class CronExampleTest(DlockTestCase):
    def setUp(self):
        super().setUp()
        env_lines, jobs = [], []
        with open(CRON_FILE) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
                    env_lines.append(line)
                else:
                    jobs.append(line.split(None, 6))
        self.assertTrue(any(e.startswith("DLOCK_BACKEND=") for e in env_lines), env_lines)
        self.assertEqual(len(jobs), 1, jobs)
        self.assertEqual(len(jobs[0]), 7, "5 time fields, a user and the command")
        self.assertEqual(jobs[0][5], "root")
        self.command = jobs[0][6]
        self.assertNotIn("%", self.command)  # cron would make it a newline
        self.assertTrue(self.command.startswith("/usr/bin/dlock "), self.command)
        self.log = self.path("nightly-report.log")
        self.marker = self.path("ran")
        argv = shlex.split(self.command.split(";")[0])
        self.lock = option(argv, "run")
        # One attempt: a host that waited would run the job again once the first is done.
        self.assertEqual(option(argv, "--wait"), "0", self.command)

    def cron(self, job_status=0):
        """Runs the cron line as cron would (/bin/sh -c); returns (status, output)."""
        command = self.command
        for installed, here in (("/usr/bin/dlock", DLOCK),
                                ("/usr/local/bin/nightly-report",
                                 job_script(self.tmp.name, self.marker, job_status)),
                                ("/var/log/nightly-report.log", self.log)):
            self.assertIn(installed, command)
            command = command.replace(installed, here)
        r = subprocess.run(["/bin/sh", "-c", command], env=self.env, capture_output=True,
                           text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def test_the_doc_quotes_the_cron_file_as_it_is(self):
        with open(CRON_FILE) as f:
            lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
        self.assertIn(lines, doc_blocks("sh"))

    def test_a_run_that_took_the_lock_prints_nothing_and_logs_the_job(self):
        self.assertEqual(self.cron(), (0, ""))
        with open(self.marker) as f:
            self.assertEqual(f.read().split()[0], self.lock)
        self.assertIn("the job ran", self.read_log())

    def test_a_host_that_found_the_lock_held_prints_nothing(self):
        holder, _ = self.hold(self.lock)
        self.assertEqual(self.cron(), (0, ""))
        self.assertFalse(os.path.exists(self.marker), "the job ran on the second host too")
        self.assertIn("is held by", self.read_log())
        self.assertIsNone(holder.poll())

    def test_a_failed_job_prints_its_exit_code_for_cron_to_mail(self):
        status, output = self.cron(job_status=3)
        self.assertEqual(status, 0)
        self.assertIn("failed with exit code 3", output)
        self.assertEqual(len(output.splitlines()), 1, output)


if __name__ == "__main__":
    unittest.main()
