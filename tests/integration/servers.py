"""Real servers for the tests that drive processes (cli_test.py, tests/fault/): each on
free loopback ports with its own directory, stopped by PID. A missing server raises."""
import os
import socket
import subprocess
import time


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class RedisServer:
    """A real redis-server on a free loopback port, stopped by PID."""

    def __init__(self, workdir, *extra):
        """`extra` may override --port; "{port}" in it stands for the chosen port."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        extra = [a.replace("{port}", str(self.port)) for a in extra]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir, "--logfile",
             os.path.join(workdir, "redis.log"), *extra])
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited; is the redis-server package installed?")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def uri(self, userinfo=""):
        return f"redis://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                              text=True, check=True).stdout

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class ZkServer:
    """A real standalone ZooKeeper on a free loopback port with its own data dir."""

    def __init__(self, workdir):
        self.port = free_port()
        conf = os.path.join(workdir, "conf")
        os.makedirs(conf)
        os.makedirs(os.path.join(workdir, "data"))
        with open(os.path.join(conf, "zoo.cfg"), "w") as f:
            f.write(f"tickTime=500\ninitLimit=10\nsyncLimit=5\n"
                    f"dataDir={workdir}/data\nclientPort={self.port}\n"
                    "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                    "4lw.commands.whitelist=srvr\nminSessionTimeout=1000\n"
                    "maxSessionTimeout=30000\n")
        self.log = open(os.path.join(workdir, "zk.out"), "w")
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", f"-Dzookeeper.log.dir={workdir}", "-cp",
             f"{conf}:/usr/share/java/zookeeper.jar",
             "org.apache.zookeeper.server.quorum.QuorumPeerMain", f"{conf}/zoo.cfg"],
            stdout=self.log, stderr=subprocess.STDOUT)
        give_up = time.monotonic() + 20
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                raise RuntimeError("ZooKeeper exited; is the zookeeper package installed?")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"srvr")
                    if b"Mode: standalone" in c.makefile("rb").read():
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("ZooKeeper did not start")

    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class EtcdServer:
    """A real single-member etcd on free loopback ports with its own data dir."""

    def __init__(self, workdir):
        self.port = free_port()
        peer = f"http://127.0.0.1:{free_port()}"
        client = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "etcd.log"), "w")
        self.proc = subprocess.Popen(
            ["etcd", "--name", "n1", "--data-dir", os.path.join(workdir, "data"),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"n1={peer}"], stdout=self.log, stderr=subprocess.STDOUT)
        give_up = time.monotonic() + 20
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                raise RuntimeError("etcd exited; is the etcd-server package installed?")
            if self.ctl("endpoint", "health").returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("etcd did not start")

    def ctl_args(self, *args):
        return ["etcdctl", "--endpoints", f"127.0.0.1:{self.port}", *args]

    def ctl(self, *args):
        return subprocess.run(self.ctl_args(*args), capture_output=True, text=True,
                              env=dict(os.environ, ETCDCTL_API="3"))

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
