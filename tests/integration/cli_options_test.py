#!/usr/bin/env python3
"""The command line itself: every malformed argument of every command is one line and
exit 64, --version, bad lock directories, odd names, and the default backend.
"""
import os
import unittest

from cli_util import DlockTestCase


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
        ("", "--backend", ["--backend", "file:///tmp/x?drift_factor=-1", "inspect", "a"],
         "drift factor -1 is not a number from 0 to 0.5"),
        ("", "--backend", ["--backend", "zk://h?drift_factor=nan", "inspect", "a"],
         "drift factor nan is not"),
        ("", "--backend", ["--backend", "etcd://h?drift_ms=2.5", "inspect", "a"],
         "drift_ms takes a whole number of milliseconds"),
        ("", "--backend", ["--backend", "redlock://h1,h2,h3?drift_ms=3600000", "inspect", "a"],
         "drift of 3600000 ms is not from 0 to 60000 ms"),
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
        ("run", "name", ["run", "a", "b", "a", "--", "true"], "'a' is listed twice"),
        ("run", "name", ["run", "a", "b\x01", "--", "true"], "control character"),
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

    def test_help_usage_names_the_program(self):
        for command, usage in [("", "Usage: dlock [OPTIONS] SUBCOMMAND"),
                               ("run", "Usage: dlock run [OPTIONS] name...")]:
            code, out, err = self.dlock(*([command] if command else []), "--help")
            self.assertEqual(code, 0, err)
            lines = [l for l in out.splitlines() if l.startswith("Usage:")]
            self.assertEqual(lines[:1], [usage], out)

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
