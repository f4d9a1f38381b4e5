#!/usr/bin/env python3
"""Safety under faults: real stores, several `dlock run` clients writing a fenced
register, one fault at a time, and checks on the recorded history.

  fault_suite.py --smoke            each fault once per backend (CI: a few minutes)
  fault_suite.py --duration 30m     random faults until the time is up (soak)

Checks, per backend and fault (see docs/semantics.md for what each store promises):
  - the register never accepted a token lower than one it had accepted (zero stale
    writes accepted), and a stale holder's writes were rejected;
  - tokens strictly increase across grants, in the order the grants began;
  - no two runs that ended normally (exit 0: never lost) overlap in time;
  - a holder paused past its TTL learns the loss: its `dlock run` exits 76 and its
    command got SIGTERM;
  - after a holder is killed, the next grant comes within TTL + a small bound;
  - at the end nothing is left held.
Prints one table; exits 1 if any check failed.
"""
import argparse
import glob
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from servers import EtcdServer, RedisServer, ZkServer  # noqa: E402

ROOT = os.path.join(HERE, "..", "..")
# DLOCK_BIN, or the binary of scripts/test.sh's build, or another build of the tree.
DLOCK = os.environ.get("DLOCK_BIN") or next(
    (p for p in (os.path.join(ROOT, "build", d, "cli", "dlock") for d in ("test", ".", "demo"))
     if os.path.exists(p)), "dlock")
TTL = 2.0          # seconds, every lease
HOLD = 0.05        # seconds in the critical section
WORKERS = 3        # concurrent `dlock run` loops
RECOVERY_BOUND = 1.5  # seconds past the TTL within which a killed holder's lock is free
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"  # Debian's faketime
# Redis that keeps acknowledged writes across a kill (the documented assumption).
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")


class DelayProxy:
    """A TCP proxy on a free loopback port in front of `port` that can hold every reply
    for `delay` seconds (a slow network or store, replies arriving late)."""

    def __init__(self, port):
        self.target, self.delay = port, 0.0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                continue
            for a, b, late in ((client, server, False), (server, client, True)):
                threading.Thread(target=self.pump, args=(a, b, late), daemon=True).start()

    def pump(self, src, dst, late):
        pending = queue.Queue()

        def deliver():
            while True:
                due, data = pending.get()
                if data is None:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    dst.sendall(data)
                except OSError:
                    break
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=deliver, daemon=True).start()
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            pending.put((time.monotonic() + (self.delay if late else 0.0), data or None))
            if not data:
                return


class Backend:
    """A store for the suite: its URI and the faults that apply to it. `proxy`: the
    clients reach the store through it (for late replies)."""

    def __init__(self, name, uri, servers, proxy=None, volatile=False):
        self.name, self.uri, self.servers, self.proxy = name, uri, servers, proxy
        self.volatile = volatile  # loses its data on restart: a documented limitation

    def faults(self):
        if self.volatile:
            return ["store-restart"]
        out = ["holder-pause", "holder-kill", "clock-jump"]
        if self.servers:
            out += ["store-pause", "store-restart"]
        if self.proxy:
            out += ["late-replies"]
        return out

    def stop(self):
        for s in self.servers:
            s.stop()


def make_backends(workdir, which):
    def sub(name):
        d = os.path.join(workdir, name)
        os.makedirs(d)
        return d
    made = []
    for name in which:
        if name == "file":
            made.append(Backend("file", "file://" + sub("file"), []))
        elif name == "redis":
            r = RedisServer(sub("redis"), *DURABLE)
            proxy = DelayProxy(r.port)
            made.append(Backend("redis", f"redis://127.0.0.1:{proxy.port}?timeout=5s", [r],
                                proxy=proxy))
        elif name == "redis-volatile":
            # No persistence: a restart forgets locks and counters (semantics.md says so).
            r = RedisServer(sub("redis-volatile"))
            made.append(Backend("redis-volatile", r.uri(), [r], volatile=True))
        elif name == "redlock":
            rs = [RedisServer(sub(f"redlock{i}"), *DURABLE) for i in range(5)]
            hosts = ",".join(f"127.0.0.1:{r.port}" for r in rs)
            made.append(Backend("redlock", f"redlock://{hosts}?timeout=300ms", rs))
        elif name == "zk":
            z = ZkServer(sub("zk"))
            proxy = DelayProxy(z.port)
            made.append(Backend("zk", f"zk://127.0.0.1:{proxy.port}/fault", [z], proxy=proxy))
        elif name == "etcd":
            e = EtcdServer(sub("etcd"))
            proxy = DelayProxy(e.port)
            made.append(Backend("etcd", f"etcd://127.0.0.1:{proxy.port}", [e], proxy=proxy))
    return made


class Run:
    """The clients of one backend and fault: WORKERS loops of `dlock run`."""

    def __init__(self, backend, register, workdir, lock, clock_file=None):
        self.backend, self.register, self.lock = backend, register, lock
        self.log = os.path.join(workdir, f"{backend.name}-{lock}.jsonl")
        self.env = dict(os.environ)
        if clock_file:
            # The clients' wall clocks follow `clock_file` (libfaketime); their monotonic
            # clocks do not move, as a wall-clock step by NTP or an operator would not.
            self.env.update(LD_PRELOAD=FAKETIME, FAKETIME_TIMESTAMP_FILE=clock_file,
                            FAKETIME_NO_CACHE="1", DONT_FAKE_MONOTONIC="1")
        self.exits = []  # (dlock pid, exit code, monotonic time)
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.loop) for _ in range(WORKERS)]

    def loop(self):
        while not self.stopping.is_set():
            p = subprocess.Popen(
                [DLOCK, "--backend", self.backend.uri, "run", self.lock, "--ttl", f"{TTL}s",
                 "--wait", "30s", "--grace", "3s", "--", "env", "-u", "LD_PRELOAD", sys.executable,
                 os.path.join(HERE, "child.py"), str(self.register.port), self.log, str(HOLD)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=self.env)
            _, err = p.communicate()
            self.exits.append((p.pid, p.returncode, time.monotonic(), err.strip()))

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)

    def holder(self, limit=10.0):
        """The pids of a child in its critical section and of its `dlock run`."""
        give_up = time.monotonic() + limit
        while time.monotonic() < give_up:
            for path in glob.glob(self.log + ".holding.*"):
                try:
                    with open(path) as f:
                        me = json.load(f)
                    return me["pid"], me["dlock_pid"]
                except (OSError, ValueError):
                    continue
            time.sleep(0.005)
        raise RuntimeError("no holder seen")

    def grants(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def inject(fault, run, backend, rng):
    """Injects `fault` once; returns what the checks need to know about it."""
    info = {"fault": fault, "t": time.monotonic()}
    if fault == "holder-pause":
        child, dlock = run.holder()
        signal_all([dlock, child], signal.SIGSTOP)
        info.update(t=time.monotonic(), dlock=dlock)
        time.sleep(TTL + 1.5)
        signal_all([dlock, child], signal.SIGCONT)
    elif fault == "holder-kill":
        child, dlock = run.holder()
        signal_all([dlock, child], signal.SIGKILL)
        info.update(t=time.monotonic(), dlock=dlock)
    elif fault == "store-pause":
        # Redlock: two of the five instances (a minority); otherwise the store; half a TTL.
        victims = backend.servers[:1] if backend.name != "redlock" else \
            rng.sample(backend.servers, 2)
        for s in victims:
            s.pause()
        time.sleep(TTL / 2)
        for s in victims:
            s.resume()
    elif fault == "clock-jump":
        # The clients' wall clocks jump 2 h ahead, then 1 h behind the real time.
        for offset in ("+2h", "-1h", "+0"):
            with open(run.clock_file, "w") as f:
                f.write(offset + "\n")
            time.sleep(TTL * 1.5)
    elif fault == "late-replies":
        # Every reply three quarters of a TTL late, for two TTLs: grants arrive after
        # much of their validity, renewals late; nothing may overlap.
        backend.proxy.delay = TTL * 0.75
        time.sleep(TTL * 2)
        backend.proxy.delay = 0.0
    elif fault == "store-restart":
        victims = backend.servers[:1] if backend.name != "redlock" else \
            rng.sample(backend.servers, 2)
        for s in victims:
            s.restart()
    return info


def check(run, info, failures):
    """Checks the history of one run; returns a row of figures. A volatile store's
    restart is a documented limitation: its problems are reported, not failed."""
    problems = []
    grants = run.grants()
    by_start = sorted(grants, key=lambda g: g["t0"])
    tokens = [g["token"] for g in by_start]
    increasing = all(a < b for a, b in zip(tokens, tokens[1:]))
    if not increasing:
        problems.append(f"{run.backend.name}/{info['fault']}: tokens not increasing: {tokens}")
    accepted = [int(x.split()[0]) for x in run.register.cli("LRANGE", f"register:accepted",
                                                           "0", "-1").split("\n") if x]
    stale_accepted = sum(1 for a, b in zip(accepted, accepted[1:]) if b < a)
    if stale_accepted:
        problems.append(f"{run.backend.name}/{info['fault']}: {stale_accepted} stale writes "
                        "accepted")
    rejected = len([x for x in run.register.cli("LRANGE", "register:rejected", "0",
                                                "-1").split("\n") if x])
    normal = {pid for pid, code, _, _ in run.exits if code == 0}
    clean = [g for g in by_start if g["dlock_pid"] in normal]
    overlaps = sum(1 for a, b in zip(clean, clean[1:]) if b["t0"] < a["t1"])
    if overlaps:
        problems.append(f"{run.backend.name}/{info['fault']}: {overlaps} overlapping grants")
    # A run that starts while the store is down or restarting exits 69 (unreachable), as
    # documented; under the other faults the store is up and 69 is an error.
    store_fault = info["fault"].startswith("store-") or info["fault"] == "late-replies"
    allowed = (0, 76, 69) if store_fault else (0, 76)
    errors = [(code, err) for pid, code, _, err in run.exits
              if code not in allowed and pid != info.get("dlock")]  # not the one we killed
    unreachable = sum(1 for _, code, _, _ in run.exits if code == 69)
    if errors:
        problems.append(f"{run.backend.name}/{info['fault']}: runs failed: {errors[:3]}")
    lost = sum(1 for _, code, _, _ in run.exits if code == 76)
    row = {"backend": run.backend.name, "fault": info["fault"], "grants": len(grants),
           "lost": lost, "unreachable": unreachable,
           "stale_rejected": rejected, "stale_accepted": stale_accepted,
           "overlaps": overlaps, "detect_s": "", "recover_s": ""}
    if info["fault"] == "holder-pause":
        mine = [(code, t) for pid, code, t, _ in run.exits if pid == info["dlock"]]
        child = [g for g in grants if g["dlock_pid"] == info["dlock"]]
        # Its command is signalled unless it had already finished when dlock noticed.
        signalled = child and (child[0]["signalled"] or (mine and child[0]["t1"] < mine[0][1]))
        if not mine or mine[0][0] != 76 or not signalled:
            problems.append(f"{run.backend.name}/holder-pause: the paused holder did not exit "
                            f"76 with its command signalled ({mine}, {child})")
        else:
            # From the resume (pause start + TTL + 1.5 s) to dlock's exit 76.
            row["detect_s"] = f"{mine[0][1] - (info['t'] + TTL + 1.5):.2f}"
    if info["fault"] == "holder-kill":
        after = [g["t0"] for g in grants if g["t0"] > info["t"]]
        if not after:
            problems.append(f"{run.backend.name}/holder-kill: no grant after the kill")
        else:
            recover = min(after) - info["t"]
            row["recover_s"] = f"{recover:.2f}"
            if recover > TTL + RECOVERY_BOUND:
                problems.append(f"{run.backend.name}/holder-kill: the lock came back after "
                                f"{recover:.2f}s (TTL {TTL}s + {RECOVERY_BOUND}s)")
    held = subprocess.run([DLOCK, "--backend", run.backend.uri, "inspect", run.lock, "--json"],
                          capture_output=True, text=True)
    if held.returncode != 0 or json.loads(held.stdout)["held"]:
        problems.append(f"{run.backend.name}/{info['fault']}: lock left held or inspect failed: "
                        f"{held.stdout or held.stderr}")
    documented = run.backend.volatile and info["fault"] == "store-restart"
    row["note"] = ("documented: " + "; ".join(p.split(": ", 1)[1][:60] for p in problems)
                   if documented and problems else "")
    if not documented:
        failures.extend(problems)
    return row


def scenario(backend, fault, register, workdir, rng, index):
    register.cli("DEL", "register", "register:accepted", "register:rejected")
    clock_file = None
    if fault == "clock-jump":
        clock_file = os.path.join(workdir, f"clock-{index}")
        with open(clock_file, "w") as f:
            f.write("+0\n")
    run = Run(backend, register, workdir, f"fault-{index}", clock_file)
    run.clock_file = clock_file
    run.start()
    try:
        time.sleep(1.0)  # some grants before the fault
        info = inject(fault, run, backend, rng)
        time.sleep(TTL + 2.0)  # and after it, to see the recovery
    finally:
        run.stop()
    return run, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="each fault once per backend")
    ap.add_argument("--duration", default="0", help="soak: random faults for this long "
                    "(e.g. 30m)")
    ap.add_argument("--backends", default="file,redis,redlock,zk,etcd,redis-volatile")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    units = {"s": 1, "m": 60, "h": 3600}
    d = args.duration
    soak = float(d[:-1]) * units[d[-1]] if d[-1] in units else float(d)
    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="dlock-fault-") as workdir:
        os.makedirs(os.path.join(workdir, "register"))
        register = RedisServer(os.path.join(workdir, "register"))
        backends = make_backends(workdir, args.backends.split(","))
        try:
            plan = [(b, f) for b in backends for f in b.faults()]
            index = 0
            end = time.monotonic() + soak
            while plan:
                b, f = plan.pop(0)
                run, info = scenario(b, f, register, workdir, rng, index)
                rows.append(check(run, info, failures))
                index += 1
                if not plan and not args.smoke and time.monotonic() < end:
                    plan = [rng.choice([(b, f) for b in backends for f in b.faults()])]
        finally:
            for b in backends:
                b.stop()
            register.stop()
    cols = ["backend", "fault", "grants", "lost", "unreachable", "stale_rejected",
            "stale_accepted", "overlaps", "detect_s", "recover_s", "note"]
    print(f"fault suite (seed {seed}, TTL {TTL}s, {WORKERS} clients, hold {HOLD}s)")
    print(" | ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print(" | ".join(f"{str(r[c]):>14}" for c in cols))
    print("lost: runs that exited 76 (the lock was lost under them); unreachable: runs that "
          "exited 69 (started while the store was down); stale_rejected: writes "
          "the register refused (a token lower than one it had seen); detect_s: from the "
          "paused holder's resume to its exit 76; recover_s: from killing the holder to the "
          "next grant")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
