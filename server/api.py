"""The read side of the HTTP API (CONTRACT section 3), served from what the engine and the insight jobs
keep in Redis: nothing here computes a metric."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Callable

import orjson
import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from feeds.schema import ROOM_RE
from insights.alerts import recent as recent_alerts
from feeds.connectors.base import read_status
from insights.review import BadQuery, page_query, respond
from server import auth, session_list, web
from server.reviews import Reviews
from server.guard import identity, need
from settings import HEALTH_TIMEOUT_S
from store import archive, keys, wire
from store.connect import mget
from store.leases import summary

HEALTHY_HEARTBEAT_S = 5.0
HEALTHY_LAG_S = 5.0
MAX_QUERY = 128          # characters of a product search (`?q=`): a sku or a name is no longer


def add_routes(server: FastAPI, r: redis.asyncio.Redis, parts: Callable[[], dict] | None = None,
               data_dir: Path | None = None) -> None:
    """`parts`: the supervised parts' state, for /healthz (only `python app.py` has a supervisor); `data_dir`:
    where archived sessions are read."""
    reviews = Reviews(r, data_dir)
    data = reviews.data_dir
    async def snapshot(room: str) -> wire.Frame | None:
        if not ROOM_RE.match(room):
            return None
        blob = await r.get(keys.snapshot(room))
        return wire.read_frame(blob) if blob else None

    def unknown(room: str) -> Response:
        return web.error(404, f"unknown room {room!r}")

    @server.exception_handler(redis.RedisError)
    async def _redis_error(_request, exc: redis.RedisError):
        # every Redis call has a timeout (store/connect.py): a stalled or absent Redis ends up here
        return web.unavailable(str(exc) or type(exc).__name__)

    @server.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError):
        return web.error(400, str(exc.errors()[0].get("msg", "invalid request")))

    @server.get("/api/rooms")
    async def rooms(request: Request):
        if denied := need(request):
            return denied
        who = identity(request)
        names = sorted(n for n in (x.decode() for x in await r.smembers(keys.ROOMS)) if auth.can_read(who, n))
        blobs = await mget(r, [keys.snapshot(n) for n in names]) if names else []
        out = []
        for name, blob in zip(names, blobs):
            if not blob:
                continue
            f = wire.read_frame(blob)
            m = f.metrics
            out.append({"room": name, "platform": f.platform, "session": m["session"], "as_of": m["as_of"],
                        "online": m["online"], "gmv": m["gmv"], "title": m.get("title"), "ended": m.get("ended"),
                        "updated": f.updated})
        return web.json({"rooms": out})

    @server.get("/api/rooms/{room}/metrics")
    async def metrics(room: str, request: Request):
        if denied := need(request, room=room):
            return denied
        snap = await snapshot(room)
        return web.json(snap.metrics) if snap else unknown(room)

    @server.get("/api/rooms/{room}/products")
    async def products(room: str, request: Request):
        """`?q=`: only the products whose sku or name holds it (case-insensitive); `total` counts those."""
        if denied := need(request, room=room):
            return denied
        try:
            limit = web.int_param(request, "limit", 100, 0, 100000)
            offset = web.int_param(request, "offset", 0, 0, 10 ** 12)
        except ValueError as e:
            return web.error(400, str(e))
        if not await web.known_room(r, room):
            return unknown(room)
        q = request.query_params.get("q", "").strip().casefold()
        if len(q) > MAX_QUERY:
            return web.error(400, f"`q` must be at most {MAX_QUERY} characters")
        rows = orjson.loads(await r.get(keys.products(room)) or b"[]")
        if q:
            rows = [p for p in rows if q in p["sku"].casefold() or q in (p.get("name") or "").casefold()]
        return web.json({"total": len(rows), "products": rows[offset:offset + limit]})

    @server.get("/api/rooms/{room}/series")
    async def series(room: str, request: Request):
        if denied := need(request, room=room):
            return denied
        if not await web.known_room(r, room):
            return unknown(room)
        return web.json({"series": orjson.loads(await r.get(keys.series(room)) or b"[]")})

    @server.get("/api/rooms/{room}/suggestions")
    async def suggestions(room: str, request: Request):
        if denied := need(request, room=room):
            return denied
        if not await web.known_room(r, room):
            return unknown(room)
        return web.json({"suggestions": orjson.loads(await r.get(keys.suggestions(room)) or b"[]")})

    @server.get("/api/rooms/{room}/recommendations")
    async def recommendations(room: str, request: Request):
        if denied := need(request, room=room):
            return denied
        if not await web.known_room(r, room):
            return unknown(room)
        return web.json({"recommendations": orjson.loads(await r.get(keys.recommendations(room)) or b"[]")})

    @server.get("/api/rooms/{room}/sessions")
    async def sessions(room: str, request: Request):
        if denied := need(request, room=room):
            return denied
        if not await web.known_room(r, room):
            return unknown(room)
        rows = [orjson.loads(v) for v in (await r.hgetall(keys.session_list(room))).values()]
        if rows:
            marks = await r.hmget(keys.ARCHIVED, [s["session"] for s in rows])
            for s, mark in zip(rows, marks):
                s["archived"] = mark is not None
        rows.sort(key=lambda s: s["started"], reverse=True)
        return web.json({"sessions": rows})

    @server.get("/api/sessions")
    async def sessions_by_date(request: Request):
        """Sessions of every room the caller may read, newest first: ?from=&to= (dates, README "Reviews"),
        ?room=, ?platform=, ?limit= (default 100), ?offset=."""
        if denied := need(request):
            return denied
        try:
            span = session_list.date_span(request.query_params)
            limit = web.int_param(request, "limit", 100, 1, 1000)
            offset = web.int_param(request, "offset", 0, 0, 10 ** 9)
        except ValueError as e:
            return web.error(400, str(e))
        room, platform = request.query_params.get("room"), request.query_params.get("platform")
        if room is not None and not ROOM_RE.match(room):
            return web.error(400, "`room` must match [A-Za-z0-9_.:-]{1,64}")
        if room is not None and (denied := need(request, room=room)):
            return denied
        who = identity(request)
        names = [n for n in sorted(x.decode() for x in await r.smembers(keys.ROOMS))
                 if auth.can_read(who, n) and room in (None, n)]
        rows = await session_list.gather(r, names, lambda n: archive.read_index(data))
        rows = session_list.pick(rows, span, platform)
        return web.json({"total": len(rows), "sessions": rows[offset:offset + limit]})

    @server.get("/api/sessions/{session}/review")
    async def review(session: str, request: Request):
        """The review with one page of its products: ?limit= (default 100, up to 1000), ?offset=, ?q= (sku or
        name, any case), ?sort= (gmv, units, buyers, ctr, cvr, profit, ...; `-` first: descending; default -gmv)
        or ?order=asc|desc; `total` = products matching q."""
        if denied := need(request):
            return denied
        try:
            query = page_query(request.query_params)
        except BadQuery as e:
            return web.error(400, str(e))
        room = archive.room_of(session)
        if room is None:
            return web.error(404, f"unknown session {session!r}")
        if denied := need(request, room=room):
            return denied
        got = await reviews.load(session)
        if got is None:
            return web.error(404, f"unknown session {session!r}")
        head, products = got
        return web.json(await asyncio.to_thread(respond, head, products, query))

    @server.get("/api/alerts")
    async def alerts(request: Request):
        room = request.query_params.get("room")
        if denied := need(request, room=room):
            return denied
        who = identity(request)
        rows = await recent_alerts(r, room=room)
        return web.json({"alerts": [a for a in rows if auth.can_read(who, a.get("room", ""))]})

    @server.get("/api/deadletters")
    async def dead_letters(request: Request):
        """Events (and room job runs) set aside because handling them failed, newest first: managers only,
        as they hold whole events of any room."""
        room = request.query_params.get("room")
        if denied := need(request, "manager", room):
            return denied
        try:
            limit = web.int_param(request, "limit", 100, 1, 10000)
        except ValueError as e:
            return web.error(400, str(e))
        if room is not None and not ROOM_RE.match(room):
            return web.error(400, "`room` must match [A-Za-z0-9_.:-]{1,64}")
        entries = await r.xrevrange(keys.dead_letters(room) if room else keys.DEAD_LETTERS, count=limit)
        total = int(await r.get(keys.DEAD_COUNT) or 0)
        return web.json({"total": total, "dead_letters": [{"id": i.decode(), **orjson.loads(f[b"d"])}
                                                       for i, f in entries]})

    @server.get("/healthz")
    async def healthz():
        state = {"parts": parts()} if parts else {}
        parts_up = all(p["up"] for p in state.get("parts", {}).values())
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                beats = await r.hgetall(keys.worker_beats("engine"))
                rooms = await r.smembers(keys.ROOMS)
                dead = await r.get(keys.DEAD_COUNT)
                connectors = await r.hgetall(keys.CONNECTORS_STATUS)
            if connectors:   # a platform that refuses is the connector's error, not livewall unhealthy
                state["connectors"] = read_status(connectors)
        except (redis.RedisError, TimeoutError) as e:
            return web.json({"ok": False, "redis": False, "error": str(e) or "no answer in time", **state}, 503)
        if not beats:
            return web.json({"ok": False, "redis": True, "engine": "no heartbeat yet", **state}, 503)
        now = time.time()
        engine = summary({w.decode(): orjson.loads(b) for w, b in beats.items()}, [x.decode() for x in rooms], now,
                         HEALTHY_HEARTBEAT_S)
        live = [w for w in engine["workers"].values() if w["live"]]
        # every room has a live worker that keeps up (dead letters are set aside, not stuck: no reason to fail)
        ok = bool(live) and not engine["unowned"] and engine["lag_s"] < HEALTHY_LAG_S and parts_up
        return web.json({"ok": ok, "redis": True, "engine_heartbeat_age_s": round(now - engine["ts"], 3),
                         "lag_s": engine["lag_s"], "rooms": len(rooms), "engine_workers": engine["workers"],
                         "unowned_rooms": engine["unowned"], "dead_letters": int(dead or 0), **state},
                        200 if ok else 503)

    @server.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def api_not_found(rest: str, request: Request):
        if denied := need(request):
            return denied
        return web.error(404, f"no such endpoint: /api/{rest}")

