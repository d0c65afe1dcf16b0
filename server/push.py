"""The websocket hub: one Redis pub/sub subscription per web process, every frame forwarded as the same
pre-serialized text to each socket that watches its room.

A socket is `/ws?rooms=a,b` (or no `rooms` for all), narrowed to the rooms its identity may read: the
middleware (server/guard.py) has already refused a foreign Origin and a socket without credentials, and every
ping or resync request checks the credentials again, closing the socket once they no longer hold. On connect it gets a hello (server time, so the browser
can tell how old data is without trusting its own clock) and the stored snapshot of each watched room, so a
screen opened mid-session is complete at once; then live frames and alert changes. Unsent frames coalesce per
room: a screen that cannot keep up skips intermediate frames (each frame is a complete state), never the
latest, and never slows the others.

On a Redis Cluster, frames come by sharded pub/sub (server/shards.py), alerts, insights and revocations by the
cluster-wide subscription: they are few, and some belong to no room.

While the web process cannot reach Redis, screens are told so (a "source" message, store/wire.py: their banner says
the data source is unavailable) and, once it answers again, told so too and asked to resync.
"""
from __future__ import annotations

import asyncio
import logging
import time

import msgspec
import redis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from insights.alerts import recent as recent_alerts
from server import auth, links, shards
from server.guard import identity
from settings import HEALTH_TIMEOUT_S
from store import keys, wire
from store.connect import async_client, is_cluster, mget

log = logging.getLogger("livewall.push")
MAX_PENDING = 256   # unsent messages per socket beyond one frame per room (alert storms)
SOURCE_CHECK_S = 1.0   # how often the hub asks Redis whether it is there


class Client:
    __slots__ = ("ws", "rooms", "allowed", "pending", "ready", "n", "name", "closing")

    def __init__(self, ws: WebSocket, rooms: set[str] | None, allowed: frozenset[str] | None = None,
                 name: str | None = None):
        self.ws = ws
        self.name = name              # the identity's name: a revoked token or link closes its sockets
        self.closing = False
        self.rooms = rooms            # what it watches; None: every room
        self.allowed = allowed        # what it may read (alerts and insights of other rooms are not sent); None: all
        self.pending: dict = {}       # room -> newest unsent frame; other messages under unique keys
        self.ready = asyncio.Event()
        self.n = 0

    def offer(self, text: str, room: str | None = None) -> None:
        if room is None:
            self.n += 1
            room = self.n             # an int never equals a room name: never coalesced
            if len(self.pending) >= MAX_PENDING:
                del self.pending[next(iter(self.pending))]
        self.pending[room] = text
        self.ready.set()


class Hub:
    def __init__(self, redis_url: str, r):
        self.redis_url = redis_url
        self.r = r
        self.clients: set[Client] = set()
        self.by_room: dict[str, set[Client]] = {}
        self.everyone: set[Client] = set()
        self.task: asyncio.Task | None = None
        self.shards: asyncio.Task | None = None   # frames on a cluster (server/shards.py)
        self.watcher: asyncio.Task | None = None
        self.source_ok = True
        self.frames = 0

    def add(self, c: Client) -> None:
        self.clients.add(c)
        if c.rooms is None:
            self.everyone.add(c)
        else:
            for room in c.rooms:
                self.by_room.setdefault(room, set()).add(c)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._listen())
        if is_cluster(self.redis_url) and (self.shards is None or self.shards.done()):
            self.shards = asyncio.get_running_loop().create_task(
                    shards.listen(self.redis_url, self.broadcast_room, lambda: self.broadcast_all(wire.RESYNC)))
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.get_running_loop().create_task(self._watch())

    def remove(self, c: Client) -> None:
        self.clients.discard(c)
        self.everyone.discard(c)
        for room in c.rooms or ():
            s = self.by_room.get(room)
            if s is not None:
                s.discard(c)
                if not s:
                    del self.by_room[room]

    def broadcast_room(self, room: str, text: str) -> None:
        self.frames += 1
        for c in self.by_room.get(room, ()):
            c.offer(text, room)
        for c in self.everyone:
            c.offer(text, room)

    def broadcast_all(self, text: str) -> None:
        for c in self.clients:
            c.offer(text)

    async def _watch(self) -> None:
        """Tell screens when Redis stops or starts answering: a stalled Redis breaks no connection, so the
        subscription alone would only go quiet."""
        while True:
            try:
                async with asyncio.timeout(HEALTH_TIMEOUT_S):
                    await self.r.ping()
                ok = True
            except (redis.RedisError, OSError, TimeoutError):
                ok = False
            if ok != self.source_ok:
                self.source_ok = ok
                log.warning("redis %s", "answers again" if ok else "unavailable: screens are told")
                self.broadcast_all(wire.SOURCE_UP if ok else wire.SOURCE_DOWN)
                if ok:
                    self.broadcast_all(wire.RESYNC)
            await asyncio.sleep(SOURCE_CHECK_S)

    def revoked(self, name: str) -> None:
        """A token or link was revoked: its sockets close now, not at their next ping."""
        for c in self.clients:
            if c.name == name:
                c.closing = True
                c.ready.set()

    def broadcast_notice(self, text: str) -> None:
        """An alert change or fresh insights: to the sockets that may read its room."""
        try:
            room = wire.notice_room(text)
        except msgspec.DecodeError as e:   # not a message declared in store/wire.py: it goes to no one
            log.warning("notice dropped: %s", e)
            return
        for c in self.clients:
            if room is None or c.allowed is None or room in c.allowed:
                c.offer(text)

    async def _listen(self) -> None:
        prefix = len(keys.FRAMES_PATTERN) - 1
        while True:
            client = pubsub = None
            try:
                # waits for frames as long as it takes; on a cluster, any one node hears every PUBLISH
                client = await (shards.any_node(self.redis_url) if is_cluster(self.redis_url)
                                else _ready(async_client(self.redis_url, timeout=None)))
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                if not is_cluster(self.redis_url):   # on a cluster, frames come by sharded pub/sub
                    await pubsub.psubscribe(keys.FRAMES_PATTERN)
                await pubsub.subscribe(keys.NOTICE_CHANNEL, keys.REVOKED_CHANNEL)
                # after a reconnect, screens may have missed frames: tell them to resync
                self.broadcast_all(wire.RESYNC)
                async for msg in pubsub.listen():
                    data = msg["data"].decode()
                    if msg["type"] == "pmessage":
                        self.broadcast_room(msg["channel"].decode()[prefix:], data)
                    elif msg["channel"] == keys.REVOKED_CHANNEL.encode():
                        self.revoked(wire.revoked_name(msg["data"]))
                    elif msg["type"] == "message":
                        self.broadcast_notice(data)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, redis.exceptions.RedisClusterException, OSError) as e:
                log.warning("pub/sub lost (%s); reconnecting", e)
                await asyncio.sleep(0.5)
            finally:
                try:
                    if pubsub is not None:
                        await pubsub.aclose()
                    if client is not None:
                        await client.aclose()
                except Exception:  # noqa: BLE001 - closing a broken connection may fail again
                    pass


async def _ready(client):
    return client


def add_routes(server: FastAPI, redis_url: str, r) -> Hub:
    hub = Hub(redis_url, r)

    @server.websocket("/ws")
    async def ws(websocket: WebSocket):
        who = identity(websocket)
        if who is None or "read" not in who.scopes:
            await websocket.close(code=1008)   # before accepting: the handshake fails
            return
        await websocket.accept()
        raw = websocket.query_params.get("rooms")
        asked = {x for x in raw.split(",") if x} if raw else None
        c = Client(websocket, readable(who, asked), who.rooms, who.name)
        hub.add(c)
        sender = asyncio.get_running_loop().create_task(_send(c))
        try:
            await _greet(c, r, hub)
            while True:
                msg = await websocket.receive_text()  # only pings and resync requests come this way
                if not await _still(websocket, r, who):
                    await websocket.close(code=1008)
                    break
                if msg == wire.RESYNC_REQUEST:
                    await _greet(c, r, hub)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.remove(c)
            sender.cancel()

    return hub


def readable(who: auth.Identity, asked: set[str] | None) -> set[str] | None:
    """The rooms a socket watches: those asked for (None: all) that the identity may read."""
    if who.rooms is None:
        return asked
    return set(who.rooms) if asked is None else asked & who.rooms


async def _still(websocket: WebSocket, r, who: auth.Identity) -> bool:
    """Whether the socket's credentials still give the same identity (not signed out, removed, revoked)."""
    try:
        now = await auth.identify(r, websocket.headers, websocket.cookies, websocket.query_params)
    except links.LinkRefused:
        return False
    return now == who


async def _greet(c: Client, r, hub: Hub) -> None:
    """Everything a new screen needs to be complete at once: the rooms there are, snapshots, insights, recent
    alerts; or, while Redis is away, that the data source is unavailable (the hub asks screens to resync once
    it is back)."""
    greeted = False
    try:
        existing = sorted(x.decode() for x in await r.smembers(keys.ROOMS))
        c.offer(wire.hello(time.time(), [n for n in existing if c.allowed is None or n in c.allowed]))
        greeted = True
        await _complete(c, r)
    except redis.RedisError:
        if not greeted:
            c.offer(wire.hello(time.time()))
        c.offer(wire.SOURCE_DOWN)
        hub.source_ok = False   # so that the watcher's "back" resyncs this screen too


async def _complete(c: Client, r) -> None:
    names = sorted(c.rooms) if c.rooms is not None else sorted(x.decode() for x in await r.smembers(keys.ROOMS))
    if not names:
        return
    for name, blob in zip(names, await mget(r, [keys.snapshot(n) for n in names])):
        if blob:
            c.offer(blob.decode(), name)
    for name in names:
        sug, rec = await r.mget(keys.suggestions(name), keys.recommendations(name))
        c.offer(wire.insight(name, sug, rec).decode())
    alerts = [a for a in await recent_alerts(r, limit=100) if c.rooms is None or a.get("room") in c.rooms]
    c.offer(wire.alerts(alerts))


async def _send(c: Client) -> None:
    try:
        while True:
            await c.ready.wait()
            c.ready.clear()
            if c.closing:
                await c.ws.close(code=1008)   # the screen reloads and is told why (assets/livewall-socket.js)
                return
            batch, c.pending = c.pending, {}
            for text in batch.values():
                await c.ws.send_text(text)
    except (WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
        pass
    except Exception as e:  # noqa: BLE001 - a broken socket ends its sender, nothing else
        log.debug("socket send failed: %s", e)
