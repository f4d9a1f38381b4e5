"""Real servers for the tests that drive processes (the cli_*_test.py modules here,
tests/fault/): each on free loopback ports with its own directory, stopped by PID. A
missing server raises."""
import glob
import os
import pwd
import signal
import socket
import subprocess
import time


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


_held = []


def closed_port():
    """A loopback port bound by this process (never listened on) until it exits:
    connecting is refused, and no server started in parallel can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _held.append(sock)
    return sock.getsockname()[1]


def await_condition(pred, what, limit=30):
    """Polls `pred` every 50 ms (each poll may run redis-cli) until it holds; RuntimeError
    naming `what` after `limit` seconds."""
    give_up = time.monotonic() + limit
    while not pred():
        if time.monotonic() >= give_up:
            raise RuntimeError(what)
        time.sleep(0.05)


class Server:
    """A server process: `args` started with its output in `logfile`, ready when
    `ready()` says so (within 20 s). Keeps its ports and data across restart()."""
    package = "?"

    def __init__(self, args, logfile):
        self.args = args
        self.logfile = logfile
        self.proc = None
        self.start()

    def popen_options(self):
        """More keyword arguments for subprocess.Popen (another user, a directory)."""
        return {}

    def start(self):
        with open(self.logfile, "a") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         **self.popen_options())
        give_up = time.monotonic() + 20
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.args[0]} exited (see {self.logfile}); is the "
                                   f"{self.package} package installed?")
            if self.ready():
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.args[0]} did not start (see {self.logfile})")

    def ready(self):
        raise NotImplementedError

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
        if self.proc:
            self.proc.wait()

    def restart(self):
        self.stop()
        self.start()


class RedisServer(Server):
    """A real redis-server on a free loopback port."""
    package = "redis-server"

    def __init__(self, workdir, *extra):
        """`extra` may override --port; "{port}" in it stands for the chosen port."""
        self.port = free_port()
        extra = [a.replace("{port}", str(self.port)) for a in extra]
        super().__init__(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir, "--logfile",
             os.path.join(workdir, "redis.log"), *extra], os.path.join(workdir, "redis.out"))

    def ready(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def uri(self, userinfo=""):
        return f"redis://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                              text=True, check=True).stdout


class RedisSentinel(Server):
    """`redis-server sentinel.conf --sentinel` on a free loopback port, with its own config
    file (a sentinel rewrites it), monitoring `name` at `master_port` with `quorum`."""
    package = "redis-server"

    def __init__(self, workdir, name, master_port, quorum=2):
        self.port = free_port()
        os.makedirs(workdir, exist_ok=True)
        conf = os.path.join(workdir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n"
                    f"logfile {os.path.join(workdir, 'sentinel.log')}\n"
                    f"sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n"
                    f"sentinel down-after-milliseconds {name} 1000\n"
                    f"sentinel failover-timeout {name} 2000\n"
                    f"sentinel parallel-syncs {name} 2\n")
        super().__init__(["redis-server", conf, "--sentinel"],
                         os.path.join(workdir, "sentinel.out"))

    def ready(self):
        return RedisServer.ready(self)

    def cli(self, *args):
        return subprocess.run(["redis-cli", "--raw", "-p", str(self.port), *args],
                              capture_output=True, text=True).stdout.split("\n")


class RedisSentinelSet:
    """A master, two replicas and three sentinels (quorum 2) on loopback, as
    tests/integration/redis_sentinel_set.h: a failover takes 1 to 3 s."""
    NAME = "dlockmaster"

    def __init__(self, workdir):
        fast = ("--repl-diskless-sync-delay", "0")
        self.servers = []
        self.sentinels = []
        try:
            for i in range(3):
                d = os.path.join(workdir, f"redis{i}")
                os.makedirs(d)
                replica = () if i == 0 else ("--replicaof", "127.0.0.1",
                                             str(self.servers[0].port))
                self.servers.append(RedisServer(d, *fast, *replica))
            await_condition(lambda: self._online(0) == 2, "the replicas did not come online")
            for i in range(3):
                self.sentinels.append(RedisSentinel(os.path.join(workdir, f"sentinel{i}"),
                                                    self.NAME, self.servers[0].port))
            self.await_healthy()
        except BaseException:
            self.stop()
            raise

    def uri(self, scheme="redis+sentinel"):
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"{scheme}://{hosts}/{self.NAME}"

    def _online(self, i):
        info = self.servers[i].cli("INFO", "replication")
        return info.count("state=online")

    def named(self, s):
        """The index of the server sentinel `s` names as master, or -1."""
        addr = self.sentinels[s].cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.NAME)
        ports = [str(r.port) for r in self.servers]
        return ports.index(addr[1]) if len(addr) > 1 and addr[1] in ports else -1

    def role(self, i):
        try:
            return self.servers[i].cli("ROLE").split("\n")[0]
        except subprocess.CalledProcessError:
            return ""

    def config_epoch(self, s=0):
        lines = self.sentinels[s].cli("SENTINEL", "MASTER", self.NAME)
        return int(lines[lines.index("config-epoch") + 1])

    def await_healthy(self):
        """Every sentinel names one master, which has both replicas online, knows both
        replicas and the other two sentinels; returns the master's index."""
        def healthy():
            named = {self.named(s) for s in range(len(self.sentinels))}
            if len(named) != 1 or -1 in named:
                return False
            m = named.pop()
            for s in self.sentinels:
                info = s.cli("SENTINEL", "MASTER", self.NAME)
                fields = dict(zip(info[0::2], info[1::2]))
                if fields.get("flags") != "master" or fields.get("num-other-sentinels") != "2":
                    return False
                replicas = s.cli("SENTINEL", "REPLICAS", self.NAME)
                pairs = zip(replicas, replicas[1:])
                if sum(1 for pair in pairs if pair == ("flags", "slave")) != 2:
                    return False
            self.master = m
            return self.role(m) == "master" and self._online(m) == 2
        await_condition(healthy, "the sentinel set did not become healthy")
        return self.master

    def await_new_master(self, old):
        def switched():
            named = {self.named(s) for s in range(len(self.sentinels))}
            if len(named) != 1 or old in named or -1 in named:
                return False
            self.master = named.pop()
            return self.role(self.master) == "master"
        await_condition(switched, "the sentinels did not name a new master", limit=20)
        return self.master

    def failover(self):
        reply = self.sentinels[0].cli("SENTINEL", "FAILOVER", self.NAME)
        if reply[0] != "OK":
            raise RuntimeError(f"SENTINEL FAILOVER: {reply}")

    def stop(self):
        for p in self.sentinels + self.servers:
            p.stop()


class RedisClusterSet:
    """Six redis-server nodes in cluster mode (each with its own cluster bus port and a
    node timeout of 1 s), joined by `redis-cli --cluster create` as three masters with
    one replica each, as tests/integration/redis_cluster_set.h. Nodes are indexed in the
    order they were started; which are masters is for the cluster to say (owner(),
    replica_of()). Every condition is awaited by asking the nodes."""
    NODES = 6
    SLOTS = 16384

    def __init__(self, workdir):
        self.servers = []
        try:
            taken = set()
            for i in range(self.NODES):
                bus = free_port()
                while bus in taken:
                    bus = free_port()
                taken.add(bus)
                d = os.path.join(workdir, f"node{i}")
                os.makedirs(d)
                self.servers.append(RedisServer(
                    d, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(bus), "--cluster-node-timeout", "1000",
                    "--cluster-replica-validity-factor", "0",
                    "--cluster-allow-replica-migration", "no",
                    "--repl-diskless-sync-delay", "0"))
            r = subprocess.run(["redis-cli", "--cluster", "create",
                                *(f"127.0.0.1:{s.port}" for s in self.servers),
                                "--cluster-replicas", "1", "--cluster-yes"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0 or "All 16384 slots covered" not in r.stdout:
                raise RuntimeError(f"redis-cli --cluster create: {r.stdout}{r.stderr}")
            self.ids = [self.cli(i, "CLUSTER", "MYID")[0] for i in range(self.NODES)]
            self.retried = 0  # manual failovers asked again (failover())
            self.await_healthy()
        except BaseException:
            self.stop()
            raise

    def uri(self, scheme="redis+cluster"):
        """The first three nodes as seeds."""
        return f"{scheme}://" + ",".join(f"127.0.0.1:{s.port}" for s in self.servers[:3])

    def cli(self, i, *args):
        """redis-cli --raw on node i: its output's lines; [] if it does not answer."""
        try:
            r = subprocess.run(["redis-cli", "--raw", "-p", str(self.servers[i].port), *args],
                               capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            return []
        return [l.rstrip("\r") for l in r.stdout.splitlines()]

    def nodes(self, i):
        """CLUSTER NODES as node i sees it: a dict per node (id, port, flags, master,
        epoch, connected, slots as (lo, hi), open)."""
        out = []
        for line in self.cli(i, "CLUSTER", "NODES"):
            w = line.split()
            if len(w) < 8:
                return []
            slots, open_slots = [], False
            for s in w[8:]:
                if s.startswith("["):
                    open_slots = True
                    continue
                lo, _, hi = s.partition("-")
                slots.append((int(lo), int(hi or lo)))
            out.append({"id": w[0], "port": int(w[1].split("@")[0].rsplit(":", 1)[1]),
                        "flags": set(w[2].split(",")), "master": w[3], "epoch": int(w[6]),
                        "connected": w[7] == "connected", "slots": slots,
                        "open": open_slots})
        return out

    def owners(self):
        """The index of each slot's master as every node agrees; None if they disagree."""
        agreed = None
        for i in range(self.NODES):
            owner = [-1] * self.SLOTS
            for n in self.nodes(i):
                if "master" in n["flags"]:
                    for lo, hi in n["slots"]:
                        owner[lo:hi + 1] = [self.ids.index(n["id"])] * (hi - lo + 1)
            if agreed is not None and owner != agreed:
                return None
            agreed = owner
        return agreed

    def key_slot(self, key):
        return int(self.cli(0, "CLUSTER", "KEYSLOT", key)[0])

    def owner(self, slot):
        owners = self.owners()
        return owners[slot] if owners else -1

    def replica_of(self, master):
        for n in self.nodes(master):
            if n["master"] == self.ids[master]:
                return self.ids.index(n["id"])
        return -1

    def config_epoch(self, i):
        for n in self.nodes(i):
            if "myself" in n["flags"]:
                return n["epoch"]
        return -1

    def role(self, i):
        role = self.cli(i, "ROLE")
        return role[0] if role else ""

    def await_healthy(self):
        """Every node: cluster_state:ok, 6 nodes known, all slots ok; the same 3 masters
        owning all 16384 slots, none open, each with one connected replica."""
        def healthy():
            owners = self.owners()
            if owners is None or -1 in owners:
                return False
            masters = set(owners)
            for i in range(self.NODES):
                info = dict(l.split(":", 1) for l in self.cli(i, "CLUSTER", "INFO") if ":" in l)
                if (info.get("cluster_state") != "ok" or
                        info.get("cluster_known_nodes") != str(self.NODES) or
                        info.get("cluster_slots_ok") != str(self.SLOTS)):
                    return False
                nodes = self.nodes(i)
                if len(nodes) != self.NODES or any(
                        n["open"] or n["flags"] & {"fail", "fail?", "handshake", "noaddr"} or
                        not (n["connected"] or "myself" in n["flags"]) for n in nodes):
                    return False
                role = self.cli(i, "ROLE")
                if i in masters:
                    if not role or role[0] != "master":
                        return False
                elif len(role) < 4 or role[0] != "slave" or role[3] != "connected":
                    return False
            return len(masters) == 3 and all(self.replica_of(m) >= 0 for m in masters)
        await_condition(healthy, "the cluster did not become healthy")

    def failover(self, replica, attempts=3):
        """CLUSTER FAILOVER on `replica`; waits until every node agrees that it owns the
        slots of its old master, and answers ROLE as master. A manual failover that the
        nodes gave up (Redis times one out after 5 s: "Manual failover timed out" in the
        replica's log) is asked again, up to `attempts` times in all; `self.retried` counts
        those retries."""
        before = self.owners()
        old = next(self.ids.index(n["master"]) for n in self.nodes(replica)
                   if "myself" in n["flags"])

        def done():
            now = self.owners()
            return (now is not None and self.role(replica) == "master" and
                    all(now[s] == replica for s in range(self.SLOTS) if before[s] == old))
        for attempt in range(attempts):
            reply = self.cli(replica, "CLUSTER", "FAILOVER")
            if reply != ["OK"]:
                raise RuntimeError(f"CLUSTER FAILOVER: {reply}")
            try:
                # The manual failover's own timeout, 5 s, and the election after it.
                await_condition(done, f"node {replica} did not take over from node {old}",
                                limit=12 if attempt + 1 < attempts else 20)
                return
            except RuntimeError:
                if attempt + 1 == attempts or self.role(replica) != "slave":
                    raise
                self.retried += 1

    def stop(self):
        for s in self.servers:
            s.stop()


class TlsFiles:
    """A CA, a server certificate for IP:127.0.0.1 and DNS:localhost, and a client
    certificate of that CA (EC P-256 keys, PEM), made with openssl in `directory`."""

    def __init__(self, directory, ca_name="dlock-test-ca"):
        os.makedirs(directory, exist_ok=True)
        self.dir = directory
        for name in ("ca_cert", "server_cert", "client_cert"):
            setattr(self, name, os.path.join(directory, name.replace("_cert", ".crt")))
        for name in ("server_key", "client_key"):
            setattr(self, name, os.path.join(directory, name.replace("_key", ".key")))
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        with open(os.path.join(directory, "san.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        self._openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                      "-subj", f"/CN={ca_name}")
        for who, subject, ext in (("server", "/CN=localhost", ["-extfile", "san.ext"]),
                                  ("client", "/CN=dlock-client", [])):
            self._openssl("req", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj",
                          subject)
            self._openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey",
                          "ca.key", "-CAcreateserial", "-out", f"{who}.crt", "-days", "2", *ext)

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True)


class ZkServer(Server):
    """A real standalone ZooKeeper on a free loopback port with its own data dir. With
    `tls` (a TlsFiles), TLS-only: a secureClientPort and no clientPort, on Netty, with
    PKCS12 key and trust stores made from it; `client_auth` requires a client certificate
    of its CA (as tests/integration/zk_server.cc; see there)."""
    package = "zookeeper"
    STORE_PASSWORD = "dlock-test-store"

    def __init__(self, workdir, tls=None, client_auth=False):
        self.port = free_port()
        self.tls = tls
        conf = os.path.join(workdir, "conf")
        os.makedirs(conf)
        os.makedirs(os.path.join(workdir, "data"))
        cfg = (f"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={workdir}/data\n"
               "admin.enableServer=false\n4lw.commands.whitelist=srvr\n"
               "minSessionTimeout=1000\nmaxSessionTimeout=30000\n")
        if tls is None:
            cfg += f"clientPort={self.port}\nclientPortAddress=127.0.0.1\n"
        else:
            pw = self.STORE_PASSWORD
            subprocess.run(["openssl", "pkcs12", "-export", "-in", tls.server_cert, "-inkey",
                            tls.server_key, "-name", "server", "-out", f"{workdir}/server.p12",
                            "-passout", f"pass:{pw}"], check=True, capture_output=True)
            subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "ca", "-file",
                            tls.ca_cert, "-keystore", f"{workdir}/trust.p12", "-storetype",
                            "PKCS12", "-storepass", pw], check=True, capture_output=True)
            cfg += (f"secureClientPort={self.port}\nsecureClientPortAddress=127.0.0.1\n"
                    "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
                    f"ssl.keyStore.location={workdir}/server.p12\nssl.keyStore.type=PKCS12\n"
                    f"ssl.keyStore.password={pw}\n"
                    f"ssl.trustStore.location={workdir}/trust.p12\n"
                    f"ssl.trustStore.type=PKCS12\nssl.trustStore.password={pw}\n"
                    f"ssl.clientAuth={'need' if client_auth else 'none'}\n")
        with open(os.path.join(conf, "zoo.cfg"), "w") as f:
            f.write(cfg)
        # Netty's codec and resolver (for the TLS port) are not on zookeeper.jar's class path.
        jars = ":".join(f"/usr/share/java/{j}.jar"
                        for j in ("zookeeper", "netty-codec", "netty-resolver"))
        super().__init__(
            ["java", "-Xmx256m", f"-Dzookeeper.log.dir={workdir}", "-cp", f"{conf}:{jars}",
             "org.apache.zookeeper.server.quorum.QuorumPeerMain", f"{conf}/zoo.cfg"],
            os.path.join(workdir, "zk.out"))

    def ready(self):
        if self.tls is not None:
            # The four-letter word over TLS, with the client certificate in case.
            t = self.tls
            try:
                r = subprocess.run(["openssl", "s_client", "-connect", self.hosts(), "-quiet",
                                    "-ign_eof", "-CAfile", t.ca_cert, "-cert", t.client_cert,
                                    "-key", t.client_key], input=b"srvr", capture_output=True,
                                   timeout=5)
            except subprocess.TimeoutExpired:
                return False
            return b"Mode: standalone" in r.stdout
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                c.sendall(b"srvr")
                return b"Mode: standalone" in c.makefile("rb").read()
        except OSError:
            return False

    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def tls_query(self, client_cert=False):
        """With TLS: "tls=true&cacert=CA" and, with `client_cert`, "&cert=...&key=..."."""
        query = f"tls=true&cacert={self.tls.ca_cert}"
        if client_cert:
            query += f"&cert={self.tls.client_cert}&key={self.tls.client_key}"
        return query


class TlsZkServer(ZkServer):
    """A TLS-only ZooKeeper (no client certificate required) with certificates of its
    own, made in `workdir`/tls."""

    def __init__(self, workdir):
        super().__init__(workdir, tls=TlsFiles(os.path.join(workdir, "tls"), "dlock-zk-test-ca"))


class EtcdServer(Server):
    """A real single-member etcd on free loopback ports with its own data dir."""
    package = "etcd-server"

    def __init__(self, workdir):
        self.port = free_port()
        peer = f"http://127.0.0.1:{free_port()}"
        client = f"http://127.0.0.1:{self.port}"
        super().__init__(
            ["etcd", "--name", "n1", "--data-dir", os.path.join(workdir, "data"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"n1={peer}"], os.path.join(workdir, "etcd.log"))

    def ready(self):
        return self.ctl("endpoint", "health").returncode == 0

    def ctl_args(self, *args):
        return ["etcdctl", "--endpoints", f"127.0.0.1:{self.port}", *args]

    def ctl(self, *args):
        return subprocess.run(self.ctl_args(*args), capture_output=True, text=True,
                              env=dict(os.environ, ETCDCTL_API="3"))


class PostgresServer(Server):
    """A real PostgreSQL: a fresh cluster (initdb) in `workdir`, its postmaster on a free
    loopback port, stopped by PID. initdb and postgres refuse root: as root, both run as
    the system user dlock-test (scripts/install-deps.sh --test adds it; added here with
    useradd if missing), which is given `workdir`. The superuser USER has the password
    PASSWORD over TCP; the Unix socket, in `workdir`, is trusted."""
    package = "postgresql-15"
    USER = "dlock"
    PASSWORD = "fence-test-pw"
    TEST_USER = "dlock-test"

    def __init__(self, workdir):
        self.workdir = workdir
        self.bindir = self.find_bindir()
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = self.test_user()
            os.chown(workdir, self.user.pw_uid, self.user.pw_gid)
        pwfile = os.path.join(workdir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.PASSWORD + "\n")
        if self.user:
            os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        data = os.path.join(workdir, "data")
        with open(os.path.join(workdir, "initdb.log"), "w") as log:
            done = subprocess.run(
                [os.path.join(self.bindir, "initdb"), "-D", data, "-U", self.USER,
                 f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
                 "--no-sync", "--encoding=UTF8", "--locale=C"],
                stdout=log, stderr=subprocess.STDOUT, timeout=60, **self.popen_options())
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed (see {workdir}/initdb.log)")
        super().__init__(
            [os.path.join(self.bindir, "postgres"), "-D", data, "-p", str(self.port), "-k",
             workdir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
             "synchronous_commit=off", "-c", "full_page_writes=off"],
            os.path.join(workdir, "postgres.log"))

    @staticmethod
    def find_bindir():
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                       key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else -1)
        if not found:
            raise RuntimeError("no PostgreSQL under /usr/lib/postgresql: is the postgresql-15 "
                               "package installed? scripts/install-deps.sh --test")
        return os.path.dirname(found[-1])

    @classmethod
    def test_user(cls):
        try:
            return pwd.getpwnam(cls.TEST_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                            "/nonexistent", "--shell", "/usr/sbin/nologin", cls.TEST_USER],
                           capture_output=True)
        try:
            return pwd.getpwnam(cls.TEST_USER)
        except KeyError:
            raise RuntimeError(f"running as root, and there is no user {cls.TEST_USER} to run "
                               "PostgreSQL as (scripts/install-deps.sh --test adds it)")

    def popen_options(self):
        options = {"cwd": self.workdir}
        if self.user:
            options.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        return options

    def ready(self):
        return subprocess.run([os.path.join(self.bindir, "pg_isready"), "-q", "-h", "127.0.0.1",
                               "-p", str(self.port)]).returncode == 0

    def stop(self):
        """Fast shutdown (SIGINT) by PID; SIGKILL if it is not down within 10 s."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc:
            self.proc.wait()

    def conninfo(self, password=PASSWORD, dbname="postgres"):
        return (f"host=127.0.0.1 port={self.port} user={self.USER} password={password} "
                f"dbname={dbname}")

    def uri(self, dbname="postgres"):
        return f"postgres://{self.USER}:{self.PASSWORD}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql, dbname="postgres"):
        """Runs `sql` with psql over the trusted socket; returns its unaligned output."""
        return subprocess.run(
            [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.workdir, "-p", str(self.port), "-U", self.USER, "-d", dbname, "-c", sql],
            capture_output=True, text=True, check=True).stdout
