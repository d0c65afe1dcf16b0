"""What the review reads from a session's events (its log, not the engine's figures): stage segments (讲解) and
the live review (直播复盘): sources per minute, the product on stage each minute, peaks and drops.

Definitions (README "Reviews"):
- A segment is one stretch of a product on stage: from its `product_on` (while no segment of that sku is open)
  to the first of its `product_off`, a `product_on` of another sku (the next product), or the session's end
  (`as_of`). Events with start ≤ ts < end belong to it (the last segment also takes ts = end).
- The product's figures during it: `views`, `clicks`, `buyers` (distinct users sending product_view,
  product_click, pay for that sku), `units`, `gmv` (its pays), `ctr` = clicks / views, `cvr` = buyers / clicks.
- The room's figures during it (`room`), with the same rules as CONTRACT section 2 over visits (enter opens a
  visit for a user not in the room, leave closes it): `avg_online` = watch seconds inside the segment / its
  length; `visits` opened in it; `bounce_2s_rate` = bounced / decided visits among those opened in it,
  decided as at the session's end; `avg_dwell_s` = watch seconds inside the segment / distinct users with a
  visit overlapping it; `gmv` of every pay in it and `gpm` = gmv / visits × 1000. `session_room` holds the same
  figures over the whole session, which a segment is read against.
"""
from __future__ import annotations

import bisect

import numpy as np

from engine.metrics import minute_of

BOUNCE_S = 2.0


def _ratio(num, den):
    return None if not den else num / den


def visits_of(events: list[dict]) -> dict:
    """Every visit as arrays: user, open ts, close ts (NaN while open), source."""
    inside: dict[str, int] = {}
    users, opens, closes, sources = [], [], [], []
    for ev in events:
        t = ev["type"]
        if t == "enter" and ev["user"] not in inside:
            inside[ev["user"]] = len(users)
            users.append(ev["user"])
            opens.append(ev["ts"])
            closes.append(np.nan)
            sources.append(ev.get("source", "other"))
        elif t == "leave" and ev["user"] in inside:
            closes[inside.pop(ev["user"])] = ev["ts"]
    return {"user": np.array(users, dtype=object), "open": np.array(opens, dtype=float),
            "close": np.array(closes, dtype=float), "source": np.array(sources, dtype=object)}


def room_figures(v: dict, start: float, end: float, gmv_c: int, as_of: float) -> dict:
    """The room during [start, end] (module docstring)."""
    close = np.where(np.isnan(v["close"]), as_of, v["close"])
    overlap = np.clip(np.minimum(close, end) - np.maximum(v["open"], start), 0, None)
    present = overlap > 0
    opened = (v["open"] >= start) & ((v["open"] < end) | (end == as_of) & (v["open"] <= end))
    closed = ~np.isnan(v["close"])
    bounced = opened & closed & (v["close"] - v["open"] < BOUNCE_S)
    decided = opened & (closed | (as_of - v["open"] >= BOUNCE_S))
    visits = int(opened.sum())
    watch = float(overlap.sum())
    viewers = len(set(v["user"][present])) if present.any() else 0
    length = end - start
    return {"avg_online": _ratio(watch, length), "visits": visits, "viewers": viewers, "watch_seconds": watch,
            "bounce_2s_rate": _ratio(int(bounced.sum()), int(decided.sum())), "avg_dwell_s": _ratio(watch, viewers),
            "gmv": gmv_c / 100, "gpm": None if not visits else gmv_c / 100 / visits * 1000}


def stretches(events: list[dict], as_of: float) -> list[tuple[str, float, float]]:
    """(sku, start, end) of every stage stretch, in order."""
    out, on, since = [], None, None
    for ev in events:
        t = ev["type"]
        if t == "product_on" and ev["sku"] != on:
            if on is not None:
                out.append((on, since, ev["ts"]))
            on, since = ev["sku"], ev["ts"]
        elif t == "product_off" and ev["sku"] == on:
            out.append((on, since, ev["ts"]))
            on = None
    if on is not None:
        out.append((on, since, max(as_of, since)))
    return out


def _cents(x) -> int:
    return round(x * 100)


def stage_segments(events: list[dict], m: dict) -> tuple[list[dict], dict]:
    """(segments, session_room): see the module docstring."""
    as_of, started = m["as_of"], m["started"]
    v = visits_of(events)
    ts = [ev["ts"] for ev in events]
    names = {}
    for ev in events:
        if ev["type"] == "product_on" and "name" in ev:
            names[ev["sku"]] = ev["name"]
    out = []
    for i, (sku, start, end) in enumerate(stretches(events, as_of)):
        lo = bisect.bisect_left(ts, start)
        hi = bisect.bisect_right(ts, end) if end >= as_of else bisect.bisect_left(ts, end)
        views, clicks, buyers = set(), set(), set()
        units = gmv_c = room_gmv_c = 0
        for ev in events[lo:hi]:
            t = ev["type"]
            if t == "pay":
                room_gmv_c += _cents(ev["amount"])
            if ev.get("sku") != sku:
                continue
            if t == "product_view":
                views.add(ev["user"])
            elif t == "product_click":
                clicks.add(ev["user"])
            elif t == "pay":
                buyers.add(ev["user"])
                units += ev.get("qty", 1)
                gmv_c += _cents(ev["amount"])
        out.append({"n": i + 1, "sku": sku, "name": names.get(sku), "start": start, "end": end,
                    "seconds": end - start, "views": len(views), "clicks": len(clicks), "buyers": len(buyers),
                    "ctr": _ratio(len(clicks), len(views)), "cvr": _ratio(len(buyers), len(clicks)),
                    "units": units, "gmv": gmv_c / 100,
                    "room": room_figures(v, start, end, room_gmv_c, as_of)})
    session_room = room_figures(v, started, as_of, _cents(m["gmv"]), as_of)
    return out, session_room


def live_review(events: list[dict], series: list[dict], segments: list[dict], m: dict) -> tuple[list[dict], dict]:
    """The timeline (a row per minute: the engine's series, the visits opened by source and the sku on stage at
    the minute's end; a row per segment) and the moments: the largest rise and fall of online and of GMV from
    one minute to the next, with the product on stage then."""
    by_minute: dict[int, dict[str, int]] = {}
    inside: set[str] = set()
    for ev in events:
        if ev["type"] == "enter" and ev["user"] not in inside:
            inside.add(ev["user"])
            row = by_minute.setdefault(minute_of(ev["ts"]), {})
            src = ev.get("source", "other")
            row[src] = row.get(src, 0) + 1
        elif ev["type"] == "leave":
            inside.discard(ev["user"])
    starts = [s["start"] for s in segments]

    def on_stage(t: float) -> dict | None:
        i = bisect.bisect_right(starts, t) - 1
        return segments[i] if i >= 0 and segments[i]["start"] <= t < segments[i]["end"] else None

    rows = []
    for row in series:
        seg = on_stage(min(row["minute"] + 59.999, m["as_of"]))
        rows.append({"kind": "minute", **row, "sources": by_minute.get(row["minute"], {}),
                     "on_stage": seg["sku"] if seg else None})
    marks = [{"kind": "segment", "n": s["n"], "sku": s["sku"], "name": s["name"], "start": s["start"], "end": s["end"]}
             for s in segments]
    moments = {}
    for fig in ("online", "gmv"):
        steps = [(rows[i][fig] - rows[i - 1][fig], rows[i]) for i in range(1, len(rows))]
        for name, pick in ((f"{fig}_rise", max), (f"{fig}_fall", min)):
            if not steps:
                moments[name] = None
                continue
            change, row = pick(steps, key=lambda s: s[0])
            if (change > 0) != (name.endswith("rise")) or change == 0:
                moments[name] = None
                continue
            seg = on_stage(row["minute"] + 30)
            moments[name] = {"minute": row["minute"], "change": round(change, 2) if fig == "gmv" else change,
                             "value": row[fig], "sku": seg["sku"] if seg else row["on_stage"],
                             "name": seg["name"] if seg else None}
    return rows + marks, moments
