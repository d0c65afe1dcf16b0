"""Sessions across rooms by date (`GET /api/sessions`): the rooms' session lists in Redis, plus the archive's
index for any archived session whose row Redis no longer has."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from store import keys, wire


def _bound(raw: str, tz, end: bool) -> float:
    try:
        return float(raw)   # epoch seconds
    except ValueError:
        pass
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"`{'to' if end else 'from'}` must be a date (YYYY-MM-DD) or epoch seconds") from None
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp()


def date_span(params) -> tuple[float, float]:
    """[from, to) in epoch seconds: `from` and `to` are dates (YYYY-MM-DD, `to` taking its whole day) in the
    time zone `tz` (an IANA name, default UTC), or epoch seconds; either may be left out."""
    try:
        tz = ZoneInfo(params.get("tz") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("`tz` must be an IANA time zone name, e.g. Asia/Shanghai") from None
    lo = _bound(params["from"], tz, False) if params.get("from") else float("-inf")
    hi = _bound(params["to"], tz, True) if params.get("to") else float("inf")
    if lo > hi:
        raise ValueError("`from` is after `to`")
    return lo, hi


async def gather(r, rooms: list[str], archived_index) -> list[dict]:
    """Every session of these rooms: session, room, platform, title, started, ended, gmv, archived."""
    if not rooms:
        return []
    snaps = await r.mget([keys.snapshot(n) for n in rooms])
    platform = {n: wire.read_frame(b).platform if b else None for n, b in zip(rooms, snaps)}
    out: dict[str, dict] = {}
    for room in rooms:
        for raw in (await r.hgetall(keys.session_list(room))).values():
            s = orjson.loads(raw)
            out[s["session"]] = {**s, "room": room, "platform": platform[room], "archived": False}
    if out:
        ids = list(out)
        for sid, mark in zip(ids, await r.hmget(keys.ARCHIVED, ids)):
            out[sid]["archived"] = mark is not None
    wanted = set(rooms)
    for row in archived_index(rooms):
        if row["room"] in wanted and row["session"] not in out:
            out[row["session"]] = {k: row.get(k) for k in ("session", "room", "platform", "title", "started",
                                                           "ended", "gmv")} | {"archived": True}
    return list(out.values())


def pick(rows: list[dict], span: tuple[float, float], platform: str | None) -> list[dict]:
    lo, hi = span
    rows = [s for s in rows if lo <= s["started"] < hi and platform in (None, s.get("platform"))]
    rows.sort(key=lambda s: (s["started"], s["session"]), reverse=True)
    return rows
