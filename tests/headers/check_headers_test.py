#!/usr/bin/env python3
"""check_headers.py itself: on testdata/include it must fail and name each bad include
of dlock/bad.h and the header without a guard, and name nothing good."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "testdata", "include")


class CheckHeadersTest(unittest.TestCase):
    def test_it_refuses_each_bad_include_and_header_of_testdata(self):
        r = subprocess.run([sys.executable, os.path.join(HERE, "check_headers.py"), TESTDATA],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        bad = os.path.join(TESTDATA, "dlock", "bad.h")
        unguarded = os.path.join(TESTDATA, "dlock", "unguarded.h")
        self.assertEqual(r.stdout.splitlines(), [
            f"{bad}:10: #include <hiredis/hiredis.h>: not a C++ standard library header",
            f'{bad}:11: #include "dlock/nonexistent.h": no such public header',
            f'{bad}:12: #include "core/thread_annotations.h": not a public dlock header '
            '("dlock/...")',
            f"{unguarded}:1: no include guard (#ifndef G, #define G first, #endif last)",
            "4 problems in the public headers: includes that name neither a C++ standard "
            "library header nor a public dlock header, or no include guard",
        ])


if __name__ == "__main__":
    unittest.main()
