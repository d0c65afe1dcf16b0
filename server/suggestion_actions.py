"""The routes of ad-spend suggestions; the actions themselves are in insights/suggestions.py.

    POST /api/suggestions/<id>/approve   (manager)  -> {"suggestion": {...}}  (applied through the adapter)
    POST /api/suggestions/<id>/reject    (manager)  -> {"suggestion": {...}}
        409 {"error"} for a hold (state `noted`) or one already decided; 409 {"error", "superseded_by"} for a
        snapshot a newer one replaced: the id names exactly the figures the person saw
    GET  /api/rooms/<room>/ads/config    (its readers)  -> {"room", "auto_apply", "max_step_pct",
                                                           "max_spend_per_hour", "target_roi"}
    PUT  /api/rooms/<room>/ads/config    (admin) any of those fields  -> the config after the change
    GET  /api/audit?room=<room>&limit=<n>  (manager)  -> {"audit": [...]}, newest first, of readable rooms

Who decided or changed is the signed-in identity (CONTRACT section 3): a `by` in a body is ignored.
"""
from __future__ import annotations

from fastapi import FastAPI, Request

from insights import adapter, audit, suggestions
from server import auth, web
from server.guard import identity, need

MAX_AUDIT = 1000


def add_routes(server: FastAPI, r) -> None:
    platform = adapter.SimulatedAdapter(r)

    async def judge(sid: str, request: Request, verdict: str):
        if denied := need(request, "manager"):
            return denied
        room = suggestions.room_of(sid)
        if room is None:
            return web.error(404, f"unknown suggestion {sid!r}")
        if denied := need(request, "manager", room):
            return denied
        try:
            s = await suggestions.judge(r, platform, room, sid, verdict, web.who_acted(request))
        except suggestions.NotFound as e:
            return web.error(404, str(e))
        except suggestions.Superseded as e:
            return web.json({"error": str(e), "superseded_by": e.by}, 409)
        except suggestions.Conflict as e:
            return web.error(409, str(e))
        return web.json({"suggestion": s})

    @server.post("/api/suggestions/{sid}/approve")
    async def approve(sid: str, request: Request):
        return await judge(sid, request, "approved")

    @server.post("/api/suggestions/{sid}/reject")
    async def reject(sid: str, request: Request):
        return await judge(sid, request, "rejected")

    @server.get("/api/rooms/{room}/ads/config")
    async def get_config(room: str, request: Request):
        if denied := need(request, room=room):
            return denied
        if not await web.known_room(r, room):
            return web.error(404, f"unknown room {room!r}")
        return web.json({"room": room, **await suggestions.config(r, room)})

    @server.put("/api/rooms/{room}/ads/config")
    async def put_config(room: str, request: Request):
        if denied := need(request, "admin", room):
            return denied
        if not await web.known_room(r, room):
            return web.error(404, f"unknown room {room!r}")
        try:
            config = await suggestions.change_config(r, room, await web.body(request), web.who_acted(request))
        except ValueError as e:
            return web.error(400, str(e))
        return web.json({"room": room, **config})

    @server.get("/api/audit")
    async def get_audit(request: Request):
        room = request.query_params.get("room")
        if denied := need(request, "manager", room):
            return denied
        try:
            limit = web.int_param(request, "limit", 200, 1, MAX_AUDIT)
        except ValueError as e:
            return web.error(400, str(e))
        who = identity(request)
        rows = await audit.read(r, room, limit)
        return web.json({"audit": [e for e in rows if auth.can_read(who, e.get("room", ""))]})
