"""Frames over sharded pub/sub on a Redis Cluster: the web process's subscriptions, one connection per master.

The engine SPUBLISHes a room's frame on `keys.frames_shard(room)`, a channel in the room's own slot, so a frame
travels only to the master that owns the room (and its replicas) instead of over the cluster bus to every node,
as a PUBLISH would. The web process therefore subscribes where each room lives: it reads the rooms set every
second, SSUBSCRIBEs each new room's channel on the master that serves its slot, and starts afresh (new slot map,
every room subscribed again, screens asked to resync) whenever a node connection breaks or a node drops a
subscription (Redis sends an unrequested SUNSUBSCRIBE when the slot moves: a failover or a resharding).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

import redis
import redis.asyncio as aredis

from settings import WEB_REDIS_CONNECT_TIMEOUT_S
from store import keys
from store.connect import async_client

log = logging.getLogger("livewall.shards")
ROOMS_EVERY_S = 1.0   # how often new rooms are looked for


class Moved(Exception):
    """A node dropped one of our subscriptions: its slot has another owner now."""


async def _node_feed(pubsub, on_frame: Callable[[str, str], None]) -> None:
    async for msg in pubsub.listen():
        kind = msg["type"]
        if kind == "smessage":
            on_frame(keys.room_of_events_key(msg["channel"].decode()), msg["data"].decode())
        elif kind == "sunsubscribe":
            raise Moved(msg["channel"].decode())


async def _round(url: str, on_frame, on_start) -> None:
    """One slot map's worth of subscriptions, until something breaks (raises)."""
    cluster = async_client(url)
    nodes: dict[str, tuple] = {}   # node name -> (client, pubsub, task)
    subscribed: set[str] = set()
    try:
        await cluster.initialize()
        started = False
        while True:
            rooms = {x.decode() for x in await cluster.smembers(keys.ROOMS)} - subscribed
            for room in sorted(rooms):
                channel = keys.frames_shard(room)
                node = cluster.get_node_from_key(channel)
                if node.name not in nodes:
                    client = aredis.Redis(host=node.host, port=node.port, socket_timeout=None,
                                          socket_connect_timeout=WEB_REDIS_CONNECT_TIMEOUT_S)
                    pubsub = client.pubsub()
                    await pubsub.ssubscribe(channel)
                    nodes[node.name] = (client, pubsub, asyncio.create_task(_node_feed(pubsub, on_frame)))
                else:
                    await nodes[node.name][1].ssubscribe(channel)
                subscribed.add(room)
            if not started:
                log.info("frames of %d rooms by sharded pub/sub from %d masters", len(subscribed), len(nodes))
                on_start()   # frames may have been missed before: screens resync
                started = True
            done = [t for _c, _p, t in nodes.values() if t.done()]
            if done:
                done[0].result()   # raises what ended it
                raise redis.ConnectionError("a node's subscription ended")
            await asyncio.wait([t for _c, _p, t in nodes.values()] or [asyncio.sleep(0)],
                               timeout=ROOMS_EVERY_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for client, pubsub, task in nodes.values():
            task.cancel()
            try:
                await pubsub.aclose()
                await client.aclose()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail again
                pass
        try:
            await cluster.aclose()
        except Exception:  # noqa: BLE001
            pass


async def any_node(url: str) -> aredis.Redis:
    """A client of one master, for the cluster-wide channels: a PUBLISH reaches every node of a cluster."""
    cluster = async_client(url)
    try:
        await cluster.initialize()
        node = cluster.get_random_node()
        return aredis.Redis(host=node.host, port=node.port, socket_timeout=None,
                            socket_connect_timeout=WEB_REDIS_CONNECT_TIMEOUT_S)
    finally:
        await cluster.aclose()


async def listen(url: str, on_frame: Callable[[str, str], None], on_start: Callable[[], None]) -> None:
    """Deliver every room's frames as on_frame(room, text), for as long as it runs; on_start() each time the
    subscriptions are (re)made."""
    while True:
        try:
            await _round(url, on_frame, on_start)
        except asyncio.CancelledError:
            raise
        except (redis.RedisError, redis.exceptions.RedisClusterException, OSError, Moved) as e:
            log.warning("sharded frames lost (%s: %s); subscribing again", type(e).__name__, e)
            await asyncio.sleep(0.5)
