"""The audit log of ad-spend changes (every proposal, decision, applied change and config edit, with who,
when and the figures at that moment) and of the tablet's actions (a product put on or taken off stage, a restock
asked for: insights/stage.py).

One Redis stream, `keys.AUDIT`, field `a` = the entry as JSON:
    {"ts": wall-clock epoch seconds, "kind": proposed|superseded|approved|rejected|applied|failed|config
     |stage_on|stage_off|restock_request,
     "room", "by", "suggestion" (id or null), "campaign", "action", "figures", ... kind-specific fields}

Like the adapter, `record` returns what the client returns (an awaitable from an asyncio client).
"""
from __future__ import annotations

import time

import orjson

from store import keys

MAXLEN = 200_000   # months of decisions for a few dozen rooms; trimmed approximately, so cheaply


def entry(kind: str, room: str, by: str, suggestion: dict | None = None, **extra) -> dict:
    out = {"ts": time.time(), "kind": kind, "room": room, "by": by}
    if suggestion is not None:
        out.update(suggestion=suggestion["id"], campaign=suggestion["campaign"], action=suggestion["action"],
                   figures=suggestion.get("figures"), new_budget=suggestion.get("new_budget"),
                   new_roi_target=suggestion.get("new_roi_target"))
    out.update(extra)
    return out


def record(r, e: dict):
    return r.xadd(keys.AUDIT, {"a": orjson.dumps(e)}, maxlen=MAXLEN, approximate=True)


async def read(r, room: str | None, limit: int, scan_max: int = 20_000) -> list[dict]:
    """Newest first. The stream holds every room, so a room's entries are found by scanning back at most
    `scan_max` entries."""
    out: list[dict] = []
    last = "+"
    scanned = 0
    while len(out) < limit and scanned < scan_max:
        chunk = await r.xrevrange(keys.AUDIT, max=last, count=1000)
        if not chunk:
            break
        for sid, fields in chunk:
            e = orjson.loads(fields[b"a"])
            if room is None or e.get("room") == room:
                out.append({"id": sid.decode(), **e})
                if len(out) == limit:
                    break
        scanned += len(chunk)
        last = "(" + chunk[-1][0].decode()
    return out
