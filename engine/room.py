"""One room: which session each event belongs to (CONTRACT section 2, "Sessions").

Events come in arrival order with `seq` = their position in the room's stream. A session boundary that
arrives late (a session_start or session_end behind events already applied) cannot be patched in place:
the room asks for a rebuild (`needs_rebuild`), and the runner replays the room's log in (ts, seq) order.
"""
from __future__ import annotations

from engine.metrics import Session

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

    def apply(self, ev: dict, seq: int) -> None:
        if self.platform is None and "platform" in ev:
            self.platform = ev["platform"]
        self.seq = seq + 1
        self.dirty = True
        t, ts = ev["type"], ev["ts"]
        cur = self.current
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
            if not self.implicit:
                return  # before the session_start: an earlier session's, which is frozen
            cur.started, cur.start_seq = ts, seq  # the room's first event, in ts order, begins the session
        cur.apply(ev, seq)

    def _start(self, ts: float, seq: int, info: dict) -> None:
        if self.current is not None:
            if self.current.ended is None:
                self.current.ended, self.current.end_seq = ts, seq
            self.finished.append(self.current)
        self.current = Session(session_id(self.name, ts), ts, seq, info)
        self.implicit = False
