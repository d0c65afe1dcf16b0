"""The connectors' routes (feeds/connectors/ does the work):

    POST /api/connectors/<name>/push          a platform's live-room push; its signature is its credential
                                             (feeds/connectors/push.py) -> {"accepted", "duplicates",
                                             "rejected", "ignored"}; 401 on a bad signature, nothing stored
    GET  /api/connectors                     (manager) -> {"connectors": {name: status}} (feeds/connectors/base.py)
    GET  /api/sessions/<session>/compass     (its room's readers) -> {"session", "room", "imported", "rows"}
    POST /api/sessions/<session>/compass     (manager) {"filename", "content_base64"} -> the same, after import
"""
from __future__ import annotations

import base64
import binascii

import orjson
import redis
from fastapi import FastAPI, Request

from feeds import ingest
from feeds.connectors import base, compass, push
from server import web
from server.guard import need
from settings import PUSH_MAX_BODY_BYTES
from store import keys

MAX_COMPASS_BYTES = 5 * 1024 * 1024


def add_routes(server: FastAPI, r, connectors: dict[str, dict] | None = None) -> None:
    """`connectors`: the config (feeds/connectors/config.py `load`); its `push` entries get a push route, each
    with its secret read now (a missing one fails the start, not the first push)."""
    pushes = {}
    for name, cfg in (connectors or {}).items():
        if cfg["kind"] == "push":
            from feeds.connectors.config import secret
            rooms = {str((spec or {}).get("room_id")): room for room, spec in (cfg.get("rooms") or {}).items()}
            pushes[name] = {"secret": secret(cfg, "secret"), "platform": cfg.get("platform", "douyin"),
                            "rooms": rooms}

    @server.post("/api/connectors/{name}/push")
    async def receive_push(name: str, request: Request):
        conf = pushes.get(name)
        if conf is None:
            return web.error(404, f"no push connector {name!r}")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > PUSH_MAX_BODY_BYTES:
            return web.error(413, f"body larger than {PUSH_MAX_BODY_BYTES} bytes")
        body = await request.body()
        if len(body) > PUSH_MAX_BODY_BYTES:
            return web.error(413, f"body larger than {PUSH_MAX_BODY_BYTES} bytes")
        try:
            push.verify(conf["secret"], request.headers.get("x-livewall-timestamp"),
                        request.headers.get("x-livewall-signature"), body)
        except push.BadSignature as e:
            return web.error(401, f"push refused: {e}")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return web.error(400, "body is not JSON")
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            return web.error(400, "body must be {\"room_id\", \"messages\": [...]}")
        room = conf["rooms"].get(str(doc.get("room_id")))
        if room is None:
            return web.error(404, f"live room {doc.get('room_id')!r} is not mapped to a room of this connector")
        events, ignored = push.to_events(name, conf["platform"], room, doc["messages"])
        try:
            result = await ingest.ingest_async(r, events) if events else \
                {"accepted": 0, "duplicates": 0, "rejected": []}
        except (redis.RedisError, TimeoutError) as e:
            return web.unavailable(f"{e or 'no answer in time'}; send the push again (its ids make it safe)")
        return web.json({**result, "ignored": ignored})

    @server.get("/api/connectors")
    async def statuses(request: Request):
        if denied := need(request, "manager"):
            return denied
        return web.json({"connectors": base.read_status(await r.hgetall(keys.CONNECTORS_STATUS))})

    async def session_room(session: str) -> str | None:
        room = await r.hget(keys.SESSIONS, session)
        return room.decode() if room else None

    async def comparison(session: str, room: str) -> dict:
        raw, final, snap = await r.mget(keys.compass(session), keys.session_final(room, session), keys.snapshot(room))
        imported = orjson.loads(raw) if raw else None
        totals = orjson.loads(final)["metrics"] if final else None
        if totals is None and snap:
            from store import wire
            m = wire.read_frame(snap).metrics
            totals = m if m.get("session") == session else None
        rows = compass.compare(imported, totals or {}) if imported else []
        return {"session": session, "room": room, "imported": imported, "rows": rows}

    @server.get("/api/sessions/{session}/compass")
    async def get_compass(session: str, request: Request):
        if denied := need(request):
            return denied
        room = await session_room(session)
        if room is None:
            return web.error(404, f"unknown session {session!r}")
        if denied := need(request, room=room):
            return denied
        return web.json(await comparison(session, room))

    @server.post("/api/sessions/{session}/compass")
    async def post_compass(session: str, request: Request):
        if denied := need(request, "manager"):
            return denied
        room = await session_room(session)
        if room is None:
            return web.error(404, f"unknown session {session!r}")
        if denied := need(request, "manager", room):
            return denied
        try:
            doc = await web.body(request)
            name = str(doc.get("filename") or "compass.csv")
            content = base64.b64decode(str(doc.get("content_base64") or ""), validate=True)
            if not content or len(content) > MAX_COMPASS_BYTES:
                raise compass.CompassError(f"send the file as content_base64, 1 byte to {MAX_COMPASS_BYTES}")
            parsed = compass.parse(name, content)
        except (web.BadBody, binascii.Error, compass.CompassError) as e:
            return web.error(400, str(e))
        await r.set(keys.compass(session), orjson.dumps(compass.record(name, parsed, web.who_acted(request))))
        return web.json(await comparison(session, room))
