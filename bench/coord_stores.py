#!/usr/bin/env python3
"""For bench/compare.sh: starts one etcd and one ZooKeeper (tests/integration/servers.py:
free loopback ports, own data dirs), writes "ETCD_PORT ZK_PORT" to the file named by the
first argument, and stops both (by PID) on SIGTERM or SIGINT."""
import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from servers import EtcdServer, ZkServer  # noqa: E402

work = tempfile.mkdtemp(prefix="dlock-bench-")
servers = []


def stop(code=0):
    for s in servers:
        s.stop()
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(code)


signal.signal(signal.SIGTERM, lambda *_: stop())
signal.signal(signal.SIGINT, lambda *_: stop())
try:
    os.makedirs(os.path.join(work, "etcd"))
    os.makedirs(os.path.join(work, "zk"))
    servers.append(EtcdServer(os.path.join(work, "etcd")))
    servers.append(ZkServer(os.path.join(work, "zk")))
except Exception as e:  # noqa: BLE001
    print(f"coord_stores: {e}", file=sys.stderr)
    stop(1)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{servers[0].port} {servers[1].port}\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    signal.pause()
