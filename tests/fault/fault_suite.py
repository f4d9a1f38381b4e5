#!/usr/bin/env python3
"""Safety under faults: real stores, several `dlock run` clients writing a fenced
register, one fault at a time, and checks on the recorded history.

  fault_suite.py --smoke            each fault once per backend (CI: a few minutes)
  fault_suite.py --duration 30m     random faults until the time is up (soak)
  fault_suite.py --failovers 50 --backends redis-sentinel,redis-cluster
                                    50 forced failovers in a row, 4 clients, one lock
                                    name and one register, the whole history checked

Checks, per backend and fault (see docs/semantics.md for what each store promises):
  - the register never accepted a token lower than one it had accepted (zero stale
    writes accepted), and a stale holder's writes were rejected; nor did dlock's own
    guards, through which every write also goes (`dlock fence` to Redis, PostgreSQL,
    etcd, ZooKeeper and a file: tests/fault/guards.py);
  - tokens strictly increase across grants, in the order the grants began;
  - no two runs that ended normally (exit 0: never lost) overlap in time;
  - a holder paused past its TTL learns the loss: its `dlock run` exits 76 and its
    command got SIGTERM;
  - a holder cut off from the store by a network partition (a network namespace, a veth
    pair and nft drop rules; root) learns the loss within its TTL and its command gets
    SIGTERM; one cut off from only two of Redlock's five instances keeps the lock;
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
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from servers import (EtcdServer, RedisClusterSet, RedisSentinelSet, RedisServer,  # noqa: E402
                     ZkServer, await_condition)
from guards import Guards, stale_accepted as guard_stale_writes  # noqa: E402

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
    """A TCP proxy on `host`:`listen_port` (default: a free loopback port) in front of
    127.0.0.1:`port` that can hold every reply for `delay` seconds (a slow network or
    store, replies arriving late)."""

    def __init__(self, port, host="127.0.0.1", listen_port=0):
        self.target, self.delay = port, 0.0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, listen_port))
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


class Partition:
    """A network namespace joined to this one by a veth pair, for a client that can be
    cut off from the store. The stores listen on loopback; forwarders on the host end of
    the pair, at the same port numbers, let the namespace reach them. cut() makes nft in
    the namespace drop the TCP traffic to and from the given ports (the store's, not
    the register's); heal() removes the rule. Needs root (CAP_NET_ADMIN)."""

    def __init__(self):
        self.ns = f"dlockf{os.getpid()}"
        self.outside, self.inside = f"dlf{os.getpid()}o", f"dlf{os.getpid()}i"
        Partition.remove_stale()
        a, b = random.randrange(64, 128), random.randrange(0, 256)
        self.host, self.client = f"10.{a}.{b}.1", f"10.{a}.{b}.2"
        self.forwarders = {}
        self.close()  # a namespace of the same name left by a killed run of this pid
        for cmd in (["netns", "add", self.ns],
                    ["link", "add", self.outside, "type", "veth", "peer", "name", self.inside],
                    ["link", "set", self.inside, "netns", self.ns],
                    ["addr", "add", f"{self.host}/30", "dev", self.outside],
                    ["link", "set", self.outside, "up"],
                    ["-n", self.ns, "addr", "add", f"{self.client}/30", "dev", self.inside],
                    ["-n", self.ns, "link", "set", self.inside, "up"],
                    ["-n", self.ns, "link", "set", "lo", "up"]):
            run = subprocess.run(["ip", *cmd], capture_output=True, text=True)
            if run.returncode != 0:
                self.close()
                raise RuntimeError(f"ip {' '.join(cmd)}: {run.stderr.strip()} (the partition "
                                   "fault needs root and iproute2)")

    def prefix(self):
        return ["ip", "netns", "exec", self.ns]

    def reach(self, uri):
        """`uri` with 127.0.0.1 replaced by the host end, forwarding its ports."""
        for port in re.findall(r"127\.0\.0\.1:(\d+)", uri):
            if port not in self.forwarders:
                self.forwarders[port] = DelayProxy(int(port), self.host, int(port))
        return uri.replace("127.0.0.1", self.host)

    def nft(self, script):
        run = subprocess.run([*self.prefix(), "nft", "-f", "-"], input=script,
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"nft: {run.stderr.strip()} (is the nftables package installed?)")

    def cut(self, ports):
        ports = ", ".join(str(p) for p in ports)
        self.nft(f"""table inet partition {{
  chain output {{ type filter hook output priority 0; policy accept;
    ip daddr {self.host} tcp dport {{ {ports} }} drop; }}
  chain input {{ type filter hook input priority 0; policy accept;
    ip saddr {self.host} tcp sport {{ {ports} }} drop; }}
}}
""")

    def heal(self):
        self.nft("delete table inet partition\n")

    def close(self):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        for link in (self.outside, self.inside):
            subprocess.run(["ip", "link", "del", link], capture_output=True)

    @staticmethod
    def remove_stale():
        """Namespaces and links of earlier runs whose process is gone (killed runs)."""
        def gone(pid):
            return not os.path.exists(f"/proc/{pid}")
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for ns in re.findall(r"^dlockf(\d+)", names, re.M):
            if gone(ns):
                subprocess.run(["ip", "netns", "del", f"dlockf{ns}"], capture_output=True)
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        for pid, end in re.findall(r"^\d+: dlf(\d+)([oi])[@:]", links, re.M):
            if gone(pid):
                subprocess.run(["ip", "link", "del", f"dlf{pid}{end}"], capture_output=True)


class Backend:
    """A store for the suite: its URI and the faults that apply to it. `proxies`: the
    clients reach the store (each of its servers) through them (for late replies)."""

    def __init__(self, name, uri, servers, proxies=(), volatile=False, sentinels=None,
                 cluster=None):
        self.name, self.uri, self.servers, self.proxies = name, uri, servers, proxies
        self.volatile = volatile  # loses its data on restart: a documented limitation
        # A RedisSentinelSet or a RedisClusterSet: the fault is a failover, across which
        # mutual exclusion is not guaranteed (asynchronous replication), but fencing is.
        self.sentinels = sentinels
        self.cluster = cluster

    def faults(self):
        if self.volatile:
            return ["store-restart"]
        if self.sentinels or self.cluster:
            return ["failover", "failover-stop"]
        out = ["holder-pause", "holder-kill", "clock-jump"]
        if self.servers:
            out += ["store-pause", "store-restart", "partition"]
        if self.name == "redlock":
            out += ["partition-minority"]
        if self.proxies:
            out += ["late-replies"]
        return out

    def stop(self):
        for s in self.servers:
            s.stop()
        if self.sentinels:
            self.sentinels.stop()
        if self.cluster:
            self.cluster.stop()


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
                                proxies=[proxy]))
        elif name == "redis-volatile":
            # No persistence: a restart forgets locks and counters (semantics.md says so).
            r = RedisServer(sub("redis-volatile"))
            made.append(Backend("redis-volatile", r.uri(), [r], volatile=True))
        elif name == "redis-sentinel":
            # A master, two replicas and three sentinels; SENTINEL FAILOVER is the fault.
            ss = RedisSentinelSet(sub("redis-sentinel"))
            made.append(Backend("redis-sentinel", ss.uri(), [], sentinels=ss))
        elif name == "redis-cluster":
            # Three masters with a replica each; a failover of the lock's master is the fault.
            cs = RedisClusterSet(sub("redis-cluster"))
            made.append(Backend("redis-cluster", cs.uri(), [], cluster=cs))
        elif name == "redlock":
            rs = [RedisServer(sub(f"redlock{i}"), *DURABLE) for i in range(5)]
            proxies = [DelayProxy(r.port) for r in rs]
            hosts = ",".join(f"127.0.0.1:{p.port}" for p in proxies)
            # A second per call: the proxies are Python threads, and on a loaded
            # two-core machine a first PING through them has taken over 300 ms.
            made.append(Backend("redlock", f"redlock://{hosts}?timeout=1s", rs,
                                proxies=proxies))
        elif name == "zk":
            z = ZkServer(sub("zk"))
            proxy = DelayProxy(z.port)
            made.append(Backend("zk", f"zk://127.0.0.1:{proxy.port}/fault", [z],
                                proxies=[proxy]))
        elif name == "etcd":
            e = EtcdServer(sub("etcd"))
            proxy = DelayProxy(e.port)
            made.append(Backend("etcd", f"etcd://127.0.0.1:{proxy.port}", [e],
                                proxies=[proxy]))
    return made


class Run:
    """The clients of one backend and fault: `workers` loops of `dlock run`."""

    def __init__(self, backend, register, guards, workdir, lock, clock_file=None,
                 workers=WORKERS):
        self.backend, self.register, self.guards, self.lock = backend, register, guards, lock
        self.log = os.path.join(workdir, f"{backend.name}-{lock}.jsonl")
        self.guarded_file = os.path.join(workdir, f"{backend.name}-{lock}.guarded")
        self.guard_spec = json.dumps(guards.spec(lock, self.guarded_file))
        self.env = dict(os.environ, DLOCK_FAULT_DLOCK=os.path.abspath(DLOCK),
                        DLOCK_FAULT_GUARDS=self.guard_spec)
        if clock_file:
            # The clients' wall clocks follow `clock_file` (libfaketime); their monotonic
            # clocks do not move, as a wall-clock step by NTP or an operator would not.
            self.env.update(LD_PRELOAD=FAKETIME, FAKETIME_TIMESTAMP_FILE=clock_file,
                            FAKETIME_NO_CACHE="1", DONT_FAKE_MONOTONIC="1")
        self.exits = []  # (dlock pid, exit code, monotonic time, stderr)
        self.stopping = threading.Event()
        self.gate = threading.Event()  # cleared: the loops start no new run
        self.gate.set()
        self.threads = [threading.Thread(target=self.loop) for _ in range(workers)]

    def once(self, hold=HOLD, partition=None, started=None, grace=3.0):
        """One `dlock run` of the child (in `partition`'s namespace if given); `started`
        gets its pid."""
        uri, register, prefix = self.backend.uri, f"127.0.0.1:{self.register.port}", []
        env = self.env
        if partition:
            uri, register = partition.reach(uri), partition.reach(register)
            prefix = partition.prefix()
            env = dict(self.env, DLOCK_FAULT_GUARDS=partition.reach(self.guard_spec))
        p = subprocess.Popen(
            [*prefix, DLOCK, "--backend", uri, "run", self.lock, "--ttl", f"{TTL}s",
             "--wait", "30s", "--grace", f"{grace}s", "--", "env", "-u", "LD_PRELOAD", sys.executable,
             os.path.join(HERE, "child.py"), register, self.log, str(hold)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        if started:
            started.put(p.pid)
        _, err = p.communicate()
        self.exits.append((p.pid, p.returncode, time.monotonic(), err.strip()))

    def loop(self):
        while not self.stopping.is_set():
            self.gate.wait()
            self.once()

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        self.gate.set()
        for t in self.threads:
            t.join(timeout=60)

    def holder(self, limit=10.0, dlock=None):
        """The pids of a child in its critical section and of its `dlock run` (that of
        pid `dlock` if given)."""
        give_up = time.monotonic() + limit
        while time.monotonic() < give_up:
            for path in glob.glob(self.log + ".holding.*"):
                try:
                    with open(path) as f:
                        me = json.load(f)
                    if dlock is None or me["dlock_pid"] == dlock:
                        return me["pid"], me["dlock_pid"]
                except (OSError, ValueError):
                    continue
            time.sleep(0.005)
        raise RuntimeError(f"{self.backend.name}: no holder seen (runs: {self.exits[-5:]})")

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


def store_ports(backend, rng, fault, lock):
    """The ports a partition cuts: the store's (through its proxy if it has one); for
    partition-minority, two of Redlock's five, chosen so that the instances holding the
    holder's key that stay reachable are a majority. A grant can win four or three of
    the five (an instance slow past the per-instance timeout); cutting two of those
    would leave the lock to Extend's re-take of the free ones, which refuses an instance
    where another client's attempt has since raised the counter (semantics.md)."""
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", backend.uri)]
    if fault != "partition-minority":
        return ports
    tokens = [s.cli("HGET", f"dlock:{{{lock}}}", "token").strip() for s in backend.servers]
    present = [t for t in tokens if t]
    token = max(set(present), key=present.count) if present else None
    held = [p for p, t in zip(ports, tokens) if t == token]
    free = [p for p in ports if p not in held]
    spare = len(held) - (len(ports) // 2 + 1)  # held instances that can be cut
    victims = rng.sample(free, min(2, len(free)))
    return victims + rng.sample(held, min(2 - len(victims), max(spare, 0)))


def inject(fault, run, backend, rng, partition=None):
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
        for p in backend.proxies:
            p.delay = TTL * 0.75
        time.sleep(TTL * 2)
        for p in backend.proxies:
            p.delay = 0.0
    elif fault.startswith("partition"):
        # A client in the namespace queues for the lock; once it holds, it is cut off from
        # the store (all of it, or two of Redlock's five instances) for TTL + 1.5 s. Its
        # child holds until signalled and writes once more after the lock must have
        # passed on: a holder that stops too late, stopped only by the register's fencing.
        # The loops pause while it queues, so that it gets the lock on every store (Redis
        # grants no queue order).
        started = queue.Queue()
        run.gate.clear()
        linger = TTL + RECOVERY_BOUND + 0.5
        most = TTL * 3 if fault == "partition-minority" else TTL + linger + 4
        one = threading.Thread(target=run.once, kwargs=dict(
            hold=f"signal:{most}:{linger}", partition=partition, started=started,
            grace=linger + 2))
        one.start()
        run.threads.append(one)
        try:
            pid = started.get(timeout=10)
            run.holder(limit=30.0, dlock=pid)
        finally:
            run.gate.set()
        partition.cut(store_ports(backend, rng, fault, run.lock))
        info.update(t=time.monotonic(), dlock=pid)
        try:
            time.sleep(TTL + 1.5)
        finally:
            partition.heal()
    elif fault.startswith("failover") and backend.cluster:
        # The master of the lock's slot replaced by its replica while the clients run:
        # CLUSTER FAILOVER ("failover"), or the master stopped (SIGSTOP) until the cluster
        # promotes the replica, then resumed ("failover-stop": requests that reached it
        # meanwhile run there when it wakes, before it learns it was demoted).
        c = backend.cluster
        c.await_healthy()  # a previous failover's old master rejoined as a replica
        master = c.owner(c.key_slot(f"dlock:{{{run.lock}}}"))
        replica = c.replica_of(master)
        info.update(t=time.monotonic())
        if fault == "failover":
            c.failover(replica)
        else:
            c.servers[master].pause()
            try:
                give_up = time.monotonic() + 30
                while c.role(replica) != "master":
                    if time.monotonic() >= give_up:
                        raise RuntimeError(f"node {replica} was not promoted")
                    time.sleep(0.05)
            finally:
                c.servers[master].resume()
    elif fault == "failover":
        # SENTINEL FAILOVER while the clients run; done when every sentinel names the
        # promoted replica. The clients follow by themselves.
        old = backend.sentinels.await_healthy()  # a previous failover's old master demoted
        info.update(t=time.monotonic())
        backend.sentinels.failover()
        backend.sentinels.await_new_master(old)
    elif fault == "failover-stop":
        # The master stopped (SIGSTOP) until the sentinels promote a replica, then resumed:
        # requests that reached it meanwhile run there when it wakes, before the sentinels
        # demote it (grants of the old epoch, lost on the new master).
        old = backend.sentinels.await_healthy()
        master = backend.sentinels.servers[old]
        master.pause()
        info.update(t=time.monotonic())
        try:
            backend.sentinels.await_new_master(old)
        finally:
            master.resume()
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
    accepted = [int(x.split()[0]) for x in run.register.cli("LRANGE", "register:accepted",
                                                           "0", "-1").split("\n") if x]
    stale_accepted = sum(1 for a, b in zip(accepted, accepted[1:]) if b < a)
    if stale_accepted:
        problems.append(f"{run.backend.name}/{info['fault']}: {stale_accepted} stale writes "
                        "accepted")
    rejected = len([x for x in run.register.cli("LRANGE", "register:rejected", "0",
                                                "-1").split("\n") if x])
    # The same writes through dlock's guards: what each applied, in the order it applied
    # them, never goes down; and what they refused.
    applied = run.guards.applied(run.lock, run.guarded_file)
    guard_stale = sum(guard_stale_writes(tokens) for tokens in applied.values())
    if guard_stale:
        history = run.guards.applied(run.lock, run.guarded_file, lines=True)
        where = {g: [history[g][i - 1:i + 1] for i in range(1, len(tokens))
                     if tokens[i] < tokens[i - 1]][:3] for g, tokens in applied.items()}
        problems.append(f"{run.backend.name}/{info['fault']}: the guards accepted "
                        f"{guard_stale} stale writes (guard: [the write before, the stale "
                        f"one]): { {g: w for g, w in where.items() if w} }")
    guard_rejected = sum(1 for g in grants for phase in ("guards_start", "guards_end")
                         for code in g.get(phase, {}).values() if code == 77)
    normal = {pid for pid, code, _, _ in run.exits if code == 0}
    clean = [g for g in by_start if g["dlock_pid"] in normal]
    overlapping = [(a, b) for a, b in zip(clean, clean[1:]) if b["t0"] < a["t1"]]
    overlaps = len(overlapping)
    if overlaps:
        problems.append(f"{run.backend.name}/{info['fault']}: {overlaps} overlapping grants "
                        f"(fault at {info['t']:.3f}): {overlapping[:2]}")
    # A run that starts while the store is down or restarting exits 69 (unreachable), as
    # documented; under the other faults the store is up and 69 is an error.
    store_fault = info["fault"].startswith(("store-", "failover")) or \
        info["fault"] == "late-replies"
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
           "guard_rejected": guard_rejected, "guard_stale": guard_stale,
           "overlaps": overlaps, "detect_s": "", "recover_s": ""}
    # The dlock run the fault aimed at, if any: its exits (code, t, stderr) and grants;
    # and the grants to the other clients after the fault.
    target = info.get("dlock")
    mine = [(code, t, err) for pid, code, t, err in run.exits if pid == target]
    child = [g for g in grants if g["dlock_pid"] == target]
    others = [g["t0"] for g in grants if g["t0"] > info["t"] and g["dlock_pid"] != target]
    if info["fault"] == "holder-pause":
        # Its command is signalled unless it had already finished when dlock noticed.
        signalled = child and (child[0]["signalled"] or (mine and child[0]["t1"] < mine[0][1]))
        if not mine or mine[0][0] != 76 or not signalled:
            problems.append(f"{run.backend.name}/holder-pause: the paused holder did not exit "
                            f"76 with its command signalled ({mine}, {child})")
        else:
            # From the resume (pause start + TTL + 1.5 s) to dlock's exit 76.
            row["detect_s"] = f"{mine[0][1] - (info['t'] + TTL + 1.5):.2f}"
    if info["fault"] == "partition":
        if [code for code, _, _ in mine] != [76] or not child or not child[0]["signalled"]:
            problems.append(f"{run.backend.name}/partition: the cut-off holder did not exit 76 "
                            f"with its command signalled ({mine}, {child})")
        else:
            # From the cut to the SIGTERM: at most a TTL (its lease ended by then), and
            # before anyone else was granted the lock.
            detect = child[0]["signalled_t"] - info["t"]
            row["detect_s"] = f"{detect:.2f}"
            if detect > TTL + 0.25:
                problems.append(f"{run.backend.name}/partition: loss signalled {detect:.2f}s "
                                f"after the cut, past the TTL")
            if others and child[0]["signalled_t"] >= min(others):
                problems.append(f"{run.backend.name}/partition: another client held the lock "
                                "before the cut-off holder was signalled")
            if child[0]["end_ok"]:
                problems.append(f"{run.backend.name}/partition: the cut-off holder's late write "
                                "was accepted")
    if info["fault"] == "partition-minority":
        if [code for code, _, _ in mine] != [0] or not child or child[0]["signalled"]:
            problems.append(f"{run.backend.name}/partition-minority: a holder cut off from two "
                            f"of five instances lost the lock ({mine}, {child})")
    if info["fault"] in ("holder-kill", "partition"):
        # The next grant to another client: within the TTL (and a bound) of the crash/cut.
        if not others:
            problems.append(f"{run.backend.name}/{info['fault']}: no grant after the fault")
        else:
            recover = min(others) - info["t"]
            row["recover_s"] = f"{recover:.2f}"
            if recover > TTL + RECOVERY_BOUND:
                problems.append(f"{run.backend.name}/{info['fault']}: the lock came back after "
                                f"{recover:.2f}s (TTL {TTL}s + {RECOVERY_BOUND}s)")
    held = subprocess.run([DLOCK, "--backend", run.backend.uri, "inspect", run.lock, "--json"],
                          capture_output=True, text=True)
    if held.returncode != 0 or json.loads(held.stdout)["held"]:
        problems.append(f"{run.backend.name}/{info['fault']}: lock left held or inspect failed: "
                        f"{held.stdout or held.stderr}")
    documented = run.backend.volatile and info["fault"] == "store-restart"
    # Across a failover a grant of the old master may be lost and granted again, so order
    # and overlaps are documented limitations there; stale writes accepted are not.
    limits = ("tokens not increasing", "overlapping grants")
    failover = [p for p in problems if info["fault"].startswith("failover") and
                any(x in p for x in limits)]
    noted = problems if documented else failover
    row["note"] = ("documented: " + "; ".join(p.split(": ", 1)[1][:60] for p in noted)
                   if noted else "")
    if not documented:
        failures.extend(p for p in problems if p not in failover)
    return row


def reset_register(register):
    register.cli("DEL", "register", "register:accepted", "register:rejected", "register:log")


def scenario(backend, fault, register, guards, workdir, rng, index, partition):
    reset_register(register)
    clock_file = None
    if fault == "clock-jump":
        clock_file = os.path.join(workdir, f"clock-{index}")
        with open(clock_file, "w") as f:
            f.write("+0\n")
    run = Run(backend, register, guards, workdir, f"fault-{index}", clock_file)
    run.clock_file = clock_file
    run.start()
    try:
        time.sleep(1.0)  # some grants before the fault
        info = inject(fault, run, backend, rng, partition)
        time.sleep(TTL + 2.0)  # and after it, to see the recovery
    finally:
        run.stop()
    return run, info


EPOCH_SHIFT = 40  # a token is E * 2^40 + C: E the failover epoch (docs/semantics.md)


def failover_series(backend, count, clients, register, guards, workdir, rng, failures):
    """`count` forced failovers in a row (SENTINEL FAILOVER, or CLUSTER FAILOVER of the
    lock's master) while `clients` loops of `dlock run` take one lock name, with one
    register for the whole series, and checks on the whole history: see
    check_series(). Returns the row of check() and the series' figures."""
    reset_register(register)
    run = Run(backend, register, guards, workdir, f"failover-series-{backend.name}",
              workers=clients)
    run.start()
    epochs = []  # the first epoch granted, then the new epoch granted after each failover
    started = time.monotonic()
    retried = backend.cluster.retried if backend.cluster else 0  # before this series
    try:
        def epoch_above(floor):
            """The epoch of the first grant of an epoch above `floor`, once there is one."""
            above = []

            def granted():
                above[:] = [g for g in run.grants() if g["token"] >> EPOCH_SHIFT > floor]
                return bool(above)
            await_condition(granted, f"failover {len(epochs)}: no grant of an epoch above "
                            f"{floor} within 30 s")
            return min(above, key=lambda g: g["t0"])["token"] >> EPOCH_SHIFT
        epochs.append(epoch_above(-1))
        for _ in range(count):
            inject("failover", run, backend, rng)
            epochs.append(epoch_above(epochs[-1]))
    finally:
        run.stop()
    row = check(run, {"fault": "failover", "t": started}, failures)
    figures = check_series(run, epochs, failures)
    figures.update(failovers=count, clients=clients, seconds=round(time.monotonic() - started))
    if backend.cluster:
        figures.update(failovers_asked_again=backend.cluster.retried - retried)
    return row, figures


def check_series(run, epochs, failures):
    """The whole history of a failover series:
      - every failover raised the epoch, and the clients followed: after each one, a
        grant of a higher epoch than any granted before it (failover_series awaits it,
        up to 30 s, and fails the run without one);
      - no two grants ever had the same token;
      - within an epoch (one server's counter) tokens strictly increase in the order the
        grants began;
      - every write the register saw that was lower than one it had seen before (a token
        lower than one a client saw earlier) carries a lower epoch than that one: a grant
        of an old master not yet demoted, which the register refused (check() fails any
        stale write accepted). Such grants are counted ("old_epoch_grants").
    Returns the figures."""
    name = f"{run.backend.name}/failover-series"
    grants = sorted(run.grants(), key=lambda g: g["t0"])
    tokens = [g["token"] for g in grants]
    if len(set(tokens)) != len(tokens):
        failures.append(f"{name}: a token was granted twice")
    by_epoch = {}
    for g in grants:
        by_epoch.setdefault(g["token"] >> EPOCH_SHIFT, []).append(g["token"])
    for epoch, mine in by_epoch.items():
        if any(b <= a for a, b in zip(mine, mine[1:])):
            failures.append(f"{name}: tokens of epoch {epoch} not increasing: {mine}")
    top, old_epoch = 0, set()
    for line in run.register.cli("LRANGE", "register:log", "0", "-1").split("\n"):
        if not line:
            continue
        token, writer, _ = line.split()
        token = int(token)
        if token < top:
            old_epoch.add(writer.split(":")[0])
            if token >> EPOCH_SHIFT >= top >> EPOCH_SHIFT:
                failures.append(f"{name}: token {token} came after {top} of the same or a "
                                "lower epoch")
        top = max(top, token)
    return {"grants": len(grants), "epochs": len(by_epoch), "old_epoch_grants": len(old_epoch),
            "first_epoch": epochs[0], "last_epoch": epochs[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="each fault once per backend")
    ap.add_argument("--duration", default="0", help="soak: random faults for this long "
                    "(e.g. 30m)")
    ap.add_argument("--backends",
                    default="file,redis,redis-sentinel,redis-cluster,redlock,zk,etcd,"
                            "redis-volatile")
    ap.add_argument("--faults", default="", help="only these faults (comma-separated)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--failovers", type=int, default=0, help="instead: this many forced "
                    "failovers in a row per failover backend, one lock name and register")
    ap.add_argument("--clients", type=int, default=4, help="clients of --failovers")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    units = {"s": 1, "m": 60, "h": 3600}
    d = args.duration
    soak = float(d[:-1]) * units[d[-1]] if d[-1] in units else float(d)
    rows, failures, partition = [], [], None
    # A CI timeout's SIGTERM still stops the servers and removes the namespace.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="dlock-fault-") as workdir:
        os.makedirs(os.path.join(workdir, "register"))
        register = RedisServer(os.path.join(workdir, "register"))
        guards = Guards(workdir, register)
        backends = make_backends(workdir, args.backends.split(","))
        try:
            if args.failovers:
                return failover_main(args, backends, register, guards, workdir, rng)
            only = set(filter(None, args.faults.split(",")))
            known = {f for b in backends for f in b.faults()}
            if only - known:
                ap.error(f"unknown faults for these backends: {sorted(only - known)}; "
                         f"known: {sorted(known)}")
            # The smoke run leaves out the slow failover (a stopped master, demoted only at
            # the sentinels' next INFO, up to 10 s later).
            plan = [(b, f) for b in backends for f in b.faults() if (not only or f in only) and
                    not (args.smoke and f == "failover-stop")]
            index = 0
            end = time.monotonic() + soak
            while plan:
                b, f = plan.pop(0)
                try:
                    if f.startswith("partition") and partition is None:
                        partition = Partition()
                    run, info = scenario(b, f, register, guards, workdir, rng, index,
                                         partition)
                    rows.append(check(run, info, failures))
                except Exception as e:  # a harness failure fails the run, not the table
                    failures.append(f"{b.name}/{f}: {type(e).__name__}: {e}")
                index += 1
                if not plan and not args.smoke and time.monotonic() < end:
                    plan = [rng.choice([(b, f) for b in backends for f in b.faults()
                                        if not only or f in only])]
        finally:
            for b in backends:
                b.stop()
            register.stop()
            guards.stop()
            if partition:
                partition.close()
    cols = ["backend", "fault", "grants", "lost", "unreachable", "stale_rejected",
            "stale_accepted", "guard_rejected", "guard_stale", "overlaps", "detect_s",
            "recover_s", "note"]
    print(f"fault suite (seed {seed}, TTL {TTL}s, {WORKERS} clients, hold {HOLD}s)")
    print(" | ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print(" | ".join(f"{str(r[c]):>14}" for c in cols))
    print("lost: runs that exited 76 (the lock was lost under them); unreachable: runs that "
          "exited 69 (started while the store was down); stale_rejected: writes "
          "the register refused (a token lower than one it had seen); guard_rejected, "
          "guard_stale: the same writes through the guards (dlock fence to Redis, PostgreSQL, "
          "etcd, ZooKeeper and a file), "
          "refused, and accepted though stale; detect_s: from the "
          "paused holder's resume to its exit 76, or from a partition's cut to the SIGTERM of "
          "the cut-off holder's command; recover_s: from killing or cutting off the "
          "holder to the next grant to another client")
    if len(rows) > len({(r["backend"], r["fault"]) for r in rows}):
        print_summary(rows)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def failover_main(args, backends, register, guards, workdir, rng):
    """--failovers: one series per backend that fails over; prints one line each."""
    failures = []
    chosen = [b for b in backends if b.sentinels or b.cluster]
    if not chosen:
        print("FAIL: --failovers needs redis-sentinel or redis-cluster in --backends")
        return 1
    for b in chosen:
        try:
            row, figures = failover_series(b, args.failovers, args.clients, register, guards,
                                           workdir, rng, failures)
            print(f"{b.name}: " + ", ".join(f"{k} {v}" for k, v in figures.items()) +
                  f"; stale writes accepted {row['stale_accepted']} (guards "
                  f"{row['guard_stale']}), refused {row['stale_rejected']} (guards "
                  f"{row['guard_rejected']}), runs lost {row['lost']}, unreachable "
                  f"{row['unreachable']}, overlaps {row['overlaps']}", flush=True)
        except Exception as e:  # a harness failure fails the run
            failures.append(f"{b.name}/failover-series: {type(e).__name__}: {e}")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def print_summary(rows):
    """One line per backend and fault: the trials, sums, and the worst times."""
    print("summary (markdown): trials, sums over them, worst detect and recover times")
    sums = ["grants", "lost", "unreachable", "stale_rejected", "stale_accepted",
            "guard_rejected", "guard_stale", "overlaps"]
    print("| backend | fault | trials | " + " | ".join(sums) + " | detect max | recover max |")
    print("|" + " --- |" * (len(sums) + 5))
    for key in sorted({(r["backend"], r["fault"]) for r in rows}):
        mine = [r for r in rows if (r["backend"], r["fault"]) == key]
        worst = [max((float(r[c]) for r in mine if r[c] != ""), default=None)
                 for c in ("detect_s", "recover_s")]
        print(f"| {key[0]} | {key[1]} | {len(mine)} | " +
              " | ".join(str(sum(int(r[c]) for r in mine)) for c in sums) + " | " +
              " | ".join("" if w is None else f"{w:.2f} s" for w in worst) + " |")


if __name__ == "__main__":
    sys.exit(main())
