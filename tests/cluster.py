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
