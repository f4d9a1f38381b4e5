"""The resources that the fault suite's children also write to through dlock's own
guards (`dlock fence`, docs/fencing.md): Redis (on the register's server), PostgreSQL,
etcd and ZooKeeper, each on a server of its own that no fault touches, and a file. Every
write appends the writer's token to a history kept by the resource itself, so that the
order in which each guard applied the writes can be read back and checked: a guard that
let a stale write through shows as a token lower than one before it.
"""
import base64
import json
import os
import subprocess
import tempfile

from servers import EtcdServer, PostgresServer, ZkServer


class Guards:
    """`spec(resource, path)` is what child.py gets (DLOCK_FAULT_GUARDS, JSON): per guard,
    the `dlock fence` store, resource and write, with {line} standing for "TOKEN WRITER";
    `applied(resource, path)` reads each history back, in the order applied."""

    def __init__(self, workdir, register):
        self.register = register
        dirs = {name: os.path.join(workdir, f"guard-{name}") for name in ("etcd", "zk")}
        for d in dirs.values():
            os.makedirs(d)
        self.servers = []
        # A directory of its own: as root, PostgreSQL runs as another user, who is given
        # it and could not enter the suite's (private) work directory.
        self.pg_dir = tempfile.TemporaryDirectory(prefix="dlock-fault-pg-")
        self.pg = self._start(PostgresServer, self.pg_dir.name)
        self.etcd = self._start(EtcdServer, dirs["etcd"])
        self.zk = self._start(ZkServer, dirs["zk"])
        self.pg.psql("CREATE TABLE guard_log (id bigserial PRIMARY KEY, resource text, "
                     "token numeric(20, 0), line text)")

    def _start(self, cls, workdir):
        server = cls(workdir)
        self.servers.append(server)
        return server

    def stop(self):
        for s in self.servers:
            s.stop()
        self.pg_dir.cleanup()

    def spec(self, resource, path):
        return [
            {"guard": "redis", "store": f"redis://127.0.0.1:{self.register.port}",
             "resource": resource, "write": ["RPUSH", f"guard:{resource}", "{line}"]},
            {"guard": "file", "store": "file", "resource": path,
             "write": ["sh", "-c", 'cat "$0" 2>/dev/null; echo "$1"', path, "{line}"]},
            {"guard": "postgres", "store": self.pg.uri(), "resource": resource,
             "write": ["INSERT INTO guard_log (resource, token, line) VALUES ($1, $2, $3)",
                       resource, "{token}", "{line}"]},
            {"guard": "etcd", "store": f"etcd://127.0.0.1:{self.etcd.port}?prefix=fault-guard/",
             "resource": resource, "write": ["put", f"guardlog/{resource}/{{writer}}", "{line}"]},
            {"guard": "zk", "store": f"zk://127.0.0.1:{self.zk.port}/fault-guard",
             "resource": resource, "write": ["create", f"/guardlog-{resource}-{{writer}}",
                                             "{line}"]},
        ]

    def applied(self, resource, path, lines=False):
        """Per guard, the tokens of the writes it applied, in the order it applied them
        (with `lines`: the whole "TOKEN WRITER" lines)."""
        out = {}
        out["redis"] = [line for line in self.register.cli(
            "LRANGE", f"guard:{resource}", "0", "-1").split("\n") if line]
        out["file"] = []
        if os.path.exists(path):
            with open(path) as f:
                out["file"] = [line.strip() for line in f if line.strip()]
        out["postgres"] = [line for line in self.pg.psql(
            f"SELECT line FROM guard_log WHERE resource = '{resource}' ORDER BY id").split("\n")
            if line]
        got = self.etcd.ctl("get", "--prefix", f"guardlog/{resource}/", "-w", "json")
        kvs = json.loads(got.stdout).get("kvs", []) if got.returncode == 0 else []
        out["etcd"] = [base64.b64decode(kv["value"]).decode()
                       for kv in sorted(kvs, key=lambda kv: int(kv["mod_revision"]))]
        out["zk"] = self._zk_history(resource)
        if lines:
            return out
        return {g: [int(line.split()[0]) for line in history] for g, history in out.items()}

    def _zk_history(self, resource):
        # kazoo is Debian's python3-kazoo, for the system interpreter (which may not be
        # the one running the suite).
        got = subprocess.run(["/usr/bin/python3", "-c", ZK_HISTORY, f"127.0.0.1:{self.zk.port}",
                              f"guardlog-{resource}-"], capture_output=True, text=True,
                             timeout=60)
        if got.returncode != 0:
            raise RuntimeError(f"reading the ZooKeeper guard's history: {got.stderr.strip()}")
        return json.loads(got.stdout)


# argv: HOSTS PREFIX. Prints the data of the root's children named PREFIX..., in the order
# they were created (czxid), as a JSON list.
ZK_HISTORY = """
import json, sys
from kazoo.client import KazooClient
client = KazooClient(hosts=sys.argv[1])
client.start(timeout=10)
nodes = []
for child in client.get_children("/"):
    if child.startswith(sys.argv[2]):
        data, stat = client.get("/" + child)
        nodes.append((stat.czxid, data.decode()))
client.stop()
client.close()
print(json.dumps([data for _, data in sorted(nodes)]))
"""


def stale_accepted(tokens):
    """How many applied writes came after one with a greater token."""
    return sum(1 for a, b in zip(tokens, tokens[1:]) if b < a)
