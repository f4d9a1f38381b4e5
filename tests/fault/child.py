#!/usr/bin/env python3
"""The critical section of one grant, run by `dlock run` in the fault suite.

Writes its fencing token to the fenced register twice (at the start and the end of a
short hold), each time also through dlock's own guards (`dlock fence`, to the resources
of DLOCK_FAULT_GUARDS: see tests/fault/guards.py), and appends one JSON line about
itself to LOG. A SIGTERM (the lock was
lost) is noted but does not stop it before its last write: it plays a holder that does
not stop in time, which only the fencing token can stop.

usage: child.py [REGISTER_HOST:]REGISTER_PORT LOG HOLD
  HOLD: seconds, or "signal:MAX:LINGER": hold until a SIGTERM and LINGER seconds more
  (at most MAX seconds in all), a holder that learns of its loss and writes once more.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

host, _, port = sys.argv[1].rpartition(":")
host, port, log, hold = host or "127.0.0.1", int(port), sys.argv[2], sys.argv[3]
token = int(os.environ["DLOCK_FENCING_TOKEN"])
# This grant's name in every history: the pid alone repeats in a long run (pid_max is
# 32768 here, and each grant starts a dozen processes), and a guard's history keyed by a
# writer's name (etcd keys, ZooKeeper nodes: a create of an existing node sets it) would
# then show a later grant's token in an earlier one's place.
WRITER = f"{os.getpid()}.{time.time_ns()}"
signalled = []
signal.signal(signal.SIGTERM, lambda *_: signalled.append(time.monotonic()))


def hold_on():
    if not hold.startswith("signal:"):
        time.sleep(float(hold))
        return
    _, most, linger = hold.split(":")
    give_up = time.monotonic() + float(most)
    while time.monotonic() < give_up:
        if signalled and time.monotonic() >= signalled[0] + float(linger):
            return
        time.sleep(0.01)

# KEYS[1] the register; ARGV: token, writer. Accepts a token at least the highest seen;
# KEYS[1]:log has every write in the order the register saw it.
SCRIPT = """
local top = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = tonumber(ARGV[1])
if t < top then
  redis.call('RPUSH', KEYS[1] .. ':rejected', ARGV[1] .. ' ' .. ARGV[2])
  redis.call('RPUSH', KEYS[1] .. ':log', ARGV[1] .. ' ' .. ARGV[2] .. ' rejected')
  return 0
end
redis.call('SET', KEYS[1], t)
redis.call('RPUSH', KEYS[1] .. ':accepted', ARGV[1] .. ' ' .. ARGV[2])
redis.call('RPUSH', KEYS[1] .. ':log', ARGV[1] .. ' ' .. ARGV[2] .. ' accepted')
return 1
"""


def command(*args):
    out = f"*{len(args)}\r\n"
    for a in args:
        a = str(a)
        out += f"${len(a.encode())}\r\n{a}\r\n"
    return out.encode()


def write(phase):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(command("EVAL", SCRIPT, 1, "register", token, f"{WRITER}:{phase}"))
        reply = s.makefile("rb").readline()
    return reply.strip() == b":1"


# The guards: the same write through `dlock fence` (the token from DLOCK_FENCING_TOKEN),
# to each resource of DLOCK_FAULT_GUARDS (tests/fault/guards.py).
DLOCK = os.environ["DLOCK_FAULT_DLOCK"]
GUARDS = json.loads(os.environ["DLOCK_FAULT_GUARDS"])


def guarded(phase):
    """Appends "TOKEN WRITER" to each guard's history through `dlock fence`; returns their
    exit codes by guard (0 applied, 77 refused as stale). Like this process, they ignore
    the SIGTERM that a loss sends the group: a holder too slow to stop, which only the
    guards can stop."""
    writer = f"{WRITER}-{phase}"
    line = f"{token} {writer}"
    codes = {}
    for g in GUARDS:
        write = [w.replace("{line}", line).replace("{token}", str(token))
                 .replace("{writer}", writer) for w in g["write"]]
        codes[g["guard"]] = subprocess.run(
            [DLOCK, "fence", g["store"], g["resource"], "--", *write],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN)).returncode
    return codes


me = {"pid": os.getpid(), "dlock_pid": os.getppid(), "token": token}
marker = f"{log}.holding.{os.getpid()}"
with open(marker, "w") as f:
    f.write(json.dumps(me))
me["t0"] = time.monotonic()
me["start_ok"] = write("start")
me["guards_start"] = guarded("start")
hold_on()
me["end_ok"] = write("end")
me["guards_end"] = guarded("end")
me["t1"] = time.monotonic()
me["signalled"] = bool(signalled)
me["signalled_t"] = signalled[0] if signalled else None
os.unlink(marker)
with open(log, "a") as f:
    f.write(json.dumps(me) + "\n")
