"""The past in the present: a session against the same room's earlier sessions, minute by minute from its start.

The baseline at minute k (k = 0 is the session's first minute) is the **mean** of the earlier sessions' figure at
their own minute k, over those sessions that lasted that long (`sessions` says how many did): a mean, not a
median, because with the usual 3–10 sessions a median jumps from one session to another, and a team reads
"on average, by now, we had …". Sessions are the last N ended ones of the room before this one (N a setting,
`?n=`), or the ones named.

The comparison puts each figure of the session beside the baseline over the minutes both have, worst first:
GMV, visits and paid orders summed, online averaged.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from settings import BASELINE_CACHE_S
from store import archive, keys, wire

FIELDS = ("gmv", "online", "visits", "paid_orders")
SUMMED = ("gmv", "visits", "paid_orders")   # over the compared minutes; online is averaged


def by_minute(series: list[dict]) -> list[dict]:
    """A session's series keyed by minute from its start (gaps cannot happen: the engine zero-fills)."""
    rows = sorted(series, key=lambda r: r["minute"])
    if not rows:
        return []
    t0 = rows[0]["minute"]
    return [{"minute_from_start": int((r["minute"] - t0) // 60), **{f: r.get(f) or 0 for f in FIELDS}} for r in rows]


def baseline(earlier: list[list[dict]]) -> list[dict]:
    """Minute k → the mean of each figure over the earlier sessions that have a minute k."""
    sums: dict[int, dict] = {}
    for series in earlier:
        for row in by_minute(series):
            acc = sums.setdefault(row["minute_from_start"], {"sessions": 0, **{f: 0.0 for f in FIELDS}})
            acc["sessions"] += 1
            for f in FIELDS:
                acc[f] += row[f]
    return [{"minute_from_start": k, "sessions": a["sessions"],
             **{f: a[f] / a["sessions"] for f in FIELDS}} for k, a in sorted(sums.items())]


def compare(series: list[dict], base: list[dict]) -> list[dict]:
    """Each figure of the session against the baseline over the minutes both have, the worst change first
    (a figure with a zero baseline has no change and comes last)."""
    mine = {r["minute_from_start"]: r for r in by_minute(series)}
    common = [b for b in base if b["minute_from_start"] in mine]
    out = []
    for f in FIELDS:
        actual = sum(mine[b["minute_from_start"]][f] for b in common)
        expected = sum(b[f] for b in common)
        if f not in SUMMED and common:
            actual, expected = actual / len(common), expected / len(common)
        change = actual / expected - 1 if expected else None
        out.append({"metric": f, "actual": round(actual, 2) if f == "gmv" else actual,
                    "baseline": expected, "change": change, "minutes": len(common)})
    return sorted(out, key=lambda c: (c["change"] is None, c["change"] if c["change"] is not None else 0))


# ---- reading the sessions ----------------------------------------------------------------------------------

def earlier_sessions(rows: list[dict], before: float, n: int) -> list[str]:
    """The last n ended sessions that started before `before`, newest first."""
    done = [s for s in rows if s.get("ended") is not None and s["started"] < before]
    done.sort(key=lambda s: s["started"], reverse=True)
    return [s["session"] for s in done[:n]]


async def session_rows(r, room: str) -> list[dict]:
    return [orjson.loads(v) for v in (await r.hgetall(keys.session_list(room))).values()]


async def series_of(r, data_dir: Path, room: str, session: str) -> list[dict] | None:
    """A session's per-minute series: from the archive once archived, else its frozen figures in Redis, else
    (the running or latest session) the room's live series."""
    if archive.is_archived(data_dir, session):
        return await asyncio.to_thread(archive.read_series, data_dir, session)
    blob = await r.get(keys.session_final(room, session))
    if blob:
        return orjson.loads(blob)["series"]
    snap = await r.get(keys.snapshot(room))
    if snap and wire.read_frame(snap).metrics.get("session") == session:
        return orjson.loads(await r.get(keys.series(room)) or b"[]")
    return None


async def for_session(r, data_dir: Path, room: str, session: str, started: float, n: int,
                      chosen: list[str] | None = None, series: list[dict] | None = None) -> dict:
    """The baseline of `session` (the last n earlier ended sessions of the room, or `chosen`), cached in Redis
    (earlier sessions do not change), and, given the session's series, the comparison."""
    ids = chosen if chosen else earlier_sessions(await session_rows(r, room), started, n)
    cache = keys.baseline_cache(room, ",".join(ids))
    blob = await r.get(cache)
    if blob:
        base = orjson.loads(blob)
    else:
        earlier = [s for s in [await series_of(r, data_dir, room, sid) for sid in ids] if s]
        base = baseline(earlier)
        await r.set(cache, orjson.dumps(base), ex=BASELINE_CACHE_S)
    out = {"room": room, "session": session, "how": "mean", "sessions": ids, "baseline": base}
    if series is not None:
        out["compare"] = compare(series, base)
    return out
