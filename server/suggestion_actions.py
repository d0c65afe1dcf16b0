"""Acting on ad-spend suggestions over HTTP: approve or reject, the per-room ads config, the audit log.

    POST /api/suggestions/<id>/approve   (manager)  -> {"suggestion": {...}}  (applied through the adapter)
    POST /api/suggestions/<id>/reject    (manager)  -> {"suggestion": {...}}
    GET  /api/rooms/<room>/ads/config    (its readers)  -> {"room", "auto_apply", "max_step_pct",
                                                           "max_spend_per_hour", "target_roi"}
    PUT  /api/rooms/<room>/ads/config    (admin) any of those fields  -> the config after the change
    GET  /api/audit?room=<room>&limit=<n>  (manager)  -> {"audit": [...]}, newest first, of readable rooms

Who decided or changed is the signed-in identity (CONTRACT section 3): a `by` in a body is ignored.

A suggestion's id carries its room (`<room>~<hex>`), so no index is needed to find it. The room's list is
also rewritten by the ads job every run; both writers change it inside WATCH/MULTI, so neither loses the
other's change.
"""
from __future__ import annotations

import time

import orjson
import redis
from fastapi import FastAPI, Request
from fastapi.responses import Response

from feeds.schema import ROOM_RE
from insights import adapter, ads, audit
from server import auth
from server.guard import identity, need
from store import keys

MAX_AUDIT = 1000


def _json(obj, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def _error(status: int, reason: str) -> Response:
    return _json({"error": reason}, status)


def _room_of(sid: str) -> str | None:
    room, sep, _ = sid.rpartition("~")
    return room if sep and ROOM_RE.match(room) else None


async def _body(request: Request) -> dict:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise ValueError("body is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


class Conflict(Exception):
    pass


async def _update(r, room: str, sid: str, change) -> dict | None:
    """Apply change(suggestion) to one suggestion of the room's list atomically; None if it is not there."""
    key = keys.suggestions(room)
    async with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                items = orjson.loads(await pipe.get(key) or b"[]")
                found = next((s for s in items if s.get("id") == sid), None)
                if found is None:
                    await pipe.unwatch()
                    return None
                change(found)
                pipe.multi()
                pipe.set(key, orjson.dumps(items))
                await pipe.execute()
                return found
            except redis.WatchError:
                continue


async def _as_of(r, room: str) -> float | None:
    snap = await r.get(keys.snapshot(room))
    return orjson.loads(snap)["metrics"]["as_of"] if snap else None


async def _notify(r, room: str) -> None:
    sug, rec = await r.mget(keys.suggestions(room), keys.recommendations(room))
    await r.publish(keys.NOTICE_CHANNEL, orjson.dumps({"kind": "insight", "room": room,
                                                       "suggestions": orjson.loads(sug or b"[]"),
                                                       "recommendations": orjson.loads(rec or b"[]")}))


def _validate_config(body: dict) -> dict:
    out = {}
    for k, v in body.items():
        if k == "by":
            continue
        if k not in ads.CONFIG_DEFAULTS:
            raise ValueError(f"unknown setting {k!r}; one of {', '.join(ads.CONFIG_DEFAULTS)}")
        if k == "auto_apply":
            if not isinstance(v, bool):
                raise ValueError("auto_apply must be true or false")
        elif k == "max_step_pct":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 100:
                raise ValueError("max_step_pct must be a number in (0, 100]")
        elif v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
            raise ValueError(f"{k} must be a number > 0, or null")
        out[k] = v
    return out


def add_routes(server: FastAPI, r) -> None:
    platform = adapter.SimulatedAdapter(r)

    async def judge(sid: str, request: Request, verdict: str):
        if denied := need(request, "manager"):
            return denied
        room = _room_of(sid)
        if room is None:
            return _error(404, f"unknown suggestion {sid!r}")
        if denied := need(request, "manager", room):
            return denied
        by = identity(request).name
        as_of = await _as_of(r, room)
        now = time.time()

        def mark(s):
            if s["state"] != "proposed":
                raise Conflict(f"suggestion is already {s['state']}")
            if verdict == "approved" and s["action"] == "hold":
                raise Conflict("nothing to apply: the suggestion is to hold")
            s.update(state=verdict, decided_by=by, decided_at=now, decided_as_of=as_of)

        try:
            s = await _update(r, room, sid, mark)
        except Conflict as e:
            return _error(409, str(e))
        if s is None:
            return _error(404, f"unknown or superseded suggestion {sid!r}")
        await audit.record(r, audit.entry(verdict, room, by, s))
        if verdict == "approved":
            try:
                result = await adapter.apply(platform, s, by, as_of)
            except redis.RedisError as e:
                await audit.record(r, audit.entry("failed", room, by, s, error=str(e)))
                await _notify(r, room)
                return _error(409, f"approved, but the ad platform did not take the change: {e}")
            control = orjson.loads(result[0])
            s = await _update(r, room, sid, lambda x: x.update(state="applied", applied_at=time.time(),
                                                                control_version=control["version"]))
            await audit.record(r, audit.entry("applied", room, by, s, control=control))
        await _notify(r, room)
        return _json({"suggestion": s})

    @server.post("/api/suggestions/{sid}/approve")
    async def approve(sid: str, request: Request):
        return await judge(sid, request, "approved")

    @server.post("/api/suggestions/{sid}/reject")
    async def reject(sid: str, request: Request):
        return await judge(sid, request, "rejected")

    async def known(room: str) -> bool:
        return bool(ROOM_RE.match(room)) and bool(await r.exists(keys.snapshot(room)))

    async def read_config(room: str) -> dict:
        raw = await r.get(keys.ads_config(room))
        return {**ads.CONFIG_DEFAULTS, **(orjson.loads(raw) if raw else {})}

    @server.get("/api/rooms/{room}/ads/config")
    async def get_config(room: str, request: Request):
        if denied := need(request, room=room):
            return denied
        if not await known(room):
            return _error(404, f"unknown room {room!r}")
        return _json({"room": room, **await read_config(room)})

    @server.put("/api/rooms/{room}/ads/config")
    async def put_config(room: str, request: Request):
        if denied := need(request, "admin", room):
            return denied
        if not await known(room):
            return _error(404, f"unknown room {room!r}")
        try:
            change = _validate_config(await _body(request))
        except ValueError as e:
            return _error(400, str(e))
        by = identity(request).name
        config = {**await read_config(room), **change}
        await r.set(keys.ads_config(room), orjson.dumps(config))
        await audit.record(r, audit.entry("config", room, by, change=change, config=config))
        return _json({"room": room, **config})

    @server.get("/api/audit")
    async def get_audit(request: Request):
        room = request.query_params.get("room")
        if denied := need(request, "manager", room):
            return denied
        raw = request.query_params.get("limit", "200")
        if not raw.isdigit() or not 0 < int(raw) <= MAX_AUDIT:
            return _error(400, f"`limit` must be an integer from 1 to {MAX_AUDIT}")
        who = identity(request)
        rows = await audit.read(r, room, int(raw))
        return _json({"audit": [e for e in rows if auth.can_read(who, e.get("room", ""))]})
