"""What the assistant does from the tablet: put a product on stage, take it off, ask the manager for a restock.

Putting on and taking off are events like any other (`product_on`, `product_off`, CONTRACT section 1), judged
and stored by the ingest's own path (feeds/ingest.py), so the engine, the risk job and the review see them as
they see a platform's; each carries the signed-in identity in an extra field `by` and is written to the audit
log. A restock request is an alert (rule `restock_request`, its texts and audience in rules.yaml) for the
manager and the wall. Each action raises NotFound (404) or Conflict (409) for what it cannot do.
"""
from __future__ import annotations

import time
import uuid

import orjson

from feeds import ingest
from insights import alerts, audit
from insights.risk import RuleBook
from insights.rules.base import params
from store import keys, wire

RESTOCK_RULE = "restock_request"
LIVE_SKEW_S = 60.0     # a room whose clock is this close behind the wall clock is live: its events go at now
MAX_NOTE = 200         # characters of a restock note
_rules = RuleBook()


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


def event_ts(as_of: float, now: float) -> float:
    """When a tapped event happens in the room's own time. A live room's clock is the wall clock, a little
    behind: now. A room replayed faster than real time (or one replaying the past) has a clock of its own, and an
    event at `now` would be out of its order (and, in the past, jump its clock to today): its `as_of` then."""
    return now if 0 <= now - as_of <= LIVE_SKEW_S else as_of


async def _room(r, room: str) -> tuple[dict, list[dict]]:
    """The room's current metrics and every product row; NotFound / Conflict for a room nothing can go on."""
    blob = await r.get(keys.snapshot(room))
    if not blob:
        raise NotFound(f"unknown room {room!r}")
    metrics = wire.read_frame(blob).metrics
    if metrics.get("ended") is not None:
        raise Conflict(f"the session of room {room!r} has ended")
    return metrics, orjson.loads(await r.get(keys.products(room)) or b"[]")


def _product(rows: list[dict], sku: str) -> dict:
    for row in rows:
        if row["sku"] == sku:
            return row
    raise NotFound(f"unknown product {sku!r} in this session")


def _event(room: str, ts: float, type_: str, sku: str, by: str, **fields) -> dict:
    return {"id": f"tablet:{uuid.uuid4().hex}", "room": room, "ts": ts, "type": type_, "sku": sku, "by": by,
            **{k: v for k, v in fields.items() if v is not None}}


async def _send(r, events: list[dict]) -> None:
    result = await ingest.ingest_async(r, events)
    if result["rejected"]:   # the figures came from the engine: only a broken store could make them wrong
        raise Conflict(f"event refused: {result['rejected'][0]['error']}")


async def put_on(r, room: str, sku: str, by: str) -> dict:
    """`sku` on stage with its known name, price, cost and stock; whatever was on stage comes off first (one
    product is presented at a time). Returns the product_on event sent."""
    metrics, rows = await _room(r, room)
    row = _product(rows, sku)
    ts = event_ts(metrics["as_of"], time.time())
    offs = [_event(room, ts, "product_off", p["sku"], by) for p in rows if p.get("on_stage") and p["sku"] != sku]
    on = _event(room, ts, "product_on", sku, by, name=row.get("name"), price=row.get("price"),
                cost=row.get("cost"), stock=_stock(row))
    await _send(r, offs + [on])
    await audit.record(r, audit.entry("stage_on", room, by, sku=sku, name=row.get("name"), event=on["id"],
                                      replaced=[e["sku"] for e in offs]))
    return on


def _stock(row: dict) -> int | None:
    """The stock to send again: as it stands, so putting on changes nothing of it. An oversold (negative)
    stock is no valid field: left out, the count goes on from where it is."""
    stock = row.get("stock")
    return stock if stock is not None and stock >= 0 else None


async def take_off(r, room: str, sku: str | None, by: str) -> list[dict]:
    """The product on stage (or `sku`) off stage; Conflict when nothing is on stage."""
    metrics, rows = await _room(r, room)
    on_stage = [p for p in rows if p.get("on_stage") and (sku is None or p["sku"] == sku)]
    if not on_stage:
        raise Conflict("no product is on stage" if sku is None else f"{sku!r} is not on stage")
    ts = event_ts(metrics["as_of"], time.time())
    offs = [_event(room, ts, "product_off", p["sku"], by) for p in on_stage]
    await _send(r, offs)
    for e in offs:
        await audit.record(r, audit.entry("stage_off", room, by, sku=e["sku"], event=e["id"]))
    return offs


async def request_restock(r, room: str, sku: str, note: str, by: str) -> dict:
    """An alert asking the manager to restock `sku`: who asked, its name and stock, the note. A second request
    for the same product while the first is open adds to its count instead of opening another."""
    metrics, rows = await _room(r, room)
    row = _product(rows, sku)
    p = params(_rules.current(), room, RESTOCK_RULE)
    figures = {"sku": sku, "name": row.get("name") or sku, "stock": row.get("stock"), "user": by,
               "note": note[:MAX_NOTE]}
    now = time.time()
    for old in await alerts.recent(r, room=room, limit=200):
        if old["rule"] == RESTOCK_RULE and old.get("subject") == sku and old["state"] == "firing":
            record = {**old, "figures": figures, "count": old["count"] + 1, "updated": now,
                      "message": alerts.render(p.get("message"), figures, sku)}
            break
    else:
        record = {"id": alerts.new_id(), "rule": RESTOCK_RULE, "room": room, "subject": sku,
                  "severity": p["severity"], "state": "firing", "started": now, "updated": now, "figures": figures,
                  "title": alerts.render(p.get("title"), figures, sku),
                  "message": alerts.render(p.get("message"), figures, sku), "session": metrics.get("session"),
                  "as_of": metrics.get("as_of"), "audience": list(p.get("audience") or ()), "acknowledged_by": None,
                  "acknowledged_at": None, "resolved_at": None, "count": 1}
    await alerts.save_async(r, record)
    await audit.record(r, audit.entry("restock_request", room, by, sku=sku, name=row.get("name"), alert=record["id"],
                                      note=figures["note"]))
    return record
