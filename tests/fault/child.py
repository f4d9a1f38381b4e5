#!/usr/bin/env python3
"""The critical section of one grant, run by `dlock run` in the fault suite.

Writes its fencing token to the fenced register twice (at the start and the end of a
short hold) and appends one JSON line about itself to LOG. A SIGTERM (the lock was
lost) is noted but does not stop it before its last write: it plays a holder that does
not stop in time, which only the fencing token can stop.

usage: child.py REGISTER_PORT LOG HOLD_SECONDS
"""
import json
import os
import signal
import socket
import sys
import time

port, log, hold = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
token = int(os.environ["DLOCK_FENCING_TOKEN"])
signalled = []
signal.signal(signal.SIGTERM, lambda *_: signalled.append(time.monotonic()))

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
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(command("EVAL", SCRIPT, 1, "register", token, f"{os.getpid()}:{phase}"))
        reply = s.makefile("rb").readline()
    return reply.strip() == b":1"


me = {"pid": os.getpid(), "dlock_pid": os.getppid(), "token": token}
marker = f"{log}.holding.{os.getpid()}"
with open(marker, "w") as f:
    f.write(json.dumps(me))
me["t0"] = time.monotonic()
me["start_ok"] = write("start")
time.sleep(hold)
me["end_ok"] = write("end")
me["t1"] = time.monotonic()
me["signalled"] = bool(signalled)
os.unlink(marker)
with open(log, "a") as f:
    f.write(json.dumps(me) + "\n")
