"""Getting a session's review in the web process: from the archive on disk once the session is archived, else
built from what Redis holds (a running session, or an ended one not archived yet). Exports use `load` too."""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path

import orjson
import pandas as pd

from insights.archiver import assemble, of_session, session_events
from insights.review import build_review
from settings import LIVE_REVIEW_MAX_EVENTS, default_data_dir
from store import archive, keys

_live: OrderedDict = OrderedDict()   # (session, figures' wall time) -> (head, products): a page flip is free
LIVE_CACHE = 4


class Reviews:
    def __init__(self, r, data_dir: Path | None):
        self.r = r
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()

    async def load(self, session: str) -> tuple[dict, pd.DataFrame] | None:
        """(head, products) of the session's review (insights/review.py), or None for an unknown session.
        The caller has checked that the asker may read the session's room (`archive.room_of(session)`)."""
        room = archive.room_of(session)
        if room is None:
            return None
        if archive.is_archived(self.data_dir, session):
            return await asyncio.to_thread(archive.read_review, self.data_dir, session)
        if await self.r.hget(keys.SESSIONS, session) is None:
            return None
        final, late, snap = await self.r.mget(keys.session_final(room, session), keys.session_late(room, session),
                                               keys.snapshot(room))
        live = None if final else await self.r.mget(keys.products(room), keys.series(room))
        data, updated = assemble(room, session, final, late, snap, live)
        if data is None:
            return None
        key = (session, updated, data["metrics"]["as_of"])
        if key in _live:
            return _live[key]
        events = await self._events(room, data["metrics"])
        alerts = await self._alerts(room, session, data["metrics"])
        got = await asyncio.to_thread(build_review, session, data, alerts, events)
        got[0].update(archived=False, ended_by=None)
        _live[key] = got
        while len(_live) > LIVE_CACHE:
            _live.popitem(last=False)
        return got

    async def _events(self, room: str, m: dict) -> list[dict] | None:
        if await self.r.xlen(keys.events(room)) > LIVE_REVIEW_MAX_EVENTS:
            return None
        entries, start = [], "-"
        while True:
            chunk = await self.r.xrange(keys.events(room), min=start, count=10000)
            entries += chunk
            if len(chunk) < 10000:
                break
            start = b"(" + chunk[-1][0]
        return await asyncio.to_thread(session_events, entries, m["started"], m.get("ended"))

    async def _alerts(self, room: str, session: str, m: dict) -> list[dict]:
        ids = await self.r.zrevrange(keys.alerts_recent(room), 0, 499)
        rows = [orjson.loads(b) for b in (await self.r.hmget(keys.ALERTS_BY_ID, ids) if ids else []) if b]
        return of_session(rows, session, m["started"], m.get("ended") or m["as_of"])
