"""Checks what a shared dlock exports (scripts/check-install.sh): every dynamic symbol a
libdlock_*.so defines must belong to the public API of include/dlock/, and each library
must export something. The one exception: libdlock_core exports the few functions of
dlock::internal that dlock's backends call (src/core/lease_rules.h, lock_record.h,
async_scope.h; their headers are not installed). Internal namespaces (dlock::internal, dlock::redis, ...), classes
of src/ that are not in include/dlock/, and copies of third-party code (Asio, gRPC's
generated etcd code, fmt, nlohmann) are refused.
  python3 check_exports.py INCLUDE_DIR LIB.so...
Exit 0 if clean, 1 with one line per offending symbol."""
import glob
import os
import re
import subprocess
import sys

include_dir, libs = sys.argv[1], sys.argv[2:]
public = set()
for header in glob.glob(os.path.join(include_dir, "dlock", "**", "*.h"), recursive=True):
    with open(header) as f:
        public.update(re.findall(r"\b[A-Za-z_]\w*\b", f.read()))

# What an exported C++ symbol names, after these prefixes.
prefixes = ("vtable for ", "typeinfo for ", "typeinfo name for ", "VTT for ",
            "non-virtual thunk to ", "virtual thunk to ", "guard variable for ")
bad = []
for lib in libs:
    out = subprocess.run(["nm", "-D", "--defined-only", "-C", lib], check=True,
                         capture_output=True, text=True).stdout
    exported = 0
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2]
        for p in prefixes:
            if name.startswith(p):
                name = name[len(p):]
                break
        if not name.startswith("dlock::"):
            # Weak instantiations of standard templates over public types are fine
            # (every user makes the same); a strong symbol of anyone else's is not.
            # (a function template's name starts with its return type).
            if kind in "VwWu" and re.match(r"^(\S+ )?std::", name):
                continue
            bad.append(f"{os.path.basename(lib)}: {kind} {name}")
            continue
        rest = name[len("dlock::"):]
        if rest.startswith("internal::") and os.path.basename(lib).startswith("libdlock_core."):
            continue
        for ns in ("fence::", "testing::"):
            if rest.startswith(ns):
                rest = rest[len(ns):]
                break
        first = re.match(r"[A-Za-z_]\w*", rest)
        if not first or first.group(0) not in public or first.group(0)[0].islower() \
                and first.group(0) + "::" == rest[: len(first.group(0)) + 2]:
            bad.append(f"{os.path.basename(lib)}: {kind} {name}")
            continue
        exported += 1
    if exported == 0:
        bad.append(f"{os.path.basename(lib)}: exports nothing of dlock's API")
for b in bad:
    print("not public API:", b)
sys.exit(1 if bad else 0)
