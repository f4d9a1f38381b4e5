#!/usr/bin/env python3
"""check_headers.py INCLUDE_DIR: fails, naming each header and line, if a header under
INCLUDE_DIR/dlock

- includes anything but a C++ standard library header (<vector>) or a dlock header that
  exists ("dlock/x.h"): no third-party header (hiredis, gRPC, the ZooKeeper client, Asio,
  fmt, nlohmann, prometheus-cpp) and no private one (src/), so that a consumer of dlock's
  headers needs only them and a C++20 compiler. dlock/prometheus.h forward declares
  prometheus::Registry, so it needs no exception;
- or has no include guard: its first directives #ifndef G and #define G, its last
  #endif (or #pragma once first). Including a header twice (dlock_header_check) fails
  without a guard only if the header defines something.

See tests/headers/CMakeLists.txt.
"""
import os
import re
import sys

# The C++20 standard library headers, the C compatibility ones included (<cstdint>), the
# C ones (<stdint.h>) not.
STD_HEADERS = set("""
algorithm any array atomic barrier bit bitset charconv chrono codecvt compare complex
concepts condition_variable coroutine deque exception execution filesystem format
forward_list fstream functional future initializer_list iomanip ios iosfwd iostream
istream iterator latch limits list locale map memory memory_resource mutex new numbers
numeric optional ostream queue random ranges ratio regex scoped_allocator semaphore set
shared_mutex source_location span sstream stack stdexcept stop_token streambuf string
string_view strstream syncstream system_error thread tuple type_traits typeindex
typeinfo unordered_map unordered_set utility valarray variant vector version
cassert cctype cerrno cfenv cfloat cinttypes climits clocale cmath csetjmp csignal
cstdarg cstddef cstdint cstdio cstdlib cstring ctime cuchar cwchar cwctype
""".split())

DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*?)\s*$")


def include_problem(include_dir, argument):
    """Why `#include ARGUMENT` may not be in a public header, or None."""
    m = re.fullmatch(r"<([^>]+)>", argument)
    if m:
        return None if m.group(1) in STD_HEADERS else "not a C++ standard library header"
    m = re.fullmatch(r'"(dlock/[^"]+)"', argument)
    if m:
        if os.path.isfile(os.path.join(include_dir, m.group(1))):
            return None
        return "no such public header"
    return 'not a public dlock header ("dlock/...")'


def has_guard(directives):
    """Whether [(line, name, rest)] of a header make an include guard."""
    if directives and directives[0][1:] == ("pragma", "once"):
        return True
    if len(directives) < 3 or directives[0][1] != "ifndef":
        return False
    guard = directives[0][2]
    return directives[1][1:] == ("define", guard) and directives[-1][1] == "endif"


def problems(include_dir):
    """["PATH:LINE: what is wrong"] for the headers under include_dir/dlock."""
    headers = []
    for root, _, files in os.walk(os.path.join(include_dir, "dlock")):
        headers += [os.path.join(root, f) for f in files if f.endswith(".h")]
    if not headers:
        return [f"{include_dir}/dlock: no headers"]
    out = []
    for path in sorted(headers):
        directives = []
        with open(path) as f:
            for number, line in enumerate(f, 1):
                m = DIRECTIVE.match(line)
                if not m:
                    continue
                directives.append((number, m.group(1), m.group(2)))
                if m.group(1) == "include":
                    why = include_problem(include_dir, m.group(2))
                    if why:
                        out.append(f"{path}:{number}: {line.strip()}: {why}")
        if not has_guard(directives):
            out.append(f"{path}:1: no include guard (#ifndef G, #define G first, #endif last)")
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: check_headers.py INCLUDE_DIR", file=sys.stderr)
        return 2
    found = problems(argv[1])
    for p in found:
        print(p)
    if found:
        print(f"{len(found)} problems in the public headers: includes that name neither a "
              "C++ standard library header nor a public dlock header, or no include guard")
        return 1
    print("every public header is guarded and includes only standard and dlock headers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
