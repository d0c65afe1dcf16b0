"""Acting on alerts over HTTP: `POST /api/alerts/<id>/ack` with `{"by": "<who>"}` (the body may be left out).

Replies 200 `{"alert": {...}}` with the record as stored, 404 for an unknown id, 400 for a bad body.
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
from store import keys

MAX_BY = 64
MAX_BODY = 4096


def _json(obj, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def _who(body: bytes) -> str:
    if len(body) > MAX_BODY:
        raise ValueError(f"body larger than {MAX_BODY} bytes")
    if not body.strip():
        return "anonymous"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("body is not JSON") from None
    by = data.get("by", "anonymous") if isinstance(data, dict) else None
    if not isinstance(by, str) or not 1 <= len(by) <= MAX_BY:
        raise ValueError(f"`by` must be a string of 1 to {MAX_BY} characters")
    return by


def add_routes(server: FastAPI, r) -> None:
    cas = r.register_script(CAS_LUA)

    @server.post("/api/alerts/{alert_id}/ack")
    async def ack(alert_id: str, request: Request):
        try:
            by = _who(await request.body())
        except ValueError as e:
            return _json({"error": str(e)}, 400)
        while True:
            blob = await r.hget(keys.ALERTS_BY_ID, alert_id)
            if blob is None:
                return _json({"error": f"unknown alert {alert_id!r}"}, 404)
            record = orjson.loads(blob)
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
