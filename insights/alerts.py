"""Alerts: what a risk condition becomes over time, and where it is kept.

`Tracker` is pure. One alert per (rule, room, subject) while its condition holds: repeats add to its `count`
instead of opening another; it resolves once the condition has been clear for `clear_after_s`; for
`cooldown_s` after that, repeats only count on the resolved alert. A rule holding for many subjects at once
opens at most `max_open` alerts in a room; the rest are grouped into one alert with subject "*".

`Store` keeps the records in Redis for the API and the screens (CONTRACT section 3): the HASH
`keys.ALERTS_BY_ID` (latest record), the ZSETs `keys.ALERTS_RECENT` and `keys.alerts_recent(room)` (by start),
the STREAM `keys.ALERTS` (the history) and a notice on `keys.NOTICE_CHANNEL`, the last two for every change
but fresh figures alone (those only refresh the record the API serves). An acknowledgement
(`acknowledge_stored`, from the web process) may land between two saves: saves never overwrite one.
"""
from __future__ import annotations

import re
import string
import time
import uuid
from dataclasses import dataclass, replace

import orjson

from store import fanout, keys, wire

REFRESH_S = 5.0            # an alert's growing count or changing figures are handed out at most this often
HISTORY_MAXLEN = 10000     # entries of the change stream (approximate)
KEEP = 2000                # alert records kept, newest by start; a room's index keeps as many
TRIM_EVERY_S = 10.0
OPEN = ("firing", "acknowledged")

# Write an alert unless the stored one carries an acknowledgement the new one lacks: then return the stored one.
SAVE_LUA = """
if ARGV[3] == '0' then
  local old = redis.call('HGET', KEYS[1], ARGV[1])
  if old and type(cjson.decode(old).acknowledged_at) == 'number' then
    return old
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return false
"""
# Compare and set one field of a hash: 1 when written, else the value found ('' for none).
CAS_LUA = """
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then
  return cur
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


# ---- the record ------------------------------------------------------------------------------------------

# Figures that quote viewers (product names, user names, comments) or the platform's ids. In a message each is
# set between FSI and PDI (Unicode's isolates for plain text, UAX #9), its own bidi controls removed: an U+202E
# in a product name cannot reverse the rest of the sentence, and the screens and the chat webhook find the
# quoted text to show it in a <bdi> or to make it inert.
QUOTED = ("name", "user", "text", "subject")
FSI, PDI = "\u2068", "\u2069"
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def quote(text: str) -> str:
    return FSI + BIDI_CONTROLS.sub("", text) + PDI


class _Texts(string.Formatter):
    """Templates never fail: a missing figure shows as '?', a missing value as '–'."""

    def get_value(self, key, args, kwargs):
        return kwargs.get(key, "?") if isinstance(key, str) else "?"

    def format_field(self, value, spec):
        if value is None:
            return "–"
        try:
            return format(value, spec)
        except (TypeError, ValueError):
            return str(value)


_TEXTS = _Texts()


def render(templates: dict | None, figures: dict, subject: str | None) -> dict:
    out = {}
    values = {**figures, "subject": subject}
    values = {k: quote(v) if k in QUOTED and isinstance(v, str) else v for k, v in values.items()}
    for lang in ("zh", "en"):
        template = (templates or {}).get(lang, "")
        try:
            out[lang] = _TEXTS.format(template, **values)
        except (ValueError, IndexError):   # a malformed template: show it as written
            out[lang] = template
    others = figures.get("others")
    if others:
        out["zh"] += f"（另有{others}项）"
        out["en"] += f" (and {others} more)"
    return out


def acknowledge(record: dict, by: str, at: float) -> dict:
    """The record once someone has seen it; a resolved alert stays resolved."""
    return {**record, "state": "acknowledged" if record["state"] == "firing" else record["state"],
            "acknowledged_by": by, "acknowledged_at": at, "updated": at}


async def recent(r, room: str | None = None, limit: int = 200) -> list[dict]:
    """Newest first (asyncio client): what the API lists and a screen gets on connect."""
    index = keys.alerts_recent(room) if room else keys.ALERTS_RECENT
    ids = await r.zrevrange(index, 0, limit - 1)
    if not ids:
        return []
    blobs = await r.hmget(keys.ALERTS_BY_ID, ids)
    return [orjson.loads(b) for b in blobs if b]


async def find(r, alert_id: str) -> dict | None:
    """The stored record (asyncio client), or None."""
    blob = await r.hget(keys.ALERTS_BY_ID, alert_id)
    return orjson.loads(blob) if blob else None


async def acknowledge_stored(r, alert_id: str, by: str) -> dict | None:
    """Acknowledge a stored alert (asyncio client): the record as stored after, None if it is gone.
    Acknowledging twice keeps the first acknowledgement. A compare-and-set keeps this and the risk job's saves
    from overwriting each other; the change goes to the history and to every screen, like the job's own."""
    cas = r.register_script(CAS_LUA)
    while True:
        blob = await r.hget(keys.ALERTS_BY_ID, alert_id)
        if blob is None:
            return None
        record = orjson.loads(blob)
        if record["acknowledged_at"] is not None:
            return record
        new = acknowledge(record, by, time.time())
        if await cas(keys=[keys.ALERTS_BY_ID], args=[alert_id, blob, orjson.dumps(new)]) == 1:
            break   # else the risk job saved it meanwhile: read it again
    pipe = r.pipeline(transaction=False)
    pipe.xadd(keys.ALERTS, {"a": orjson.dumps(new)}, maxlen=HISTORY_MAXLEN, approximate=True)
    fanout.publish(pipe, keys.NOTICE_CHANNEL, wire.alert(new))
    await pipe.execute()
    return new


async def save_async(r, record: dict) -> None:
    """Store a record made outside the risk job (a restock request from the tablet; asyncio client): indexed,
    in the history and told to every screen, as the job's own saves."""
    pipe = r.pipeline(transaction=False)
    pipe.hset(keys.ALERTS_BY_ID, record["id"], orjson.dumps(record))
    pipe.zadd(keys.ALERTS_RECENT, {record["id"]: record["started"]})
    pipe.zadd(keys.alerts_recent(record["room"]), {record["id"]: record["started"]})
    pipe.xadd(keys.ALERTS, {"a": orjson.dumps(record)}, maxlen=HISTORY_MAXLEN, approximate=True)
    pipe.publish(keys.NOTICE_CHANNEL, wire.alert(record))
    await pipe.execute()


def new_id() -> str:
    return uuid.uuid4().hex[:16]


# ---- the lifecycle ---------------------------------------------------------------------------------------

@dataclass
class _Entry:
    record: dict
    seen: float            # the last time its condition held
    present: bool          # its condition held at the last update
    saved: float           # the last time a change of it was handed out
    grown: bool = False    # its count grew since


class Tracker:
    def __init__(self, new_id=new_id):
        self.new_id = new_id
        self.open: dict[tuple, _Entry] = {}
        self.quiet: dict[tuple, _Entry] = {}    # resolved, in cooldown
        self.pending: dict[tuple, float] = {}   # condition first seen, waiting for for_s

    def adopt(self, records: list[dict], now: float) -> None:
        """Open alerts of an earlier run: they resolve like any other once their condition stays clear."""
        for rec in records:
            if rec.get("state") in OPEN:
                self.open.setdefault((rec["rule"], rec["room"], rec.get("subject")), _Entry(rec, now, True, now))

    def keep_only(self, judged_here) -> None:
        """Forget, without resolving them, the alerts whose (rule, room) judged_here() says another job process
        judges now: their room moved there (insights/jobs.py), which adopts them."""
        for table in (self.open, self.quiet, self.pending):
            for key in [k for k in table if not judged_here(k[0], k[1])]:
                del table[key]

    def update(self, conditions: list, now: float, settings) -> list[tuple[str, dict]]:
        """Apply what holds now. settings(room, rule) -> that rule's settings (`risk.params`).

        Returns the changed records as (what, record): fired, resolved; repeated (its count grew) and
        suppressed (the count of a resolved alert grew during its cooldown), at most every REFRESH_S; updated
        (new figures only, every REFRESH_S while it holds). The records are the tracker's own: keep a copy.
        """
        changes: list[tuple[str, dict]] = []
        seen = set()
        for c in self._group(conditions, settings):
            p = settings(c.room, c.rule)
            if not p.get("enabled", True) or self._inhibited(c, p):
                continue
            key = (c.rule, c.room, c.subject)
            seen.add(key)
            e = self.open.get(key)
            if e is not None and e.record["session"] != c.session:
                changes.append(("resolved", self._resolve(key, now)))
                e = None
            if e is not None:
                self._repeat(e, c)
                e.record["figures"], e.record["as_of"] = c.figures, c.as_of
                e.seen = now
                if now - e.saved >= REFRESH_S:
                    changes.append(("repeated" if e.grown else "updated", self._touch(e, p, now)))
                continue
            q = self.quiet.get(key)
            if q is not None and q.record["session"] == c.session and now - q.record["resolved_at"] < p["cooldown_s"]:
                self._repeat(q, c)
                if q.grown and now - q.saved >= REFRESH_S:
                    changes.append(("suppressed", self._touch(q, p, now)))
                continue
            first = self.pending.setdefault(key, now)
            if now - first < p["for_s"]:
                continue
            del self.pending[key]
            self.quiet.pop(key, None)
            rec = self._fire(c, p, now)
            self.open[key] = _Entry(rec, now, True, now)
            changes.append(("fired", rec))
        for key in [k for k in self.open if k not in seen]:
            e = self.open[key]
            e.present = False
            p = settings(key[1], key[0])
            if now - e.seen >= p["clear_after_s"]:
                changes.append(("resolved", self._resolve(key, now)))
            elif e.grown and now - e.saved >= REFRESH_S:
                changes.append(("repeated", self._touch(e, p, now)))
        for key in [k for k in self.quiet if k not in seen]:
            q = self.quiet[key]
            q.present = False
            p = settings(key[1], key[0])
            if q.grown and now - q.saved >= REFRESH_S:
                changes.append(("suppressed", self._touch(q, p, now)))
            elif now - q.record["resolved_at"] >= p["cooldown_s"] and not q.grown:
                del self.quiet[key]
        for key in [k for k in self.pending if k not in seen]:
            del self.pending[key]
        return changes

    def _group(self, conditions: list, settings) -> list:
        """At most max_open alerts per rule and room: subjects beyond them go into one alert, subject '*'."""
        out, by_rule = [], {}
        for c in conditions:
            if c.subject is None:
                out.append(c)
            else:
                by_rule.setdefault((c.rule, c.room), []).append(c)
        for (rule, room), group in by_rule.items():
            room_open = sum(1 for k in self.open if k[0] == rule and k[1] == room and k[2] != "*")
            room_free = max(0, settings(room, rule)["max_open"] - room_open)
            extra = []
            for c in group:
                if (rule, room, c.subject) in self.open or (rule, room, c.subject) in self.quiet:
                    out.append(c)
                elif room_free > 0:
                    room_free -= 1
                    out.append(c)
                else:
                    extra.append(c)
            if extra:
                first = extra[0]
                events = [c.events for c in extra if c.events is not None]
                figures = {**first.figures, "others": len(extra) - 1, "subjects": [c.subject for c in extra[:20]]}
                out.append(replace(first, subject="*", figures=figures, events=sum(events) if events else None))
        return out

    def _inhibited(self, c, p: dict) -> bool:
        """A consequence is not alerted while its cause is (`inhibited_by`)."""
        return any(k[0] in p.get("inhibited_by", ()) and k[1] == c.room for k in self.open)

    @staticmethod
    def _repeat(e: _Entry, c) -> None:
        """The count grows by the offending events of an event rule, by one when a level comes back."""
        grew = c.events if c.events is not None else (0 if e.present else 1)
        e.present = True
        if grew:
            e.record["count"] += grew
            e.grown = True

    @staticmethod
    def _touch(e: _Entry, p: dict, now: float) -> dict:
        rec = e.record
        rec["updated"] = now
        rec["title"] = render(p.get("title"), rec["figures"], rec["subject"])
        rec["message"] = render(p.get("message"), rec["figures"], rec["subject"])
        e.saved, e.grown = now, False
        return rec

    def _fire(self, c, p: dict, now: float) -> dict:
        return {
            "id": self.new_id(), "rule": c.rule, "room": c.room, "subject": c.subject,
            "severity": p["severity"], "state": "firing", "started": now, "updated": now,
            "figures": c.figures, "title": render(p.get("title"), c.figures, c.subject),
            "message": render(p.get("message"), c.figures, c.subject), "session": c.session, "as_of": c.as_of,
            "audience": list(p.get("audience") or ()), "acknowledged_by": None, "acknowledged_at": None,
            "resolved_at": None, "count": max(1, c.events or 0),
        }

    def _resolve(self, key: tuple, now: float) -> dict:
        e = self.open.pop(key)
        e.record.update(state="resolved", resolved_at=now, updated=now)
        e.present, e.saved, e.grown = False, now, False
        self.quiet[key] = e
        return e.record


# ---- Redis ---------------------------------------------------------------------------------------------

class Store:
    """The records in Redis, from the risk job (a blocking client)."""

    def __init__(self, r):
        self.r = r
        self.trimmed = 0.0

    def open_alerts(self) -> list[dict]:
        records = (orjson.loads(b) for b in self.r.hvals(keys.ALERTS_BY_ID))
        return [rec for rec in records if rec.get("state") in OPEN]

    def save(self, changes: list[tuple[str, dict]]) -> None:
        """Write the records (merging acknowledgements made meanwhile); index them and tell every screen,
        except for new figures only ("updated"), which the API shows and nobody needs to be told of."""
        todo = [rec for _what, rec in changes]
        while todo:
            pipe = self.r.pipeline(transaction=False)
            for rec in todo:
                acked = "1" if rec["acknowledged_at"] is not None else "0"
                # EVAL rather than the registered script's EVALSHA: a cluster's pipeline refuses the latter
                pipe.execute_command("EVAL", SAVE_LUA, 1, keys.ALERTS_BY_ID, rec["id"], orjson.dumps(rec), acked)
            found = pipe.execute()
            again = []
            for rec, old in zip(todo, found):
                if old:
                    stored = orjson.loads(old)
                    # the shared dict: the tracker keeps the acknowledgement for later saves too
                    rec.update(acknowledged_by=stored["acknowledged_by"], acknowledged_at=stored["acknowledged_at"],
                               state="acknowledged" if rec["state"] == "firing" else rec["state"])
                    again.append(rec)
            todo = again
        pipe = self.r.pipeline(transaction=False)
        for what, rec in changes:
            pipe.zadd(keys.ALERTS_RECENT, {rec["id"]: rec["started"]})
            pipe.zadd(keys.alerts_recent(rec["room"]), {rec["id"]: rec["started"]})
            if what != "updated":
                pipe.xadd(keys.ALERTS, {"a": orjson.dumps(rec)}, maxlen=HISTORY_MAXLEN, approximate=True)
                fanout.publish(pipe, keys.NOTICE_CHANNEL, wire.alert(rec))
        pipe.execute()

    def trim(self, now: float, rooms) -> None:
        """Keep the newest KEEP records; every TRIM_EVERY_S at most."""
        if now - self.trimmed < TRIM_EVERY_S:
            return
        self.trimmed = now
        n = self.r.zcard(keys.ALERTS_RECENT)
        if n > KEEP:
            old = self.r.zrange(keys.ALERTS_RECENT, 0, n - KEEP - 1)
            pipe = self.r.pipeline(transaction=False)
            pipe.hdel(keys.ALERTS_BY_ID, *old)
            pipe.zrem(keys.ALERTS_RECENT, *old)
            pipe.execute()
        pipe = self.r.pipeline(transaction=False)
        for room in [*rooms, "*"]:
            pipe.zremrangebyrank(keys.alerts_recent(room), 0, -KEEP - 1)
        pipe.execute()
