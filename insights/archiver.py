"""The archive job (run by the insight jobs, insights/jobs.py, never inside the engine's loop): every ended
session goes to the archive on disk once (store/archive.py), with its events, series and review.

A session is due when
- a newer session has started (the engine froze it: its final figures are in Redis) and ARCHIVE_GRACE_S has
  passed since this process first saw that (late events still reach its late record meanwhile), or
- it ended with `session_end` and its room's figures have not changed for ARCHIVE_GRACE_S of wall time (events
  up to 60 s late still count in it, CONTRACT section 2), or
- it is still running but its room has had no event for ARCHIVE_IDLE_S of wall time (a feed that died without
  `session_end`): archived as it stands, `ended_by: "idle"` (else `session_end`, or `next_session` for a
  session that a newer `session_start` ended).
After archiving, the session's frozen figures and late record are dropped from Redis (`session_final`,
`session_late`: the big per-session data, every product); its row in the room's session list stays, so
`GET /api/rooms/<room>/sessions` still lists it, and `keys.ARCHIVED` says where its review now lives.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import orjson
import redis

from insights.review import build_review
from settings import ARCHIVE_GRACE_S, ARCHIVE_IDLE_S
from store import archive, deadletters, keys, wire

log = logging.getLogger("livewall.archive")
CHUNK = 10000


def session_events(entries, started: float, ended: float | None) -> list[dict]:
    """The events of the session that started at `started` and ended at `ended` (None: running) among a
    room's log entries (arrival order), in application order: ts, then arrival. Another session's boundary
    events at the same instants are left out."""
    out = []
    for n, (_id, fields) in enumerate(entries):
        try:
            ev = orjson.loads(fields[b"e"])
        except (KeyError, orjson.JSONDecodeError):
            continue
        ts = ev.get("ts")
        if not isinstance(ts, (int, float)) or ts < started or (ended is not None and ts > ended):
            continue
        t = ev.get("type")
        if (t == "session_start" and ts != started) or (t == "session_end" and ts != ended):
            continue
        out.append((ts, n, ev))
    out.sort(key=lambda x: (x[0], x[1]))
    return [ev for _ts, _n, ev in out]


def log_entries(r, room: str, limit: int | None = None):
    """The room's whole log, oldest first, a chunk at a time; stops (returning False) past `limit` entries."""
    start = "-"
    seen = 0
    while True:
        chunk = r.xrange(keys.events(room), min=start, count=CHUNK)
        yield from chunk
        seen += len(chunk)
        if len(chunk) < CHUNK or (limit is not None and seen > limit):
            return
        start = b"(" + chunk[-1][0]


def session_alerts(r, room: str, session: str, started: float, ended: float) -> list[dict]:
    ids = r.zrevrange(keys.alerts_recent(room), 0, 499)
    return of_session([orjson.loads(b) for b in (r.hmget(keys.ALERTS_BY_ID, ids) if ids else []) if b],
                      session, started, ended)


def of_session(alerts: list[dict], session: str, started: float, ended: float) -> list[dict]:
    """The alerts of the session, and the room-wide ones that started during it."""
    return [a for a in alerts if a.get("session") == session
            or (a.get("session") is None and started <= (a.get("started") or 0) <= ended)]


def figures(r, room: str, session: str, now: float) -> tuple[dict, str] | None:
    """(the session's figures as the review wants them, why it is archived now), or None when it is not due
    (or has no figures to be had). The big product list is read only for a due session."""
    final, late, snap = r.mget(keys.session_final(room, session), keys.session_late(room, session),
                               keys.snapshot(room))
    if final:
        data, _ = assemble(room, session, final, late, None, None)
        return data, due(data, 0.0, now)
    if not snap:
        return None
    frame = wire.read_frame(snap)
    if frame.metrics["session"] != session:
        return None
    why = due({"metrics": frame.metrics}, frame.updated, now)
    if why is None:
        return None
    data, _ = assemble(room, session, None, None, snap, r.mget(keys.products(room), keys.series(room)))
    return data, why


def assemble(room: str, session: str, final, late, snap_blob, live) -> tuple[dict | None, float | None]:
    """From the frozen final figures when a newer session has started, else from the room's current snapshot
    (with `live`: its products and series blobs) if it is this session."""
    if final:
        return {**orjson.loads(final), "late": orjson.loads(late) if late else None}, 0.0
    if not snap_blob:
        return None, None
    snap = wire.read_frame(snap_blob)
    if snap.metrics["session"] != session or live is None:
        return None, None
    products, series = live
    return {"room": room, "platform": snap.platform, "metrics": snap.metrics,
            "products": orjson.loads(products or b"[]"), "series": orjson.loads(series or b"[]"),
            "late": None}, snap.updated


_frozen_seen: dict[str, float] = {}   # session -> wall time this process first found its figures frozen


def due(data: dict, updated: float, now: float) -> str | None:
    """Why the session is archived now (ended_by), or None. Frozen figures (a newer session has started) wait
    ARCHIVE_GRACE_S from when this process first saw them, so late events still reach their late record."""
    m = data["metrics"]
    if updated == 0.0:
        updated = _frozen_seen.setdefault(m["session"], now)
        return "next_session" if now - updated >= ARCHIVE_GRACE_S else None
    quiet = now - (updated or now)
    if m.get("ended") is not None:
        return "session_end" if quiet >= ARCHIVE_GRACE_S else None
    return "idle" if quiet >= ARCHIVE_IDLE_S else None


def archive_session(r, data_dir: Path, room: str, session: str, data: dict, ended_by: str, hook=None) -> bool:
    m = data["metrics"]
    events = session_events(log_entries(r, room), m["started"], m.get("ended"))
    alerts = session_alerts(r, room, session, m["started"], m.get("ended") or m["as_of"])
    head, products = build_review(session, data, alerts, events)
    head["ended_by"] = "session_end" if any(e["type"] == "session_end" for e in events) else ended_by
    head["archived"] = True
    head["archived_at"] = time.time()
    done = archive.write(data_dir, head, products, events, data["series"], hook)
    mark(r, head)
    return done


def mark(r, head: dict) -> None:
    """Tell every process the session is archived, and drop its big per-session data from Redis."""
    room, session = head["room"], head["session"]
    pipe = r.pipeline(transaction=False)
    pipe.hset(keys.ARCHIVED, session, orjson.dumps(archive.index_row(head)))
    pipe.delete(keys.session_final(room, session), keys.session_late(room, session))
    pipe.execute()


_done: set[str] = set()   # sessions this process knows are archived


def run(r, data_dir: Path, now: float | None = None, hook=None) -> int:
    """Archive every due session of every room; returns how many were archived now."""
    now = time.time() if now is None else now
    n = 0
    for raw in sorted(r.smembers(keys.ROOMS)):
        room = raw.decode()
        for sid_raw in r.hkeys(keys.session_list(room)):
            session = sid_raw.decode()
            if session in _done or archive.room_of(session) != room:
                continue
            if archive.is_archived(data_dir, session):
                _done.add(session)
                if not r.hexists(keys.ARCHIVED, session):   # a crash between the rename and the mark
                    head, _p = archive.read_review(data_dir, session)
                    mark(r, head)
                continue
            try:
                got = figures(r, room, session, now)
                if got is None:
                    continue
                data, why = got
                if archive_session(r, data_dir, room, session, data, why, hook):
                    n += 1
                    log.info("archived %s (%s)", session, why)
            except (redis.RedisError, OSError):
                raise   # the store or the disk: the next run tries again
            except Exception as e:  # noqa: BLE001 - one session's failure never stops the others' archiving
                deadletters.record(r, "archive", room, f"{session}: {type(e).__name__}: {e}")
                log.exception("archiving %s failed; set aside as a dead letter (tried again after a restart)",
                              session)
            _done.add(session)
    return n


def start(data_dir: Path) -> None:
    """At the jobs process's start: what a crash mid-archive left is removed (and will be archived again), and
    the index gets any archived session it lacks."""
    removed = archive.sweep(data_dir)
    if removed:
        log.warning("removed %d unfinished archive(s) left by a crash; they are archived again", removed)
    archive.reindex(data_dir)
