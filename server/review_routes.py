"""After the session: a review's downloads (CSV, XLSX, HTML) and its comparison with the room's earlier sessions
(the baseline), read like the review itself and checked like it (the caller must read the session's room)."""
from __future__ import annotations

import asyncio

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from insights import baseline, export
from insights.alerts import recent as recent_alerts
from insights.review import build_review
from server import web
from server.guard import need
from settings import BASELINE_MAX_SESSIONS, BASELINE_SESSIONS, EXPORT_HTML_PRODUCTS, EXPORT_TZ
from store import keys, wire


async def session_room(r, request: Request, session: str) -> tuple[str | None, Response | None]:
    """The room of a session the caller may read, or the response refusing it (401 before 404, then 403)."""
    if denied := need(request):
        return None, denied
    room = await r.hget(keys.SESSIONS, session)
    if room is None:
        return None, web.error(404, f"unknown session {session!r}")
    room = room.decode()
    return room, need(request, room=room)


async def full_review(r, room: str, session: str) -> dict | None:
    """The review with every product (an export writes them all), from the frozen figures of an ended session
    or the live ones of the running session; None when neither is stored."""
    final, late = await r.mget(keys.session_final(room, session), keys.session_late(room, session))
    if final:
        data = {**orjson.loads(final), "late": orjson.loads(late) if late else None}
    else:
        blob = await r.get(keys.snapshot(room))
        snap = wire.read_frame(blob) if blob else None
        if not snap or snap.metrics["session"] != session:
            return None
        data = {"room": room, "platform": snap.platform, "metrics": snap.metrics,
                "products": orjson.loads(await r.get(keys.products(room)) or b"[]"),
                "series": orjson.loads(await r.get(keys.series(room)) or b"[]")}
    alerts = await recent_alerts(r, room=room, limit=500)
    return build_review(session, data, [a for a in alerts if a.get("session") in (None, session)])


def by_gmv(products: list[dict]) -> list[dict]:
    return sorted(products, key=lambda p: (-(p.get("gmv") or 0), -(p.get("clickers") or 0), str(p.get("sku"))))


def baseline_params(request: Request) -> tuple[int, list[str] | None]:
    """`?n=` (1 to BASELINE_MAX_SESSIONS) or `?sessions=a,b` (chosen sessions of the same room)."""
    n = web.int_param(request, "n", BASELINE_SESSIONS, 1, BASELINE_MAX_SESSIONS)
    raw = request.query_params.get("sessions")
    chosen = [s for s in (raw or "").split(",") if s][:BASELINE_MAX_SESSIONS] or None
    return n, chosen


def add_routes(server: FastAPI, r) -> None:
    @server.get("/api/sessions/{session}/export")
    async def export_review(session: str, request: Request):
        room, denied = await session_room(r, request, session)
        if denied:
            return denied
        fmt = request.query_params.get("format", "csv")
        if fmt not in export.FORMATS:
            return web.error(400, f"`format` must be one of {', '.join(export.FORMATS)}")
        review = await full_review(r, room, session)
        if review is None:
            return web.error(404, f"session {session!r} has no stored figures")
        products = by_gmv(review.pop("products"))
        headers = {"Content-Disposition": f'attachment; filename="{export.filename(review, fmt)}"',
                   "Cache-Control": "no-store"}
        if fmt == "csv":
            return StreamingResponse(export.csv_chunks(review, products, EXPORT_TZ), media_type=export.MEDIA[fmt],
                                     headers=headers)
        if fmt == "xlsx":
            # a 100,000-product workbook takes seconds: written in a thread, the server keeps answering
            body = await asyncio.to_thread(export.xlsx_bytes, review, products, EXPORT_TZ)
        else:
            started = (review.get("totals") or {}).get("started") or 0
            base = await baseline.for_session(r, room, session, started, BASELINE_SESSIONS,
                                              series=[t for t in review.get("timeline", []) if t.get("kind") == "minute"])
            body = export.html_report(review, products[:EXPORT_HTML_PRODUCTS], EXPORT_TZ,
                                      base if base["sessions"] else None).encode()
        return Response(body, media_type=export.MEDIA[fmt], headers=headers)

    @server.get("/api/sessions/{session}/baseline")
    async def session_baseline(session: str, request: Request):
        """This session against the room's earlier sessions, minute by minute from the start."""
        room, denied = await session_room(r, request, session)
        if denied:
            return denied
        try:
            n, chosen = baseline_params(request)
        except ValueError as e:
            return web.error(400, str(e))
        rows = {s["session"]: s for s in await baseline.session_rows(r, room)}
        if session not in rows:
            return web.error(404, f"session {session!r} has no stored figures")
        series = await baseline.series_of(r, room, session)
        if series is None:
            series = orjson.loads(await r.get(keys.series(room)) or b"[]")
        return web.json(await baseline.for_session(r, room, session, rows[session]["started"], n, chosen, series))

    @server.get("/api/rooms/{room}/baseline")
    async def room_baseline(room: str, request: Request):
        """The baseline of the room's current session (the ghost line of the live charts), with the comparison
        so far."""
        if denied := need(request, room=room):
            return denied
        try:
            n, chosen = baseline_params(request)
        except ValueError as e:
            return web.error(400, str(e))
        if not await web.known_room(r, room):
            return web.error(404, f"unknown room {room!r}")
        snap = wire.read_frame(await r.get(keys.snapshot(room)))
        m = snap.metrics
        series = orjson.loads(await r.get(keys.series(room)) or b"[]")
        out = await baseline.for_session(r, room, m["session"], m.get("started") or m["as_of"], n, chosen, series)
        return web.json(out)

