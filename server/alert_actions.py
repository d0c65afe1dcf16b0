"""The route of acting on alerts: `POST /api/alerts/<id>/ack` (an assistant for its rooms, or a manager); the
acknowledgement itself is insights.alerts.acknowledge_stored.

Replies 200 `{"alert": {...}}` with the record as stored, 404 for an unknown id, 403 for a room the caller may
not act on. Who acknowledged is the signed-in identity; a body, if any, is not read (a `by` in it names no one).
"""
from __future__ import annotations

from fastapi import FastAPI, Request

from insights import alerts
from server import web
from server.guard import need


def add_routes(server: FastAPI, r) -> None:
    @server.post("/api/alerts/{alert_id}/ack")
    async def ack(alert_id: str, request: Request):
        if denied := need(request, "assistant"):
            return denied
        record = await alerts.find(r, alert_id)
        if record is None:
            return web.error(404, f"unknown alert {alert_id!r}")
        # an alert's room never changes: checked once, it holds for the compare-and-set that follows
        if denied := need(request, "assistant", record.get("room")):
            return denied
        new = await alerts.acknowledge_stored(r, alert_id, web.who_acted(request))
        if new is None:   # trimmed away meanwhile
            return web.error(404, f"unknown alert {alert_id!r}")
        return web.json({"alert": new})
