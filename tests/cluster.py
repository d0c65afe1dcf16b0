"""Helpers for tests on a real local Redis Cluster (store/cluster.py): a clean cluster, clients, slots."""
from __future__ import annotations

import redis
from redis.cluster import key_slot

from store.cluster import LocalCluster
from store.connect import sync_client


def flush(cluster: LocalCluster) -> None:
    """Empty every master (replicas follow); a FLUSHALL through the cluster client would only reach one."""
    for port, role in cluster.roles().items():
        if role == "master":
            with cluster.node(port).client() as c:
                c.flushall()


def client(cluster: LocalCluster) -> redis.RedisCluster:
    return sync_client(cluster.url)


def slot(key: str) -> int:
    return key_slot(key.encode())


def rooms_per_master(cluster: LocalCluster, per_master: int = 1, prefix: str = "room") -> list[str]:
    """Room names whose keys spread evenly over the masters: `per_master` rooms on each."""
    from store import keys
    with client(cluster) as c:
        masters = {n.name: [] for n in c.get_primaries()}
        i = 0
        while any(len(v) < per_master for v in masters.values()):
            name = f"{prefix}{i}"
            found = masters[c.get_node_from_key(keys.events(name)).name]
            if len(found) < per_master:
                found.append(name)
            i += 1
    return [r for v in masters.values() for r in v]


class Balancer:
    """A TCP load balancer standing in for the one in front of the web processes: each new connection goes to
    the first backend that accepts it, in order, so a connection made while a backend is down lands on the
    next. Runs in a thread on its own event loop."""

    def __init__(self, port: int, backends: list[int]):
        import asyncio
        import threading
        self.port, self.backends = port, backends
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Balancer":
        self.thread.start()
        self.ready.wait(10)
        return self

    def _run(self) -> None:
        import asyncio
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()

    async def _serve(self, reader, writer) -> None:
        import asyncio
        for port in self.backends:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.close()
            return

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
