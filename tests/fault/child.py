#!/usr/bin/env python3
"""The critical section of one grant, run by `dlock run` in the fault suite.

Writes its fencing token to the fenced register twice (at the start and the end of a
short hold) and appends one JSON line about itself to LOG. A SIGTERM (the lock was
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
import sys
import time

host, _, port = sys.argv[1].rpartition(":")
host, port, log, hold = host or "127.0.0.1", int(port), sys.argv[2], sys.argv[3]
token = int(os.environ["DLOCK_FENCING_TOKEN"])
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

# KEYS[1] the register; ARGV: token, writer. Accepts a token at least the highest seen.
SCRIPT = """
local top = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = tonumber(ARGV[1])
if t < top then
  redis.call('RPUSH', KEYS[1] .. ':rejected', ARGV[1] .. ' ' .. ARGV[2])
  return 0
end
redis.call('SET', KEYS[1], t)
redis.call('RPUSH', KEYS[1] .. ':accepted', ARGV[1] .. ' ' .. ARGV[2])
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
        s.sendall(command("EVAL", SCRIPT, 1, "register", token, f"{os.getpid()}:{phase}"))
        reply = s.makefile("rb").readline()
    return reply.strip() == b":1"


me = {"pid": os.getpid(), "dlock_pid": os.getppid(), "token": token}
marker = f"{log}.holding.{os.getpid()}"
with open(marker, "w") as f:
    f.write(json.dumps(me))
me["t0"] = time.monotonic()
me["start_ok"] = write("start")
hold_on()
me["end_ok"] = write("end")
me["t1"] = time.monotonic()
me["signalled"] = bool(signalled)
me["signalled_t"] = signalled[0] if signalled else None
os.unlink(marker)
with open(log, "a") as f:
    f.write(json.dumps(me) + "\n")
