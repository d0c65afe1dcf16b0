"""After the session: a review's downloads (CSV, XLSX, HTML) and its comparison with the room's earlier sessions
(the baseline), read like the review itself and checked like it (the caller must read the session's room)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from insights import baseline, export
from insights.review import records
from server import web
from server.reviews import Reviews
from server.guard import need
from settings import BASELINE_MAX_SESSIONS, BASELINE_SESSIONS, EXPORT_HTML_PRODUCTS, EXPORT_TZ
from store import archive, keys, wire


async def session_room(request: Request, session: str) -> tuple[str | None, Response | None]:
    """The room of a session the caller may read, or the response refusing it (401 before 404, then 403)."""
    if denied := need(request):
        return None, denied
    room = archive.room_of(session)
    if room is None:
        return None, web.error(404, f"unknown session {session!r}")
    return room, need(request, room=room)


def by_gmv(products: pd.DataFrame) -> list[dict]:
    """Every product row, by GMV then clickers (descending), then sku, as the product lists are."""
    if not len(products):
        return []
    cols = [c for c in ("gmv", "clickers", "sku") if c in products]
    df = products.sort_values(cols, ascending=[c == "sku" for c in cols], kind="stable")
    return records(df)


def baseline_params(request: Request, room: str) -> tuple[int, list[str] | None]:
    """`?n=` (1 to BASELINE_MAX_SESSIONS) or `?sessions=a,b` (chosen sessions of the same room); ValueError."""
    n = web.int_param(request, "n", BASELINE_SESSIONS, 1, BASELINE_MAX_SESSIONS)
    raw = request.query_params.get("sessions")
    chosen = [s for s in (raw or "").split(",") if s] or None
    if chosen and (len(chosen) > BASELINE_MAX_SESSIONS or any(archive.room_of(s) != room for s in chosen)):
        raise ValueError(f"`sessions`: at most {BASELINE_MAX_SESSIONS} session ids of room {room!r}")
    return n, chosen


def add_routes(server: FastAPI, r, data_dir: Path | None = None) -> None:
    reviews = Reviews(r, data_dir)
    data = reviews.data_dir

    @server.get("/api/sessions/{session}/export")
    async def export_review(session: str, request: Request):
        room, denied = await session_room(request, session)
        if denied:
            return denied
        fmt = request.query_params.get("format", "csv")
        if fmt not in export.FORMATS:
            return web.error(400, f"`format` must be one of {', '.join(export.FORMATS)}")
        got = await reviews.load(session)
        if got is None:
            return web.error(404, f"unknown session {session!r}")
        review, frame = got
        products = await asyncio.to_thread(by_gmv, frame)
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
            base = await baseline.for_session(r, data, room, session, started, BASELINE_SESSIONS,
                                              series=[t for t in review.get("timeline", []) if t.get("kind") == "minute"])
            body = export.html_report(review, products[:EXPORT_HTML_PRODUCTS], EXPORT_TZ,
                                      base if base["sessions"] else None).encode()
        return Response(body, media_type=export.MEDIA[fmt], headers=headers)

    @server.get("/api/sessions/{session}/baseline")
    async def session_baseline(session: str, request: Request):
        """This session against the room's earlier sessions, minute by minute from the start."""
        room, denied = await session_room(request, session)
        if denied:
            return denied
        try:
            n, chosen = baseline_params(request, room)
        except ValueError as e:
            return web.error(400, str(e))
        rows = {s["session"]: s for s in await baseline.session_rows(r, room)}
        if session not in rows:
            return web.error(404, f"unknown session {session!r}")
        series = await baseline.series_of(r, data, room, session) or []
        return web.json(await baseline.for_session(r, data, room, session, rows[session]["started"], n, chosen,
                                                   series))

    @server.get("/api/rooms/{room}/baseline")
    async def room_baseline(room: str, request: Request):
        """The baseline of the room's current session (the ghost line of the live charts), with the comparison
        so far."""
        if denied := need(request, room=room):
            return denied
        try:
            n, chosen = baseline_params(request, room)
        except ValueError as e:
            return web.error(400, str(e))
        if not await web.known_room(r, room):
            return web.error(404, f"unknown room {room!r}")
        snap = wire.read_frame(await r.get(keys.snapshot(room)))
        m = snap.metrics
        series = orjson.loads(await r.get(keys.series(room)) or b"[]")
        out = await baseline.for_session(r, data, room, m["session"], m.get("started") or m["as_of"], n, chosen,
                                         series)
        return web.json(out)

