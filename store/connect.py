"""Redis clients from a URL (CONTRACT section 4: redis://, rediss://, unix://, redis-cluster://)."""
from __future__ import annotations

import time

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from settings import CLUSTER_POLL_MS, WEB_REDIS_CONNECT_TIMEOUT_S, WEB_REDIS_TIMEOUT_S

# Retries ride out a Redis restart instead of failing the part that was talking to it. Parts with a loop of
# their own (the engine, the insight jobs) ask for few, so that a stop request never waits behind ~15 s of
# retries against a Redis that is gone.
_RETRY_ON = [redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError]


def is_cluster(url: str) -> bool:
    return url.startswith("redis-cluster://")


def clustered(client) -> bool:
    """Whether a client or pipeline (sync or async) talks to a Redis Cluster: a few calls take another shape there."""
    from redis.asyncio.cluster import ClusterPipeline as AsyncPipeline, RedisCluster as AsyncCluster
    from redis.cluster import ClusterPipeline, RedisCluster
    return isinstance(client, (RedisCluster, AsyncCluster, ClusterPipeline, AsyncPipeline))


def mget(client, names: list[str]):
    """MGET of keys that may lie in several slots (one per room, or global keys): split by slot on a cluster,
    which refuses a cross-slot MGET. Awaitable for an asyncio client, as its mget is."""
    return client.mget_nonatomic(names) if clustered(client) else client.mget(names)


def atomic(client) -> bool:
    """Whether a pipeline of this client may be a MULTI over keys of several slots: on one Redis, yes; a
    cluster refuses it, so there such a pipeline is sent as it is and each caller says why that is safe."""
    return not clustered(client)


def _cluster_nodes(url: str):
    from redis.cluster import ClusterNode
    hosts = url.split("://", 1)[1].strip("/")
    nodes = []
    for hp in hosts.split(","):
        host, _, port = hp.rpartition(":")
        nodes.append(ClusterNode(host, int(port)))
    return nodes


def raw_stream_reads(client: redis.Redis) -> redis.Redis:
    """XREADGROUP replies as Redis sends them ([stream, [[id, [field, value]], ...]], a map under RESP3):
    redis-py would build a dict per entry, which costs as much as handling the event. For a client that reads
    every event (the engine, the risk job) and that no other stream reader shares."""
    client.set_response_callback("XREADGROUP", lambda response, **_: response)
    return client


def by_stream(reply) -> list:
    """[(stream, entries)] from a raw XREADGROUP reply: a map under RESP3, a list of pairs under RESP2."""
    if not reply:
        return []
    return list(reply.items()) if isinstance(reply, dict) else reply


def read_groups(client, group: str, consumer: str, streams: dict, count: int, block: int | None = None,
                noack: bool = False) -> list:
    """XREADGROUP over several streams as [(stream, entries)]: one call on one Redis. A cluster refuses one
    call over rooms in different slots, so there it is one non-blocking call per stream in a pipeline (the
    client sends each node its own batch at once); with nothing new and `block`, it then waits
    CLUSTER_POLL_MS at most, as a blocking read would have waited for the first entry. Entries come raw
    (raw_stream_reads) either way."""
    if not clustered(client):
        return by_stream(client.xreadgroup(group, consumer, streams, count=count, block=block, noack=noack))
    pipe = client.pipeline(transaction=False)
    for stream, start in streams.items():
        pipe.xreadgroup(group, consumer, {stream: start}, count=count, noack=noack)
    got = [(stream, [(sid, _raw_fields(fields)) for sid, fields in entries])
           for reply in pipe.execute() for stream, entries in by_stream(reply)]
    if block and not any(entries for _stream, entries in got):
        time.sleep(min(block, CLUSTER_POLL_MS) / 1000)
    return got


def _raw_fields(fields) -> list:
    """An entry's fields as Redis sends them ([field, value, ...]): a cluster client parses replies on its node
    clients, where raw_stream_reads does not reach."""
    if isinstance(fields, dict):
        return [x for pair in fields.items() for x in pair]
    return fields


def sync_client(url: str, retries: int = 20, name: str | None = None) -> redis.Redis:
    """`name` (CLIENT SETNAME on every connection) lets a part find its own older connections in CLIENT LIST."""
    if is_cluster(url):
        # A node that goes away (a master failing over to its replica) refreshes the slot table and the call
        # is sent again, to the new owner, with backoff: the same ~15 s window as for one server.
        from redis.cluster import RedisCluster
        return RedisCluster(startup_nodes=_cluster_nodes(url), retry=Retry(ExponentialBackoff(cap=1.0, base=0.05),
                                                                             retries),
                            client_name=name, health_check_interval=10)
    return redis.Redis.from_url(url, retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
                                retry_on_error=_RETRY_ON, health_check_interval=10, client_name=name)


def async_client(url: str, timeout: float | None = WEB_REDIS_TIMEOUT_S) -> aredis.Redis:
    """The web process's client: every call answers or fails within `timeout`, so that a request never hangs
    on a stalled Redis (the API answers 503 instead). A broken connection, such as every pooled one after a
    Redis restart, is replaced and the call sent once more at once; a timeout is not retried, since the call
    may still run when Redis wakes up (resending events is safe: their ids make a second copy a duplicate).
    `timeout=None` is for the pub/sub subscription, which waits for frames as long as it takes."""
    if is_cluster(url):
        # Unlike one server, a failover takes seconds (the cluster's node timeout, then the vote): the calls
        # are retried with backoff within the caller's own deadline (store_async's asyncio.timeout).
        from redis.asyncio.cluster import RedisCluster
        return RedisCluster(startup_nodes=_cluster_nodes(url), socket_timeout=timeout,
                            socket_connect_timeout=WEB_REDIS_CONNECT_TIMEOUT_S,
                            retry=AsyncRetry(ExponentialBackoff(cap=0.5, base=0.05), 12))
    return aredis.Redis.from_url(url, retry=AsyncRetry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                                 retry_on_error=[redis.ConnectionError],
                                 socket_timeout=timeout, socket_connect_timeout=WEB_REDIS_CONNECT_TIMEOUT_S)
