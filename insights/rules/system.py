"""Rules of livewall itself: the engine lagging (room "*"), events set aside as dead letters (their room).
They read Redis once per run of the job rather than a room's events."""
from __future__ import annotations

from collections import deque

import orjson

from insights.rules.base import MAX_WINDOW_S, SYSTEM_ROOM, Condition, evict, params, short
from store import keys
from store.leases import beats, summary

LIVE_S = 5.0   # a worker whose beat is older is not counted for lag (its rooms move to the others)


def engine_lag(_own, r, wall: float, config: dict, since: float) -> list[Condition]:
    found = beats(r, "engine")
    beat = summary(found, (), wall, LIVE_S) if found else None
    return system_conditions(beat, wall, config, since)


def system_conditions(heartbeat: dict | None, wall: float, config: dict, since: float | None = None) -> list[Condition]:
    """livewall itself: the engine workers' newest heartbeat (store/leases.py `summary`) is old, or the engine is behind.

    `since`: when this job started. A restart is no engine failure: a beat left by an engine that started
    before this job (the one a restart stopped, perhaps) is not judged until start_grace_s after it, which is
    the new engine's time to load its rooms and beat; and an engine's first start_grace_s are spent on the
    backlog of its own outage, which is not lag."""
    p = params(config, SYSTEM_ROOM, "engine_lag")
    if heartbeat is None or not p.get("enabled", True):
        return []
    grace = p.get("start_grace_s", 0.0)
    started = heartbeat.get("started")
    if since is not None and (started is None or started < since) and wall - since < grace:
        return []
    age, lag = wall - heartbeat["ts"], heartbeat.get("lag_s") or 0.0
    if started is not None and heartbeat["ts"] - started < grace:
        lag = 0.0
    if age > p["max_heartbeat_age_s"] or lag > p["max_lag_s"]:
        return [Condition("engine_lag", SYSTEM_ROOM, {"lag_s": lag, "heartbeat_age_s": age})]
    return []


class DeadLetters:
    """dead_letter's: the recent dead letters (store/deadletters.py), read from the stream of all of them."""

    def __init__(self, since: float):
        self.cursor = f"{int((since - MAX_WINDOW_S) * 1000)}-0"   # after a restart, the recent ones still hold
        self.recent: deque = deque()   # (wall time, room, source, error), oldest first


def dead_letter(own: DeadLetters, r, wall: float, config: dict, _since: float) -> list[Condition]:
    """A room holds it while it has a dead letter newer than window_s of wall time; each new one adds to the
    alert's count."""
    fresh: dict = {}
    for entry_id, fields in r.xrange(keys.DEAD_LETTERS, min=f"({own.cursor}", count=1000):
        own.cursor = entry_id.decode()
        rec = orjson.loads(fields[b"d"])
        own.recent.append((rec["at"], rec["room"], rec["source"], rec["error"]))
        fresh[rec["room"]] = fresh.get(rec["room"], 0) + 1
    out = []
    by_room: dict = {}
    for at, room, source, error in own.recent:
        by_room.setdefault(room, []).append((at, source, error))
    for room, items in by_room.items():
        p = params(config, room, "dead_letter")
        live = [x for x in items if wall - x[0] <= p.get("window_s", 600)]
        if live and p.get("enabled", True):
            _at, source, error = live[-1]
            out.append(Condition("dead_letter", room, {"count": len(live), "source": source,
                                                       "error": short(error, 80)}, events=fresh.get(room, 0)))
    evict(own.recent, wall - MAX_WINDOW_S)
    return out
