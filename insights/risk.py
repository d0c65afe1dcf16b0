"""The risk job: watch each live room, its products, its buyers and its comments, and say what is going wrong.

`RiskState` (one per room) is pure and keeps event time: feed it the room's events (`observe`) and, at every
evaluation, the engine's snapshot of the room (`evaluate`); it returns the `Condition`s that hold now. Room
figures come from the snapshot (CONTRACT section 2); what needs a short window the engine does not keep (a
buyer's orders in the last minute, identical comments, refunds against usual sales) comes from the events.
Windows assume events arrive nearly in `ts` order: a late event stays a little longer than its window.

The rules themselves, each with the state it keeps and the events it observes, are in insights/rules/ (the
registry is its __init__); thresholds live in rules.yaml (`RuleBook`). What an alert does over time — firing,
grouping, cooldown, resolving — is insights/alerts.py's business. `run(r)` is the scheduler's job that wires
them to Redis.
"""
from __future__ import annotations

import logging
import os
import time
from bisect import bisect_right
from collections import deque
from pathlib import Path

import orjson
import redis
import yaml

from insights.alerts import Store, Tracker
from insights.rules import NAMES, RECORDS, ROOM_RULES, SYSTEM_RULES, observers
from insights.rules.base import AS_OF, MAX_WINDOW_S, SYSTEM_ROOM, Condition, View, params
from insights.webhook import Webhook
from feeds.schema import admissible
from store import deadletters, keys, wire
from store.connect import mget, raw_stream_reads, read_groups

log = logging.getLogger("livewall.risk")

RULES_FILE = Path(__file__).with_name("rules.yaml")
SYSTEM_NAMES = frozenset(rule.name for rule in SYSTEM_RULES)
GROUP, CONSUMER = "risk", "risk-1"
BATCH = 5000                # entries per room stream per read
MAX_READS = 10              # reads per run at most: under a flood, evaluate between catching up
LOOKBACK_S = 120            # a room first seen: read what its stream got in this many seconds before
RECALL_MAX = 500_000        # after a restart, entries read again at most to refill the rules' windows


# ---- configuration ---------------------------------------------------------------------------------------

def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_rules(paths: list[Path]) -> dict:
    config: dict = {}
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top")
        config = _merge(config, data)
    for name in config.get("rules") or {}:
        if name not in NAMES:
            log.warning("rules: no rule named %r (ignored)", name)
    return config


class RuleBook:
    """rules.yaml with the file named by LIVEWALL_RULES laid over it, read again when either changes."""

    def __init__(self, paths: list[Path] | None = None):
        if paths is None:
            extra = os.environ.get("LIVEWALL_RULES")
            paths = [RULES_FILE] + ([Path(extra)] if extra else [])
        self.paths = paths
        self.stamp = None
        self.config: dict | None = None

    def current(self) -> dict:
        stamp = tuple(_stat(p) for p in self.paths)
        if stamp != self.stamp:
            self.stamp = stamp
            try:
                self.config = load_rules(self.paths)
                log.info("rules loaded from %s", ", ".join(map(str, self.paths)))
            except (OSError, yaml.YAMLError, ValueError) as e:
                if self.config is None:
                    raise
                log.error("rules not reloaded, the previous ones stay: %s", e)
        return self.config


def _stat(path: Path):
    try:
        st = path.stat()
        return st.st_mtime_ns, st.st_size
    except OSError:
        return None


# ---- one room ------------------------------------------------------------------------------------------

_OBSERVERS = observers()


class RiskState:
    def __init__(self, room: str):
        self.room = room
        self.session: str | None = None
        self.last_ts: float | None = None
        # (as_of, online, gmv, paid_gmv, ad_spend, online summed over the session's samples so far) per evaluation
        self.samples: deque = deque()
        self.advanced: tuple | None = None  # (as_of, wall time it was first seen at), for stale data
        self._reset_events()

    def _reset_events(self) -> None:
        """A new session: every rule's own state and every shared record start empty."""
        self.units = {rule.name: rule.state() for rule in ROOM_RULES if rule.state}
        self.units.update((name, record()) for name, record in RECORDS.items())
        self.visits, self.buying, self.comments = self.units["visits"], self.units["buying"], self.units["comments"]

    def observe(self, ev: dict) -> None:
        t, ts = ev.get("type"), ev.get("ts")
        if t == "session_start":
            self._reset_events()
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        for unit, take in _OBSERVERS.get(t, ()):
            take(self.units[unit], ev, ts, self)

    def evaluate(self, snapshot: dict, now: float, config: dict, wall: float | None = None) -> list[Condition]:
        """The conditions that hold at event time `now`. `snapshot`: {"metrics", "products", "updated"} as the
        engine stores it. `wall`: the wall-clock time, for the rule that needs one (stale data); None offline."""
        m = snapshot["metrics"]
        if m.get("session") != self.session:
            self.session = m.get("session")
            self.samples.clear()
            self.advanced = None
        self._sample(m, snapshot.get("updated", wall), wall)
        self.visits.forget(now)
        self.buying.forget(now)
        view = View(m, snapshot.get("products") or [], now, wall)
        out = []
        for rule in ROOM_RULES:
            p = params(config, self.room, rule.name)
            try:
                # every rule runs, enabled or not, so that its windows keep moving
                found = list(rule.check(self.units.get(rule.name), self, view, p))
            except Exception as e:  # noqa: BLE001 - one rule's failure never silences the others
                log.warning("rule %s failed in room %s: %r", rule.name, self.room, e)
                continue
            if p.get("enabled", True) and m.get("ended") is None:
                out.extend(Condition(rule.name, self.room, figures, subject, events, self.session, m.get("as_of"))
                           for subject, figures, events in found)
        self.judged()
        return out

    def judged(self) -> None:
        """The comments and orders so far have been judged: event rules must not count them as new again."""
        self.comments.fresh.clear()
        self.buying.fresh.clear()

    def _sample(self, m: dict, updated: float | None, wall: float | None) -> None:
        as_of = m["as_of"]
        if not self.samples or as_of > self.samples[-1][0]:
            summed = (self.samples[-1][5] if self.samples else 0) + m["online"]
            self.samples.append((as_of, m["online"], m["gmv"], m["paid_gmv"], m["ad_spend"], summed))
            while self.samples[0][0] < as_of - MAX_WINDOW_S:
                self.samples.popleft()
        if self.advanced is None or as_of != self.advanced[0]:
            self.advanced = (as_of, updated if updated is not None else wall)

    def upto(self, t: float) -> int:
        """How many samples are as of `t` or earlier."""
        return bisect_right(self.samples, t, key=AS_OF)

    def delta(self, now: float, window_s: float, full: bool = True) -> tuple[tuple, tuple] | None:
        """The latest sample and the one at the window's start (or the oldest kept, unless `full`)."""
        i = self.upto(now - window_s)
        if full and not i:
            return None
        return self.samples[-1], self.samples[i - 1 if i else 0]

    def mean_online(self, after: float, until: float) -> float | None:
        """The mean of online over the samples as of (after, until]; None if there are none."""
        i, j = self.upto(after), self.upto(until)
        if j <= i:
            return None
        first, last = self.samples[i], self.samples[j - 1]
        return (last[5] - first[5] + first[1]) / (j - i)


# ---- the job -------------------------------------------------------------------------------------------

class Job:
    """One risk run every half second: read new events, evaluate every room, record what changed."""

    def __init__(self, r: redis.Redis, book: RuleBook | None = None, webhook: Webhook | None = None,
                 owns=None):
        """`owns()`: the rooms (and SYSTEM_ROOM for the system rules) this process judges now, when several job
        processes share them (insights/jobs.py); None: every room."""
        self.r = raw_stream_reads(r)
        self.owns = owns
        self.held: set | None = None
        self.book = book or RuleBook()
        self.store = Store(r)
        self.tracker = Tracker()
        self.webhook = webhook or Webhook()
        self.states: dict[str, RiskState] = {}
        self.products: dict[str, tuple] = {}   # room -> (snapshot `updated`, full product rows)
        self.adopted = False
        self.started = time.time()
        self.system = {rule.name: rule.state(self.started) for rule in SYSTEM_RULES if rule.state}

    def step(self) -> None:
        config = self.book.current()
        wall = time.time()
        held = self.owns() if self.owns is not None else None
        if held is not None and held != self.held:
            self._moved(held, wall)
        elif not self.adopted:
            self.tracker.adopt(self.store.open_alerts(), wall)
            self.adopted = True
        rooms = self._rooms(held)
        self._read(rooms)
        conditions = []
        blobs = mget(self.r, [keys.snapshot(n) for n in rooms]) if rooms else []
        for name, blob in zip(rooms, blobs):
            if blob:
                try:
                    snap = wire.read_frame_dict(blob)
                    snap["products"] = self._products(name, snap)
                    # a snapshot left before this job started (a restart) is only as old as the job: stale_data
                    # judges the feed from here on, not the outage
                    snap["updated"] = max(snap.get("updated") or wall, self.started)
                    st = self.states[name]
                    now = max(snap["metrics"]["as_of"], st.last_ts or 0.0)
                    conditions += st.evaluate(snap, now, config, wall)
                except redis.RedisError:
                    raise
                except Exception as e:  # noqa: BLE001 - one room never stops the others' alerts
                    if deadletters.record(self.r, "risk", name, e):
                        log.exception("risk: room %s failed; set aside as a dead letter", name)
        for rule in SYSTEM_RULES if held is None or SYSTEM_ROOM in held else ():
            conditions += rule.check(self.system.get(rule.name), self.r, wall, config, self.started)
        changes = self.tracker.update(conditions, wall, lambda room, rule: params(config, room, rule))
        if changes:
            self.store.save(changes)
            for what, rec in changes:
                if what == "fired":
                    self.webhook.offer(rec, config.get("webhook"))
        self.store.trim(wall, self.states)

    def _moved(self, held: set, wall: float) -> None:
        """Rooms came or went (another job process took them, or left them to us): forget what we no longer
        judge, take up the open alerts of what we now judge."""
        def here(rule: str, room: str) -> bool:
            return SYSTEM_ROOM in held if rule in SYSTEM_NAMES else room in held
        self.tracker.keep_only(here)
        self.tracker.adopt([rec for rec in self.store.open_alerts() if here(rec["rule"], rec["room"])], wall)
        for name in [n for n in self.states if n not in held]:
            del self.states[name]
        self.held = held
        self.adopted = True

    def _rooms(self, held: set | None) -> list[str]:
        names = sorted(n for n in (x.decode() for x in self.r.smembers(keys.ROOMS)) if held is None or n in held)
        for name in names:
            if name not in self.states:
                self._join(name)
        return names

    def _join(self, name: str) -> None:
        stream = keys.events(name)
        st = self.states[name] = RiskState(name)
        try:
            # a new group starts a little in the past: the events that made the room known count too
            start = f"{int((time.time() - LOOKBACK_S) * 1000)}-0"
            self.r.xgroup_create(stream, GROUP, id=start, mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
            self._recall(stream, st)
        # delivered before a restart but never acknowledged: those come next
        self._consume({stream: "0"}, {stream: st})

    def _recall(self, stream: str, st: RiskState) -> None:
        """After a restart, observe again what the group had been given in the last MAX_WINDOW_S (up to its
        first unacknowledged entry): rules that compare now with before (a leave burst, an order burst...)
        would otherwise compare the events that came while the job was away with an empty before."""
        group = next((g for g in self.r.xinfo_groups(stream) if g["name"] in (GROUP, GROUP.encode())), None)
        if group is None:
            return
        last = group["last-delivered-id"]
        last = last.decode() if isinstance(last, bytes) else last
        pending = self.r.xpending(stream, GROUP)
        until = f"({pending['min'].decode() if isinstance(pending['min'], bytes) else pending['min']}" \
            if pending.get("pending") else last
        start = f"{max(0, int(last.split('-')[0]) - MAX_WINDOW_S * 1000)}-0"
        seen = 0
        while seen < RECALL_MAX:
            chunk = self.r.xrange(stream, min=start, max=until, count=BATCH)
            for _entry_id, fields in chunk:
                try:
                    st.observe(orjson.loads(fields[b"e"]))
                except (KeyError, TypeError, ValueError):
                    continue
            seen += len(chunk)
            if len(chunk) < BATCH:
                break
            start = b"(" + chunk[-1][0]
        st.judged()   # by the previous run

    def _read(self, rooms: list[str]) -> None:
        streams = {keys.events(n): ">" for n in rooms}
        by_stream = {keys.events(n): self.states[n] for n in rooms}
        for _ in range(MAX_READS):
            if not streams or not self._consume(streams, by_stream):
                return

    def _consume(self, streams: dict, states: dict) -> bool:
        """One read of every stream given; True if some stream had a full batch (read again)."""
        full = False
        for stream, entries in read_groups(self.r, GROUP, CONSUMER, streams, count=BATCH):
            stream = stream.decode()
            st = states[stream]
            for entry_id, fields in entries:
                if not fields:
                    continue   # a pending entry trimmed away comes back empty
                payload = fields[1] if len(fields) > 1 else b""   # raw fields: [b"e", payload]
                try:
                    st.observe(admissible(payload))
                except Exception as e:  # noqa: BLE001 - one event never stops the rest: it is set aside
                    if deadletters.record(self.r, "risk", st.room, e, entry_id, payload):
                        log.warning("risk: entry %s of %s set aside: %r", entry_id, stream, e)
            if entries:
                self.r.xack(stream, GROUP, *[e[0] for e in entries])
            full = full or len(entries) == BATCH
        return full

    def _products(self, name: str, snap: dict) -> list:
        """Every product row: a live frame carries the top ones only, and what is on stage may not be there."""
        rows = snap.get("products") or []
        if snap.get("product_count", len(rows)) <= len(rows):
            return rows
        cached = self.products.get(name)
        if cached is None or cached[0] != snap.get("updated"):
            rows = orjson.loads(self.r.get(keys.products(name)) or b"[]")
            cached = self.products[name] = (snap.get("updated"), rows)
        return cached[1]


_job: Job | None = None


def run(r: redis.Redis, owns=None) -> None:
    """The scheduler's entry point (insights/jobs.py): one run; state carries over between runs."""
    global _job
    if _job is None or _job.r is not r:
        _job = Job(r, owns=owns)
    _job.step()
