#!/usr/bin/env python3
"""`dlock acquire`, `extend` and `release` on the file backend: a lease held across
processes by its owner id.
"""
import json
import subprocess
import unittest

from cli_util import DLOCK, DlockTestCase


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


if __name__ == "__main__":
    unittest.main(verbosity=2)
