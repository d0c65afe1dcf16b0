"""The tablet's routes; the actions themselves are in insights/stage.py. All need an assistant of the room (or a
manager); who acted is the signed-in identity, never a name in the body.

    POST /api/rooms/<room>/stage        {"sku"}           -> {"event": {...product_on}}
    POST /api/rooms/<room>/stage/off    {"sku"?}          -> {"events": [{...product_off}]}
    POST /api/rooms/<room>/restock      {"sku", "note"?}  -> {"alert": {...}}

400 for a body without a proper sku, 404 for an unknown room or product, 409 when the session has ended or
nothing is on stage to take off.
"""
from __future__ import annotations

from fastapi import FastAPI, Request

from insights import stage
from server import web
from server.guard import need


def _text(body: dict, field: str, required: bool, limit: int = 128) -> str | None:
    value = body.get(field)
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise web.BadBody(f"`{field}` must be a string of 1 to {limit} characters")
    return value


def add_routes(server: FastAPI, r) -> None:
    async def act(request: Request, room: str, action):
        if denied := need(request, "assistant", room):
            return denied
        try:
            body = await web.body(request)
            return web.json(await action(body, web.who_acted(request)))
        except web.BadBody as e:
            return web.error(400, str(e))
        except stage.NotFound as e:
            return web.error(404, str(e))
        except stage.Conflict as e:
            return web.error(409, str(e))

    @server.post("/api/rooms/{room}/stage")
    async def put_on(room: str, request: Request):
        async def action(body, by):
            return {"event": await stage.put_on(r, room, _text(body, "sku", True), by)}
        return await act(request, room, action)

    @server.post("/api/rooms/{room}/stage/off")
    async def take_off(room: str, request: Request):
        async def action(body, by):
            return {"events": await stage.take_off(r, room, _text(body, "sku", False), by)}
        return await act(request, room, action)

    @server.post("/api/rooms/{room}/restock")
    async def restock(room: str, request: Request):
        async def action(body, by):
            note = _text(body, "note", False, stage.MAX_NOTE) or ""
            return {"alert": await stage.request_restock(r, room, _text(body, "sku", True), note, by)}
        return await act(request, room, action)
