#!/usr/bin/env python3
"""Turns bench/compare.sh's JSON lines into BENCHMARKS.md (Markdown on stdout).

Usage: report.py RESULTS.jsonl SECS ROUNDS REDIS_VERSION NODE_VERSION
Each number is the median over the rounds of one configuration.
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


def main():
    path, secs, rounds, redis_version, node_version = sys.argv[1:6]
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

    titles = {
        "seq": "Sequential: one loop of acquire + release on distinct keys (pairs/s)",
        "conc256": "Concurrent: 256 loops in one process, distinct keys (pairs/s; dlock: "
                   "asynchronous calls from one thread, `Locker::TryAcquireAsync`)",
        "contended8": "Contended: 8 workers on one key, 1 ms hold (acquisitions/s; latency = wait)",
        "redlock3": "Redlock over 3 instances, sequential (pairs/s)",
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

    holds = rows.get(("hold10k", "dlock"), [])
    if holds:
        def hm(key):
            return med([d.get(key) for d in holds])
        out += ["## Scale: one process holding 10,000 locks with auto-renewal (Redis, TTL 10 s)", "",
                "| threads in the process | memory per lock | CPU per lock | renewals/s | "
                "renewals failed | locks lost |", "|---:|---:|---:|---:|---:|---:|",
                f"| {fmt(hm('process_threads'))} | {fmt(hm('rss_bytes_per_lock'))} B | "
                f"{fmt(hm('cpu_us_per_lock_s'), 2)} µs/s ({fmt(hm('cpu_percent'), 1)}% of a core) | "
                f"{fmt(hm('renewals_per_s'))} | {fmt(hm('renew_failed'))} | {fmt(hm('lost'))} |",
                "", "Renewals due within an eighth of their interval of each other go to Redis "
                "as one pipelined batch (BatchExtendBackend::ExtendMany).", ""]

    out += ["## Ratios against the targets of issue 8", "",
            "| target | measured |", "|---|---|"]
    d_seq = get("seq", "dlock")
    best_seq, best_seq_name = best_peer("seq")
    raw = get("seq", "raw hiredis")
    if d_seq and best_seq:
        out.append(f"| seq ≥ 1.3 × best peer | {d_seq / best_seq:.2f} × {best_seq_name} |")
    if d_seq and raw:
        out.append(f"| seq ≥ raw hiredis floor | {d_seq / raw:.2f} × |")
        dc, rc = get("seq", "dlock", "cpu"), get("seq", "raw hiredis", "cpu")
        if dc and rc:
            out.append(f"| seq CPU/pair ≤ raw hiredis | {dc:.1f} vs {rc:.1f} µs |")
    d_conc = get("conc256", "dlock")
    best_conc, best_conc_name = best_peer("conc256")
    if d_conc and best_conc:
        out.append(f"| conc 256 ≥ 4 × best peer | {d_conc / best_conc:.2f} × {best_conc_name} |")
    evalsha_p = get("limit", "redis-benchmark EVALSHA -c 50 -P 16")
    if d_conc and evalsha_p:
        out.append(f"| conc 256 ≥ 40% of pipelined EVALSHA / 2 | "
                   f"{100 * d_conc / (evalsha_p / 2):.0f}% |")
    d_cont = get("contended8", "dlock")
    rtt_rate = get("limit", "redis-benchmark SET NX PX -c 1 -P 1")
    if d_cont and rtt_rate:
        ideal = 1 / (0.001 + 1 / rtt_rate)
        out.append(f"| contended ≥ 0.85 × ideal 1/(hold + RTT) = {ideal:,.0f}/s | "
                   f"{d_cont / ideal:.2f} × |")
        p99 = get("contended8", "dlock", "p99")
        fifo = 7 * (0.001 + 1 / rtt_rate) * 1e6
        if p99:
            out.append(f"| contended p99 wait ≤ 2 × FIFO ideal ({2 * fifo:,.0f} µs) | "
                       f"{p99:,.0f} µs |")
        lo, hi = get("contended8", "dlock", "min"), get("contended8", "dlock", "max")
        if lo:
            out.append(f"| no worker served > 1.5 × another | {hi / lo:.2f} × |")
    for w in ("etcd-seq", "etcd-contended8", "zk-seq", "zk-contended8"):
        d = get(w, "dlock")
        best, best_name = best_peer(w)
        if d and best:
            out.append(f"| {w}: dlock beside {best_name} (no target number) | {d / best:.2f} × |")
    for w in ("redlock3", "redlock5"):
        d, nr = get(w, "dlock"), get(w, "node-redlock")
        if d and nr:
            out.append(f"| {w} seq ≥ 2 × node-redlock | {d / nr:.2f} × |")
    out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
