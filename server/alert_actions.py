"""Acting on alerts over HTTP: `POST /api/alerts/<id>/ack` (an assistant for its rooms, or a manager).

Replies 200 `{"alert": {...}}` with the record as stored, 404 for an unknown id, 403 for a room the caller may
not act on. Who acknowledged is the signed-in identity; a body, if any, is not read (a `by` in it names no one).
Acknowledging twice keeps the first acknowledgement. The change goes to the alert history and to every screen,
like the risk job's own changes (insights/alerts.py), and a compare-and-set keeps either side from
overwriting the other.
"""
from __future__ import annotations

import time

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from insights.alerts import CAS_LUA, HISTORY_MAXLEN, acknowledge, notice
from server.guard import identity, need
from store import keys


def _json(obj, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def add_routes(server: FastAPI, r) -> None:
    cas = r.register_script(CAS_LUA)

    @server.post("/api/alerts/{alert_id}/ack")
    async def ack(alert_id: str, request: Request):
        if denied := need(request, "assistant"):
            return denied
        by = identity(request).name
        while True:
            blob = await r.hget(keys.ALERTS_BY_ID, alert_id)
            if blob is None:
                return _json({"error": f"unknown alert {alert_id!r}"}, 404)
            record = orjson.loads(blob)
            if denied := need(request, "assistant", record.get("room")):
                return denied
            if record["acknowledged_at"] is not None:
                return _json({"alert": record})
            new = acknowledge(record, by, time.time())
            if await cas(keys=[keys.ALERTS_BY_ID], args=[alert_id, blob, orjson.dumps(new)]) == 1:
                break   # else the risk job saved it meanwhile: read it again
        pipe = r.pipeline(transaction=False)
        pipe.xadd(keys.ALERTS, {"a": orjson.dumps(new)}, maxlen=HISTORY_MAXLEN, approximate=True)
        pipe.publish(keys.NOTICE_CHANNEL, notice(new))
        await pipe.execute()
        return _json({"alert": new})
