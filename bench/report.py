#!/usr/bin/env python3
"""Turns bench/compare.sh's JSON lines into BENCHMARKS.md (Markdown on stdout).

Usage: report.py RESULTS.jsonl SECS ROUNDS REDIS_VERSION NODE_VERSION [--charts DIR]
Each number is the median over the rounds of one configuration. With --charts, also writes
one SVG bar chart per workload into DIR (Debian's python3-matplotlib), each embedded in the
Markdown under its table, by the path DIR as given (relative to where BENCHMARKS.md is).
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict



def name_of(d):
    peer = d.get("peer", "dlock")
    return peer


def ops_of(d):
    for k in ("ops_per_s", "pairs_per_s", "acq_per_s"):
        if k in d:
            return float(d[k])
    return None


def cpu_of(d):
    if "cpu_us_per_op" in d:
        return d["cpu_us_per_op"]
    n = d.get("pairs") or d.get("acquisitions")
    if n and "client_cpu_user_s" in d:
        return (d["client_cpu_user_s"] + d["client_cpu_sys_s"]) * 1e6 / n
    return None


def lat_of(d, p):
    for k in (f"p{p}_us", f"wait_p{p}_us"):
        if k in d:
            return d[k]
    return None


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


# The targets of issue 21, one per workload: (what is compared, how it is read off the
# table). Each function gets the table's lookups and returns (measured text, met or not),
# or None when the run lacks a figure it needs.
def targets(get, best_peer):
    def ratio(workload, peer, at_least, key="ops"):
        d, p = get(workload, "dlock", key), get(workload, peer, key)
        if not d or not p:
            return None
        return f"{d / p:.2f} ×", d / p >= at_least

    def at_most(workload, peer, factor, key):
        d, p = get(workload, "dlock", key), get(workload, peer, key)
        if d is None or not p:
            return None
        return f"{d:,.1f} vs {p:,.1f}", d <= factor * p

    def of_best(workload, at_least):
        d = get(workload, "dlock")
        best, name = best_peer(workload)
        if not d or not best:
            return None
        return f"{d / best:.2f} × {name}", d / best >= at_least

    def contended_ideal():
        d, rtt_rate = get("contended8", "dlock"), get("limit", "redis-benchmark SET NX PX -c 1 -P 1")
        if not d or not rtt_rate:
            return None
        ideal = 1 / (0.001 + 1 / rtt_rate)
        return f"{d / ideal:.2f} × of {ideal:,.0f}/s", d / ideal >= 0.85

    def contended_p99():
        p99, rtt_rate = get("contended8", "dlock", "p99"), get("limit", "redis-benchmark SET NX PX -c 1 -P 1")
        if not p99 or not rtt_rate:
            return None
        fifo = 7 * (0.001 + 1 / rtt_rate) * 1e6  # the 8th in line waits for 7 holds
        return f"{p99:,.0f} µs (limit {2 * fifo:,.0f})", p99 <= 2 * fifo

    def fairness():
        lo, hi = get("contended8", "dlock", "min"), get("contended8", "dlock", "max")
        if not lo:
            return None
        return f"{hi / lo:.2f} ×", hi / lo <= 1.5

    def hold(workload):
        cpu = get(workload, "dlock", "hold_cpu")
        if cpu is None:
            return None
        return f"{cpu:.2f} µs", cpu <= 2.5

    return [
        ("seq", "≥ 0.9 × raw hiredis loop", lambda: ratio("seq", "raw hiredis", 0.9)),
        ("seq", "CPU/pair ≤ 1.1 × raw hiredis", lambda: at_most("seq", "raw hiredis", 1.1, "cpu")),
        ("conc256", "≥ 1.3 × raw ioredis", lambda: ratio("conc256", "raw ioredis", 1.3)),
        ("conc256", "≥ 1.6 × best library peer", lambda: of_best("conc256", 1.6)),
        ("contended8", "≥ 0.85 × FIFO ideal 1/(hold + RTT)", contended_ideal),
        ("contended8", "p99 wait ≤ 2 × FIFO ideal wait", contended_p99),
        ("contended8", "workers within 1.5 ×", fairness),
        ("redlock3", "≥ 1.25 × node-redlock", lambda: ratio("redlock3", "node-redlock", 1.25)),
        ("redlock3", "CPU/pair ≤ node-redlock's",
         lambda: at_most("redlock3", "node-redlock", 1.0, "cpu")),
        ("redlock5", "≥ 1.25 × node-redlock", lambda: ratio("redlock5", "node-redlock", 1.25)),
        ("redlock3-conc256", "≥ 1.5 × node-redlock",
         lambda: ratio("redlock3-conc256", "node-redlock", 1.5)),
        ("etcd-seq", "≥ 1.3 × python-etcd3", lambda: ratio("etcd-seq", "python-etcd3", 1.3)),
        ("etcd-contended8", "≥ 1.5 × python-etcd3",
         lambda: ratio("etcd-contended8", "python-etcd3", 1.5)),
        ("zk-contended8", "≥ 1.3 × kazoo", lambda: ratio("zk-contended8", "kazoo", 1.3)),
        ("zk-contended8", "p99 wait ≤ kazoo's", lambda: at_most("zk-contended8", "kazoo", 1.0, "p99")),
        ("hold10k", "≤ 2.5 µs CPU per lock per second (Redis)", lambda: hold("hold10k")),
        ("etcd-hold10k", "≤ 2.5 µs CPU per lock per second (etcd)", lambda: hold("etcd-hold10k")),
        ("zk-hold10k", "≤ 2.5 µs CPU per lock per second (ZooKeeper)", lambda: hold("zk-hold10k")),
    ]


def write_chart(path, title, entries, unit):
    """One horizontal bar per client (dlock highlighted), the rate on each bar, and dlock's
    ratio to the best lock library in the title. `entries`: [(rate, client, is_library)]."""
    import matplotlib
    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    # Deterministic SVG: no date, fixed ids, so that a chart changes only with its numbers.
    matplotlib.rcParams["svg.hashsalt"] = "dlock"
    entries = sorted(entries)
    names = [client for _, client, _ in entries]
    rates = [rate for rate, _, _ in entries]
    colours = ["#d9480f" if client == "dlock" else "#adb5bd" if not lib else "#4c6ef5"
               for _, client, lib in entries]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(entries) + 1.2))
    bars = ax.barh(names, rates, color=colours)
    for bar, rate in zip(bars, rates):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {rate:,.0f}",
                va="center", fontsize=8)
    dlock = next((rate for rate, client, _ in entries if client == "dlock"), None)
    peers = [(rate, client) for rate, client, lib in entries if lib and client != "dlock"]
    if dlock and peers:
        best, best_name = max(peers)
        title += f"\ndlock: {dlock / best:.2f} × the best library ({best_name})"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(unit, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.margins(x=0.18)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def main():
    args = sys.argv[1:]
    charts = None
    if "--charts" in args:
        i = args.index("--charts")
        charts = args[i + 1]
        del args[i:i + 2]
    path, secs, rounds, redis_version, node_version = args[:5]
    rows = defaultdict(list)
    for line in open(path):
        d = json.loads(line)
        rows[(d["workload"], name_of(d))].append(d)

    table = {}
    for (workload, peer), ds in rows.items():
        table[(workload, peer)] = {
            "ops": med([ops_of(d) for d in ds]),
            "p50": med([lat_of(d, 50) for d in ds]),
            "p99": med([lat_of(d, 99) for d in ds]),
            "cpu": med([cpu_of(d) for d in ds]),
            "min": med([d.get("worker_min", d.get("per_worker_min")) for d in ds]),
            "max": med([d.get("worker_max", d.get("per_worker_max")) for d in ds]),
            "hold_cpu": med([d.get("cpu_us_per_lock_s") for d in ds]),
        }

    def is_lib(peer):  # a lock library, not a raw floor or the store's own benchmark
        return not peer.startswith("raw") and not peer.startswith("redis-benchmark")

    def best_peer(workload):
        cands = [(v["ops"], p) for (w, p), v in table.items()
                 if w == workload and p != "dlock" and is_lib(p) and v["ops"]]
        return max(cands) if cands else (None, None)

    def get(workload, peer_prefix, key="ops"):
        for (w, p), v in table.items():
            if w == workload and p.startswith(peer_prefix):
                return v[key]
        return None

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    out = ["# Benchmarks", "",
           f"Measured by `bench/compare.sh --secs {secs} --rounds {rounds}`: every number is the "
           f"median of {rounds} runs of {secs} s, all configurations interleaved, a FLUSHALL "
           "before each run, client and servers on the same machine.", "",
           f"- Commit: {commit}, run on {today}",
           f"- Machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
           f"- redis-server {redis_version}, node {node_version}, Python {platform.python_version()}",
           "- Peers: " + ", ".join(sorted({p for (_, p) in table if p != 'dlock'})), ""]

    out += ["## Summary", "",
            "One line per target of issue 21: dlock's figure, the best lock library's, and the "
            "measured ratio or figure against the target.", "",
            "| workload | dlock | best library | target | measured | met |",
            "|---|---:|---|---|---:|:---:|"]
    for workload, target, measure in targets(get, best_peer):
        measured = measure()
        d = get(workload, "dlock")
        best, best_name = best_peer(workload)
        best_text = f"{fmt(best)} ({best_name})" if best else "–"
        if measured is None:
            out.append(f"| {workload} | {fmt(d)} | {best_text} | {target} | not measured | – |")
        else:
            text, met = measured
            out.append(f"| {workload} | {fmt(d)} | {best_text} | {target} | {text} | "
                       f"{'yes' if met else '**no**'} |")
    out.append("")

    titles = {
        "seq": "Sequential: one loop of acquire + release on distinct keys (pairs/s)",
        "conc256": "Concurrent: 256 loops in one process, distinct keys (pairs/s; dlock: "
                   "asynchronous calls from one thread, `Locker::TryAcquireAsync`)",
        "contended8": "Contended: 8 workers on one key, 1 ms hold (acquisitions/s; latency = wait)",
        "redlock3": "Redlock over 3 instances, sequential (pairs/s)",
        "redlock3-conc256": "Redlock over 3 instances, 256 loops in one process (pairs/s)",
        "redlock5": "Redlock over 5 instances, sequential (pairs/s)",
        "etcd-seq": "etcd: sequential acquire + release on distinct names (pairs/s)",
        "etcd-contended8": "etcd: 8 workers on one name, 1 ms hold (acquisitions/s; latency = wait)",
        "zk-seq": "ZooKeeper: sequential acquire + release on distinct names (pairs/s)",
        "zk-contended8": "ZooKeeper: 8 workers on one name, 1 ms hold (acquisitions/s; latency = wait)",
        "limit": "The store's own limit (redis-benchmark, ops/s)",
    }
    for workload, title in titles.items():
        entries = sorted(((v["ops"] or 0, p, v) for (w, p), v in table.items() if w == workload),
                         reverse=True)
        if not entries:
            continue
        out += [f"## {title}", "",
                "| client | rate | p50 µs | p99 µs | client CPU µs/op | per-worker min/max |",
                "|---|---:|---:|---:|---:|---:|"]
        for ops, peer, v in entries:
            fair = f"{fmt(v['min'])}/{fmt(v['max'])}" if v["min"] is not None else "–"
            out.append(f"| {peer} | {fmt(ops)} | {fmt(v['p50'])} | {fmt(v['p99'])} | "
                       f"{fmt(v['cpu'], 1)} | {fair} |")
        out.append("")
        if charts and any(ops for ops, _, _ in entries):
            os.makedirs(charts, exist_ok=True)
            chart = os.path.join(charts, f"{workload}.svg")
            write_chart(chart, title, [(ops, p, is_lib(p)) for ops, p, _ in entries if ops],
                        "operations per second")
            out += [f"![{workload}]({chart})", ""]

    scale = [(store, rows.get((workload, "dlock"), []))
             for store, workload in (("Redis", "hold10k"), ("etcd", "etcd-hold10k"),
                                     ("ZooKeeper", "zk-hold10k"))]
    if any(holds for _, holds in scale):
        out += ["## Scale: one process holding 10,000 locks with auto-renewal (TTL 10 s)", "",
                "| store | threads in the process | memory per lock | CPU per lock | renewals/s | "
                "renewals failed | locks lost |", "|---|---:|---:|---:|---:|---:|---:|"]
        for store, holds in scale:
            if not holds:
                continue

            def hm(key):
                return med([d.get(key) for d in holds])
            out.append(
                f"| {store} | {fmt(hm('process_threads'))} | {fmt(hm('rss_bytes_per_lock'))} B | "
                f"{fmt(hm('cpu_us_per_lock_s'), 2)} µs/s ({fmt(hm('cpu_percent'), 1)}% of a core) | "
                f"{fmt(hm('renewals_per_s'))} | {fmt(hm('renew_failed'))} | {fmt(hm('lost'))} |")
        out += ["", "On Redis, renewals due within an eighth of their interval of each other go "
                "as one pipelined batch (BatchExtendBackend::ExtendMany).", ""]

    print("\n".join(out))


if __name__ == "__main__":
    main()
