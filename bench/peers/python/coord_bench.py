#!/usr/bin/python3
"""Lock benchmarks for the etcd and ZooKeeper peers a Python user would pick, from
Debian: python3-etcd3's Lock and python3-kazoo's Lock. Prints one JSON line.

  --peer etcd3 --endpoint HOST:PORT    etcd3.client().lock(name, ttl) (its waiting loop
                                       re-done here: Debian 12's copy fails to wait)
  --peer kazoo --endpoint HOST:PORT    KazooClient().Lock(path)

Modes:
  seq       : 1 thread, acquire + release on distinct names
  contended : --workers threads on ONE name, each holding it --hold ms; each thread has its
              own client (as separate processes would). Both libraries wait by watch.
"""
import argparse
import json
import resource
import sys
import threading
import time

ap = argparse.ArgumentParser(description=__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--peer", required=True, choices=["etcd3", "kazoo"])
ap.add_argument("--endpoint", required=True, help="HOST:PORT")
ap.add_argument("--mode", default="seq", choices=["seq", "contended"])
ap.add_argument("--secs", type=float, default=5)
ap.add_argument("--workers", type=int, default=8)
ap.add_argument("--hold", type=float, default=0, help="ms to hold the lock in contended mode")
ap.add_argument("--ttl", type=int, default=10, help="lease TTL in s (etcd3)")
a = ap.parse_args()
host, port = a.endpoint.rsplit(":", 1)


class Etcd3:
    def __init__(self):
        import etcd3
        self.version = getattr(etcd3, "__version__", "?")
        self.client = etcd3.client(host=host, port=int(port))

    def lock(self, name):
        return self.client.lock(name, ttl=a.ttl)

    @staticmethod
    def acquire(lock):
        # Lock.acquire's own retry loop raises TypeError on Debian 12 as soon as it has to
        # wait (python3-etcd3 0.12's wait callback has an older tenacity signature), so
        # this runs the same loop: one attempt, then watch the key once (any event), and
        # again, within the timeout.
        import etcd3.exceptions
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if lock.acquire(timeout=0):
                return True
            try:
                lock.etcd_client.watch_once(lock.key, max(0.0, deadline - time.monotonic()))
            except etcd3.exceptions.WatchTimedOut:
                pass
        return False

    def close(self):
        self.client.close()


class Kazoo:
    def __init__(self):
        import kazoo
        from kazoo.client import KazooClient
        self.version = getattr(kazoo, "__version__", "?")
        self.client = KazooClient(hosts=a.endpoint, timeout=10)
        self.client.start(timeout=10)

    def lock(self, name):
        return self.client.Lock("/bench/kazoo/" + name)

    @staticmethod
    def acquire(lock):
        return lock.acquire(timeout=30)

    def close(self):
        self.client.stop()
        self.client.close()


Peer = Etcd3 if a.peer == "etcd3" else Kazoo
pc = time.perf_counter_ns


def pct(s, p):
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))], 1) if s else None


errors = []
first = Peer()
res = {"peer": f"{'python-etcd3' if a.peer == 'etcd3' else 'kazoo'}@{first.version} Lock",
       "mode": a.mode}
tag = f"{int(time.time() * 1000)}"
for i in range(20):  # warm-up
    lk = first.lock(f"warm-{tag}-{i}")
    first.acquire(lk)
    lk.release()
t0 = pc()
end = t0 + int(a.secs * 1e9)
if a.mode == "seq":
    lat = []
    i = 0
    while pc() < end:
        s = pc()
        lk = first.lock(f"seq-{tag}-{i}")
        i += 1
        if not first.acquire(lk):
            sys.exit("error: an uncontended acquire failed")
        lk.release()
        lat.append((pc() - s) / 1e3)
    el = (pc() - t0) / 1e9
    lat.sort()
    res.update({"pairs": len(lat), "secs": round(el, 3), "pairs_per_s": round(len(lat) / el),
                "p50_us": pct(lat, 50), "p99_us": pct(lat, 99), "max_us": pct(lat, 100)})
else:
    waits, counts = [], [0] * a.workers
    clients = [first] + [Peer() for _ in range(a.workers - 1)]

    def worker(idx):
        try:
            c = clients[idx]
            lk = c.lock(f"hot-{tag}")
            while pc() < end:
                s = pc()
                if not c.acquire(lk):
                    raise RuntimeError("acquire timed out")
                waits.append((pc() - s) / 1e3)
                if a.hold > 0:
                    time.sleep(a.hold / 1000)
                lk.release()
                counts[idx] += 1
        except Exception as e:  # a failed run must not print a result line
            errors.append(e)

    ths = [threading.Thread(target=worker, args=(w,)) for w in range(a.workers)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errors:
        sys.exit(f"error: {errors[0]!r}")
    el = (pc() - t0) / 1e9
    waits.sort()
    n = sum(counts)
    res.update({"workers": a.workers, "hold_ms": a.hold, "acquisitions": n,
                "secs": round(el, 3), "acq_per_s": round(n / el), "wait_p50_us": pct(waits, 50),
                "wait_p99_us": pct(waits, 99), "wait_max_us": pct(waits, 100),
                "per_worker_min": min(counts), "per_worker_max": max(counts)})
    for c in clients[1:]:
        c.close()
ru = resource.getrusage(resource.RUSAGE_SELF)
res["client_cpu_user_s"] = round(ru.ru_utime, 2)
res["client_cpu_sys_s"] = round(ru.ru_stime, 2)
first.close()
print(json.dumps(res), flush=True)
