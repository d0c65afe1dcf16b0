"""One room: which session each event belongs to (CONTRACT section 2, "Sessions").

Events come in arrival order with `seq` = their position in the room's stream.

Frozen sessions. The current session is the latest one (no newer session_start has been applied); late
events in it count exactly as the contract says. Once a newer session has started, the sessions before it
are frozen: their final figures are written once and never change. A late event whose (ts, seq) falls
before the current session's start is never applied: when it falls inside a frozen session it is kept on
that session's late record (counted, summed, the first few kept whole; the review reports them apart from
the totals), and otherwise (between sessions) it belongs to no session. That holds for a late
session_start or session_end too: it never re-splits a frozen session.

A session boundary that arrives late inside the current session (a session_start or session_end behind
events already applied) cannot be patched in place: the room asks for a rebuild (`needs_rebuild`), and
`rebuild` replays, in (ts, seq) order, the events of the room's log from the current session's start on.
"""
from __future__ import annotations

import bisect

from engine.metrics import Session, add_late, late_record

SESSION_INFO = ("title", "streamer", "target_roi")


def session_id(room: str, ts: float) -> str:
    # '@' cannot occur in a room name, so the room can always be read back from a session id
    return f"{room}@{int(round(ts * 1000))}"


class Room:
    def __init__(self, name: str):
        self.name = name
        self.platform: str | None = None
        self.seq = 0                      # events applied so far = seq of the next one
        self.last_id = b"0-0"             # stream id of the last applied entry
        self.current: Session | None = None
        self.finished: list[Session] = []  # sessions superseded since the runner last saved them
        self.implicit = False             # the current session began at the room's first event
        self.needs_rebuild = False
        self.dirty = False
        self.dropped_ts = float("-inf")   # newest ts of an event that fell after a session_end
        # frozen sessions, oldest first: ((started, start_seq), (ended, end_seq), id)
        self.frozen: list[tuple] = []
        self.late: dict[str, dict] = {}   # frozen session id -> its late record (engine/metrics.py)
        self.late_changed: set[str] = set()  # ids whose late record the runner has not written yet

    def apply(self, ev: dict, seq: int) -> None:
        if self.platform is None and "platform" in ev:
            self.platform = ev["platform"]
        self.seq = seq + 1
        self.dirty = True
        t, ts = ev["type"], ev["ts"]
        cur = self.current
        if cur is not None and ts <= cur.started and not self.implicit and (ts, seq) < (cur.started, cur.start_seq):
            self._late(ev, seq)   # before the current session: a frozen session's, or no session's
            return
        if t == "session_start":
            # late: events already applied, or already dropped as sessionless, belong after it
            if cur is not None and (ts < cur.as_of or ts < self.dropped_ts):
                self.needs_rebuild = True
                return
            self._start(ts, seq, {k: ev[k] for k in SESSION_INFO if k in ev})
            self.current.apply(ev, seq)
            return
        if cur is None:
            self._start(ts, seq, {})
            self.implicit = True
            self.current.apply(ev, seq)
            return
        if t == "session_end":
            if cur.ended is None:
                if ts < cur.as_of:
                    self.needs_rebuild = True
                    return
                cur.apply(ev, seq)
                cur.ended, cur.end_seq = ts, seq
            elif ts < cur.ended:
                self.needs_rebuild = True
            return
        if cur.ended is not None and (ts, seq) > (cur.ended, cur.end_seq):
            self.dropped_ts = max(self.dropped_ts, ts)
            return  # after the session_end: belongs to no session (unless a late session_start claims it)
        if (ts, seq) < (cur.started, cur.start_seq):
            cur.started, cur.start_seq = ts, seq  # the room's first event, in ts order, begins the implicit session
        cur.apply(ev, seq)

    def _late(self, ev: dict, seq: int) -> None:
        at = (ev["ts"], seq)
        i = bisect.bisect_right(self.frozen, at, key=lambda f: f[0]) - 1
        if i < 0 or at > self.frozen[i][1]:
            return   # between sessions, or before the first: no session's
        sid = self.frozen[i][2]
        add_late(self.late.setdefault(sid, late_record()), ev)
        self.late_changed.add(sid)

    def _start(self, ts: float, seq: int, info: dict) -> None:
        old = self.current
        if old is not None:
            if old.ended is None:
                old.ended, old.end_seq = ts, seq
            self.finished.append(old)
            self.frozen.append(((old.started, old.start_seq), (old.ended, old.end_seq), old.id))
        self.current = Session(session_id(self.name, ts), ts, seq, info)
        self.implicit = False


class ApplyFailed(Exception):
    """An event raised while a rebuild applied it: `seq` names it, so the caller can set it aside."""

    def __init__(self, seq: int, ev: dict, error: Exception):
        super().__init__(str(error))
        self.seq, self.ev, self.error = seq, ev, error


def rebuild(old: Room, log) -> Room:
    """The room `old` would be had the (event, seq) pairs of `log` (its whole log so far) come in (ts, seq)
    order from its current session's start on; frozen sessions and their late records stay as they are.
    Raises ApplyFailed, naming the event, if one raises."""
    cur = old.current
    start = (float("-inf"), -1) if cur is None or old.implicit else (cur.started, cur.start_seq)
    room = Room(old.name)
    room.platform = old.platform
    room.frozen, room.late, room.late_changed = old.frozen, old.late, old.late_changed
    for ev, seq in sorted(((ev, seq) for ev, seq in log if (ev["ts"], seq) >= start),
                          key=lambda p: (p[0]["ts"], p[1])):
        try:
            room.apply(ev, seq)
        except Exception as e:  # noqa: BLE001 - the caller decides what to do with the event
            raise ApplyFailed(seq, ev, e) from e
    room.seq, room.last_id = old.seq, old.last_id
    room.finished = old.finished + room.finished
    room.dirty = True
    return room
