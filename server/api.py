"""The read side of the HTTP API (CONTRACT section 3), served from what the engine and the insight jobs
keep in Redis: nothing here computes a metric."""
from __future__ import annotations

import asyncio
import time
from typing import Callable

import orjson
import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from feeds.schema import ROOM_RE
from insights.alerts import recent as recent_alerts
from insights.review import build_review
from server import auth, web
from server.guard import identity, need
from settings import HEALTH_TIMEOUT_S
from store import keys, wire
from store.connect import mget
from store.leases import summary

HEALTHY_HEARTBEAT_S = 5.0
HEALTHY_LAG_S = 5.0


def add_routes(server: FastAPI, r: redis.asyncio.Redis, parts: Callable[[], dict] | None = None) -> None:
    """`parts`: the supervised parts' state, for /healthz (only `python app.py` has a supervisor)."""
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
        if denied := need(request, room=room):
            return denied
        try:
            limit = web.int_param(request, "limit", 100, 0, 100000)
            offset = web.int_param(request, "offset", 0, 0, 10 ** 12)
        except ValueError as e:
            return web.error(400, str(e))
        if not await web.known_room(r, room):
            return unknown(room)
        rows = orjson.loads(await r.get(keys.products(room)) or b"[]")
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
        rows.sort(key=lambda s: s["started"], reverse=True)
        return web.json({"sessions": rows})

    @server.get("/api/sessions/{session}/review")
    async def review(session: str, request: Request):
        if denied := need(request):
            return denied
        room = await r.hget(keys.SESSIONS, session)
        if room is None:
            return web.error(404, f"unknown session {session!r}")
        room = room.decode()
        if denied := need(request, room=room):
            return denied
        final, late = await r.mget(keys.session_final(room, session), keys.session_late(room, session))
        if final:
            data = {**orjson.loads(final), "late": orjson.loads(late) if late else None}
        else:
            snap = await snapshot(room)
            if not snap or snap.metrics["session"] != session:
                return web.error(404, f"session {session!r} has no stored figures")
            data = {"room": room, "platform": snap.platform, "metrics": snap.metrics,
                    "products": orjson.loads(await r.get(keys.products(room)) or b"[]"),
                    "series": orjson.loads(await r.get(keys.series(room)) or b"[]")}
        alerts = await recent_alerts(r, room=room, limit=500)
        return web.json(build_review(session, data, [a for a in alerts if a.get("session") in (None, session)]))

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

