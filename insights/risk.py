"""Risk rules: watch each live room, its products, its buyers and its comments, and say what is going wrong.

`RiskState` (one per room) is pure and keeps event time: feed it the room's events (`observe`) and, at every
evaluation, the engine's snapshot of the room (`evaluate`); it returns the `Condition`s that hold now. Room
figures come from the snapshot (CONTRACT section 2); what needs a short window the engine does not keep (a
buyer's orders in the last minute, identical comments, refunds against usual sales) comes from the events.
Windows assume events arrive nearly in `ts` order: a late event stays a little longer than its window.

Thresholds live in rules.yaml (`RuleBook`). What an alert does over time — firing, grouping, cooldown,
resolving — is insights/alerts.py's business. `run(r)` is the scheduler's job that wires both to Redis.
"""
from __future__ import annotations

import logging
import math
import os
import re
import time
from bisect import bisect_left, bisect_right, insort
from collections import Counter, deque
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

import orjson
import redis
import yaml

from insights.alerts import Store, Tracker
from insights.stats import poisson_binomial_tail, poisson_tail
from insights.webhook import Webhook
from feeds.schema import admissible
from store import deadletters, keys, wire
from store.connect import by_stream, raw_stream_reads

log = logging.getLogger("livewall.risk")

RULES_FILE = Path(__file__).with_name("rules.yaml")
MAX_WINDOW_S = 900          # the longest window a rule may ask for: what the snapshot samples and orders keep
VISIT_KEEP_S = 180          # visits are remembered this long: an order soon after leaving is still the visit's
CLICK_KEEP_S = 300          # an order later than this after a click on its product is not that click's
PRIOR_CLICKS = 30           # a product's conversion starts as the room's, worth this many clicks
PRIOR_VISITS = 20           # a source's bounce rate starts as the room's, worth this many visits
PRIOR_BOUNCES = 5           # how soon bounces leave starts as evenly over 2 s, worth this many bounces
LAGS_KEPT = 300             # delays kept (click to order, enter to bounce): the room's recent habit
BOUNCE_S = 2.0              # CONTRACT section 2: a visit that closes sooner bounced
GROUP, CONSUMER = "risk", "risk-1"
BATCH = 5000                # entries per room stream per read
MAX_READS = 10              # reads per run at most: under a flood, evaluate between catching up
LOOKBACK_S = 120            # a room first seen: read what its stream got in this many seconds before
RECALL_MAX = 500_000        # after a restart, entries read again at most to refill the rules' windows
SYSTEM_ROOM = "*"           # the room of alerts about livewall itself


@dataclass
class Condition:
    """A rule that holds now in one room (for one product or user: `subject`)."""
    rule: str
    room: str
    figures: dict
    subject: str | None = None
    events: int | None = None   # event rules: offending events since the last evaluation; None: a level
    session: str | None = None
    as_of: float | None = None


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
        if name not in ROOM_RULES and name != "engine_lag":
            log.warning("rules: no rule named %r (ignored)", name)
    return config


def params(config: dict, room: str, rule: str) -> dict:
    """A rule's settings for one room: defaults, then the rule's own, then the room's."""
    room_over = ((config.get("rooms") or {}).get(room) or {}).get(rule) or {}
    return {**(config.get("defaults") or {}), **(config.get("rules") or {}).get(rule, {}), **room_over}


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


# ---- text matching ---------------------------------------------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+")


def compact(text: str) -> str:
    """Lower case without spaces, punctuation or emoji: '加 微-信！' and '加微信' are the same comment."""
    return _NOT_WORD.sub("", text.lower())


@lru_cache(maxsize=64)
def _lexicon(terms: tuple) -> re.Pattern | None:
    # ASCII words match whole words of the raw text ("bad" is not in "badge"); CJK terms match anywhere
    parts = [rf"\b{re.escape(t.lower())}\b" if t.isascii() else re.escape(compact(t)) for t in terms if t]
    return re.compile("|".join(parts)) if parts else None


def find_term(text: str, terms, squeeze: bool) -> str | None:
    """The first term in text. squeeze: also across spaces and punctuation ('加 微 信'), for evasions."""
    pattern = _lexicon(tuple(terms or ()))
    if pattern is None:
        return None
    low = text.lower()
    m = pattern.search(low) or pattern.search(compact(low) if squeeze else _NOT_WORD.sub(" ", low))
    return m.group(0) if m else None


# ---- one room ------------------------------------------------------------------------------------------

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
        self.visits: deque = deque()      # [enter ts, leave ts or None, user, source], by enter
        self.inside: dict = {}            # user -> the open visit's record
        self.left: deque = deque()        # closed visits' records, by leave
        self.stays: deque = deque()       # leave ts of the closed visits that did not bounce, by leave
        self.last_visit: dict = {}        # user -> the latest visit's record: open, or closed and remembered
        self.orders: deque = deque()      # (ts, user, order_id, amount, seconds since the buyer entered or None)
        self.order_ids: set = set()       # of `orders`: an order and its pay are one order
        self.fresh: list = []             # the orders since the last evaluation
        self.order_log: deque = deque()   # (ts, a repeat?) per order over MAX_WINDOW_S, for buyer_burst's pace
        self.repeats = 0                  # repeats in `order_log`: orders by a buyer who ordered < window_s before
        self.last_order: dict = {}        # user -> ts of their latest order within window_s, oldest first
        self.paid = PaidShare()
        self.clicked: dict = {}           # (user, sku) -> ts of that user's latest click on it, oldest first
        self.lags = Lags()                # seconds from a click to the order that followed it
        self.bounce_times = Lags()        # seconds from entering to leaving, of the visits that bounced
        self.conversion = Conversion()
        self.pays: deque = deque()        # ts, for refund_spike's baseline
        self.refunds: deque = deque()     # (ts, amount)
        self.clicks: deque = deque()      # (ts, sku, user)
        self.sku_pays: deque = deque()    # (ts, sku)
        self.session_pays = 0             # pays this session: over `conversion.all_clicks`, the room's conversion
        self.inbox: list = []             # (ts, user, text) of comments since the last evaluation
        self.texts: deque = deque()       # (ts, compact text, user) for comment_flood
        self.text_users: dict = {}        # compact text -> Counter(user)
        self.text_shown: dict = {}        # compact text -> the text as written (latest)
        self.banned: deque = deque()      # (ts, user, term, text)
        self.moods: deque = deque()       # (ts, negative?) for negative_comments
        self.mood_totals = [0, 0]         # comments, negative ones, in `moods`

    # -- events ------------------------------------------------------------------------------------------

    def observe(self, ev: dict) -> None:
        t, ts = ev.get("type"), ev.get("ts")
        if t == "session_start":
            self._reset_events()
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
        handler = _OBSERVERS.get(t)
        if handler is not None:
            handler(self, ev, ts)

    def _on_enter(self, ev, ts):
        user = ev["user"]
        if user not in self.inside:
            rec = [ts, None, user, ev.get("source", "other")]
            self.visits.append(rec)
            self.inside[user] = self.last_visit[user] = rec

    def _on_leave(self, ev, ts):
        rec = self.inside.pop(ev["user"], None)
        if rec is not None:
            rec[1] = ts
            self.left.append(rec)
            if ts - rec[0] >= BOUNCE_S:
                self.stays.append(ts)
            elif ts >= rec[0]:
                self.bounce_times.add(ts - rec[0])

    def _on_order(self, ev, ts):
        oid = ev["order_id"]
        if ev["type"] == "pay":
            self.pays.append(ts)
            self.sku_pays.append((ts, ev["sku"]))
            self.session_pays += 1
        if oid in self.order_ids:
            return
        user = ev["user"]
        self.order_ids.add(oid)
        clicked = self.clicked.pop((user, ev["sku"]), None)
        if clicked is not None and ts >= clicked:
            self.lags.add(ts - clicked)
        self.conversion.order(ev["sku"])
        self.paid.order(ts, self._source(user) == "paid", clicked is not None)
        visit = self.inside.get(user)
        order = (ts, user, oid, ev["amount"], ts - visit[0] if visit is not None else None)
        self.orders.append(order)
        self.fresh.append(order)

    def _on_refund(self, ev, ts):
        self.refunds.append((ts, ev["amount"]))

    def _on_click(self, ev, ts):
        user, sku = ev["user"], ev["sku"]
        self.clicks.append((ts, sku, user))
        self.clicked.pop((user, sku), None)   # re-inserted last: the dict stays in click order
        self.clicked[(user, sku)] = ts
        self.paid.click(ts, self._source(user) == "paid", self.conversion.relative(sku, PRIOR_CLICKS))
        self.conversion.click(sku)

    def _source(self, user: str) -> str | None:
        visit = self.last_visit.get(user)
        return visit[3] if visit is not None else None

    def _on_comment(self, ev, ts):
        self.inbox.append((ts, ev["user"], ev["text"]))

    # -- evaluation --------------------------------------------------------------------------------------

    def evaluate(self, snapshot: dict, now: float, config: dict, wall: float | None = None) -> list[Condition]:
        """The conditions that hold at event time `now`. `snapshot`: {"metrics", "products", "updated"} as the
        engine stores it. `wall`: the wall-clock time, for the rule that needs one (stale data); None offline."""
        m = snapshot["metrics"]
        if m.get("session") != self.session:
            self.session = m.get("session")
            self.samples.clear()
            self.advanced = None
        self._sample(m, snapshot.get("updated", wall), wall)
        self._forget(now)
        view = View(m, snapshot.get("products") or [], now, wall)
        out = []
        for name, rule in ROOM_RULES.items():
            p = params(config, self.room, name)
            try:
                # every rule runs, enabled or not, so that its windows keep moving
                found = list(rule(self, view, p))
            except Exception as e:  # noqa: BLE001 - one rule's failure never silences the others
                log.warning("rule %s failed in room %s: %r", name, self.room, e)
                continue
            if p.get("enabled", True) and m.get("ended") is None:
                out.extend(Condition(name, self.room, figures, subject, events, self.session, m.get("as_of"))
                           for subject, figures, events in found)
        self.inbox.clear()
        self.fresh.clear()
        return out

    def _forget(self, now: float) -> None:
        def visit_gone(rec):
            if self.last_visit.get(rec[2]) is rec:
                del self.last_visit[rec[2]]
        _evict(self.visits, now - VISIT_KEEP_S)
        while self.left and self.left[0][1] <= now - VISIT_KEEP_S:
            visit_gone(self.left.popleft())
        while self.stays and self.stays[0] <= now - VISIT_KEEP_S:
            self.stays.popleft()
        _evict(self.orders, now - MAX_WINDOW_S, lambda o: self.order_ids.discard(o[2]))
        while self.clicked:
            key, ts = next(iter(self.clicked.items()))
            if ts > now - CLICK_KEEP_S:
                break
            del self.clicked[key]

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
        return bisect_right(self.samples, t, key=_AS_OF)

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


class PaidShare:
    """Whether paid visitors still order, told against the room's other orders. Each product click makes an
    order due later (spread as the room's orders follow their clicks, `Lags`) at its source's conversion this
    session and its product's (`Conversion.relative`), so every order that comes is a paid one with the share
    of the orders due that paid clicks make. The orders of other visitors since the last paid one are then a
    run of draws that all missed: the chance of that is the product of (1 - paid share). Whatever moves every
    visitor's conversion at once (a flash sale, a product's stock, the streamer's pitch) moves both sides
    alike and cancels out; only paid visitors who stop ordering while the others go on make the run long."""

    def __init__(self):
        self.clicks = {True: 0, False: 0}   # product clicks this session, paid or not
        self.orders = {True: 0, False: 0}   # orders that followed a product click, paid or not
        self.buckets: deque = deque()       # [second, paid weight, other weight] of clicks, oldest first
        self.last: float | None = None      # ts of the last paid order
        self.counted_to: float | None = None
        self.others = 0                     # others' orders since the last paid one
        self.due = 0.0                      # paid orders due since the last one
        self.due_others = 0.0               # and others' orders

    def p_value(self) -> float:
        """The chance that none of the others' orders since the last paid one was paid, at the paid share of
        all the orders due since. One share for the whole run, not one per moment: a moment's share swings
        with every single click, and the run's mean makes the test cautious (ln(1 - share) is concave)."""
        due = self.due + self.due_others
        if not self.others or due <= 0:
            return 1.0
        return (self.due_others / due) ** self.others

    def click(self, ts: float, paid: bool, weight: float) -> None:
        self.clicks[paid] += 1
        second = math.floor(ts)
        if not self.buckets or self.buckets[-1][0] < second:
            self.buckets.append([second, 0.0, 0.0])
        self.buckets[-1][1 if paid else 2] += weight

    def order(self, ts: float, paid: bool, clicked: bool) -> None:
        """`clicked`: the order followed the buyer's click on its product; others (a fraudster's burst) are
        not what clicks make due, but a paid one still shows paid visitors ordering."""
        if clicked:
            self.orders[paid] += 1
        if paid:
            self.last = ts
            self.counted_to = max(ts, self.counted_to or ts)
            self.others = 0
            self.due = self.due_others = 0.0
        elif clicked and self.last is not None:
            self.others += 1

    def count(self, now: float, lags: Lags) -> None:
        """Add the orders due between the last count and `now`."""
        start = self.counted_to if self.counted_to is not None else now
        if lags.sorted and now > start and self.clicks[True] and self.clicks[False]:
            rate = {paid: self.orders[paid] / self.clicks[paid] for paid in (True, False)}
            paid = other = 0.0
            for second, w_paid, w_other in self.buckets:
                at = second + 0.5
                d = lags.cdf(now - at) - lags.cdf(start - at)
                paid += w_paid * d
                other += w_other * d
            self.due += paid * rate[True]
            self.due_others += other * rate[False]
        self.counted_to = max(now, start)
        longest = lags.sorted[-1] if lags.sorted else CLICK_KEEP_S
        while self.buckets and self.buckets[0][0] < now - longest - 1:
            self.buckets.popleft()


class Lags:
    """The last LAGS_KEPT of some delay, kept sorted: seconds from a product click to its order, or from
    entering to leaving of a visit that bounced."""

    def __init__(self):
        self.recent: deque = deque()
        self.sorted: list = []

    def add(self, lag: float) -> None:
        if len(self.recent) == LAGS_KEPT:
            del self.sorted[bisect_left(self.sorted, self.recent.popleft())]
        self.recent.append(lag)
        insort(self.sorted, lag)

    def cdf(self, x: float) -> float:
        return bisect_right(self.sorted, x) / len(self.sorted)


class Conversion:
    """Orders per product click this session, per product and for the whole room."""

    def __init__(self):
        self.clicks: Counter = Counter()
        self.orders: Counter = Counter()
        self.all_clicks = self.all_orders = 0

    def click(self, sku: str) -> None:
        self.clicks[sku] += 1
        self.all_clicks += 1

    def order(self, sku: str) -> None:
        self.orders[sku] += 1
        self.all_orders += 1

    def relative(self, sku: str, prior: float) -> float:
        """The product's conversion over the room's, shrunk toward 1 by `prior` clicks: products convert very
        differently, and a new one has to show it."""
        if not self.all_orders:
            return 1.0
        room = self.all_orders / self.all_clicks
        return (self.orders[sku] + prior * room) / (self.clicks[sku] + prior) / room


@dataclass
class View:
    m: dict
    products: list
    now: float
    wall: float | None


_AS_OF = itemgetter(0)


def _evict(window: deque, before: float, on_drop=None) -> None:
    while window and window[0][0] <= before:
        item = window.popleft()
        if on_drop is not None:
            on_drop(item)


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


# ---- the rules: each yields (subject, figures, events) for what holds now ----------------------------------

def bounce_storm(st: RiskState, v: View, p: dict):
    # Over the visits opened in the window, each against its own source's bounce rate this session: a tail
    # of those chances tells a storm from a run of bad luck within a handful of visits, where a fixed share
    # needs many of them to be safe. A bounce from a fan who usually stays says more than one from an ad's
    # visitor, who often bounces; a run of ad visitors bouncing is no storm. A visit under 2 s old counts
    # for what can be seen of it so far: it has left with its source's rate times the share of this
    # session's bounces that leave that soon (counting only the young who have left would count the
    # bounces of the last 2 s and none of their peers who stay).
    w = min(p["window_s"], VISIT_KEEP_S)
    visits = bounced = 0
    seen = 0.0
    trials = []
    for enter, leave, _u, src in reversed(st.visits):
        if enter <= v.now - w:
            break
        age = v.now - enter
        if age < BOUNCE_S:
            weight = _left_by(st.bounce_times, age)
            hit = leave is not None
        else:
            weight = 1.0
            hit = leave is not None and leave - enter < BOUNCE_S
        visits += 1
        bounced += hit
        seen += weight
        trials.append((src, weight))
    usual = v.m["bounce_2s_rate"]
    rate = min(1.0, bounced / seen) if seen else None
    # the tail only where it can matter: it is the costly part of the rule
    p_value = 1.0
    if usual is not None and seen >= p["min_visits"] and rate > p["max_rate"]:
        rates = _source_bounce(v.m.get("sources") or {}, usual)
        p_value = poisson_binomial_tail(bounced, [rates(src) * weight for src, weight in trials])
    w60 = v.m["windows"]["60"]
    rate60, visits60 = w60["bounce_2s_rate"], w60["visits"]
    short = p_value < p["max_p"]
    if short or (visits60 >= p["min_visits_60s"] and rate60 is not None and rate60 > p["max_rate_60s"]):
        if not short:
            # the figures that fired it: the message names the window, and the last seconds may hold no visit
            rate, visits, w = rate60, visits60, 60
        yield None, {"rate": rate, "visits": visits, "window_s": w, "rate_60s": rate60, "visits_60s": visits60,
                     "usual": usual, "p": p_value, "max_rate": p["max_rate"], "max_rate_60s": p["max_rate_60s"]}, None


def _left_by(bounce_times: Lags, age: float) -> float:
    """The share of bounces that have left by `age` seconds (< 2) after entering, this session's habit."""
    done = bisect_right(bounce_times.sorted, age)
    return (done + PRIOR_BOUNCES * age / BOUNCE_S) / (len(bounce_times.sorted) + PRIOR_BOUNCES)


def _source_bounce(sources: dict, usual: float):
    """A source's bounce rate this session (the engine's `sources`), shrunk toward the room's by PRIOR_VISITS."""
    cache: dict = {}

    def rate(src: str) -> float:
        if src not in cache:
            s = sources.get(src) or {}
            cache[src] = (s.get("bounced", 0) + PRIOR_VISITS * usual) / (s.get("decided", 0) + PRIOR_VISITS)
        return cache[src]
    return rate


def viewer_drop(st: RiskState, v: View, p: dict):
    # Either viewers who had stayed leave far faster than usual (a Poisson test of the leaves against the
    # session's leaves per viewer-second over the baseline before, over every span of scan_step_s up to
    # burst_s ending now, the least p-value: seconds into a walk-out, the short span has none of the calm
    # before it), or
    # online has fallen max_drop below its peak of the last window_s. 2-second bounces do not count here:
    # they are bounce_storm's.
    if burst := _leave_burst(st, v, p):
        yield None, burst, None
        return
    w = p["window_s"]
    # the level in force when the window opened counts too: a quiet room samples rarely
    _cur, base = st.delta(v.now, w, full=False)
    peak = base[1]
    for s in reversed(st.samples):
        if s[0] <= v.now - w:
            break
        peak = max(peak, s[1])
    online = v.m["online"]
    if peak >= p["min_online"] and online < peak * (1 - p["max_drop"]) and peak - online >= p["min_lost"]:
        yield None, {"online": online, "peak": peak, "drop": 1 - online / peak, "window_s": w}, None


def _leave_burst(st: RiskState, v: View, p: dict) -> dict | None:
    b, base_s = p["burst_s"], min(p["baseline_s"], VISIT_KEEP_S)
    if v.now - v.m["started"] < base_s:
        return None   # no usual pace to compare with yet
    stays = st.stays
    left = len(stays) - bisect_right(stays, v.now - b)
    before = len(stays) - bisect_right(stays, v.now - base_s) - left
    _cur, start = st.delta(v.now, b, full=False)
    online = start[1]
    level = st.mean_online(v.now - base_s, v.now - b)
    if level is None or online < p["min_online"] or left < p["min_share"] * online:
        return None
    # leaves per viewer-second, counting one more leave as a prior: a room nobody left yet is not a room
    # nobody ever leaves
    pace = (before + 1) / (max(level, 1) * (base_s - b))
    best = None
    for w in _spans(b, p.get("scan_step_s")):
        n = left if w == b else len(stays) - bisect_right(stays, v.now - w)
        at = online if w == b else st.delta(v.now, w, full=False)[1][1]
        usual = pace * at * w
        p_value = poisson_tail(n, usual)
        if best is None or p_value < best[0]:
            best = (p_value, w, n, usual, at)
    p_value, w, n, usual, at = best
    if p_value >= p["max_p"]:
        return None
    now = v.m["online"]
    return {"online": now, "peak": at, "drop": 1 - now / at if at else 0.0, "window_s": w, "left": n,
            "usual": usual, "p": p_value}


def _spans(longest: float, step) -> list:
    """The spans a scan tries, ending now: every `step` seconds up to `longest`; `longest` alone if no step."""
    if not step or step <= 0:
        return [longest]
    n = max(1, math.ceil(longest / step - 1e-9))
    return [step * k for k in range(1, n)] + [longest]


def low_dwell(st: RiskState, v: View, p: dict):
    m = v.m
    dwell = m["avg_dwell_s"]
    if (dwell is not None and dwell < p["min_avg_dwell_s"] and m["viewers"] >= p["min_viewers"]
            and v.now - m["started"] >= p["after_s"]):
        yield None, {"avg_dwell_s": dwell, "viewers": m["viewers"], "min_avg_dwell_s": p["min_avg_dwell_s"]}, None


def stale_data(st: RiskState, v: View, p: dict):
    if v.wall is None or st.advanced is None or st.advanced[1] is None:
        return
    silent = v.wall - st.advanced[1]
    if silent > p["max_silence_s"]:
        yield None, {"silent_s": silent, "as_of": st.advanced[0]}, None


def roi_low(st: RiskState, v: View, p: dict):
    w = p["window_s"]
    span = st.delta(v.now, w)
    if span is None:
        return
    cur, base = span
    spend = cur[4] - base[4]
    if spend < p["min_spend"]:
        return
    paid_roi = (cur[3] - base[3]) / spend
    target = v.m.get("target_roi")
    floor = target * p["target_ratio"] if target else p["min_paid_roi"]
    if paid_roi < floor:
        yield None, {"paid_roi": paid_roi, "floor": floor, "spend": spend, "paid_gmv": cur[3] - base[3],
                     "window_s": w}, None


def paid_stall(st: RiskState, v: View, p: dict):
    """Paid visitors keep clicking but stopped ordering while the room's other visitors go on (`PaidShare`):
    a quiet moment, a sold-out product or a slow pitch stops every order, and is no stall."""
    t = st.paid
    t.count(v.now, st.lags)
    if t.orders[True] < p["min_paid_orders"] or len(st.lags.sorted) < p["min_lags"]:
        return
    p_value = t.p_value()
    if p_value > p["max_p"]:
        return
    cur, base = st.delta(v.now, v.now - t.last, full=False)
    spend = cur[4] - base[4]
    if spend >= p["min_spend"]:
        yield None, {"silent_s": v.now - t.last, "expected": t.due, "others": t.others, "p": p_value,
                     "spend": spend}, None


def spend_ahead(st: RiskState, v: View, p: dict):
    w = p["window_s"]
    span = st.delta(v.now, w)
    if span is None:
        return
    cur, base = span
    spend, gmv = cur[4] - base[4], cur[2] - base[2]
    if spend >= p["min_spend"] and spend > p["max_ratio"] * gmv:
        yield None, {"spend": spend, "gmv": gmv, "ratio": spend / gmv if gmv else None, "window_s": w}, None


def refund_spike(st: RiskState, v: View, p: dict):
    # Refunds in the last seconds against the room's own pace of refunds over the baseline before them (one
    # more counted as a prior: a room nobody refunded yet is not a room nobody ever refunds): a Poisson test
    # over every span of scan_step_s up to window_s ending now, so that a burst shows in seconds and a slow
    # one within window_s; and, as a floor of size, more refunds than max_share of the paid orders such a
    # span usually brings.
    w, base_s = p["window_s"], p["baseline_s"]
    _evict(st.refunds, v.now - max(w, base_s))
    while st.pays and st.pays[0] <= v.now - base_s:
        st.pays.popleft()
    recent = [r for r in st.refunds if r[0] > v.now - w]   # oldest first
    if len(recent) < p["min_refunds"]:
        return
    times = [ts for ts, _a in recent]
    span = min(base_s, max(w, v.now - v.m["started"]))
    pays_per_s = len(st.pays) / span
    before = max(0, len(st.refunds) - bisect_right(st.refunds, v.now - base_s, key=_AS_OF) - len(recent))
    pace = (before + 1) / max(span - w, w)
    best = None
    for x in _spans(w, p.get("scan_step_s")):
        n = len(times) - bisect_right(times, v.now - x)
        if n >= p["min_refunds"] and n > p["max_share"] * pays_per_s * x:
            p_value = poisson_tail(n, pace * x)
            if best is None or p_value < best[0]:
                best = (p_value, x, n)
    if best is not None and best[0] < p["max_p"]:
        p_value, x, n = best
        yield None, {"refunds": n, "amount": sum(a for _ts, a in recent[len(recent) - n:]),
                     "usual_pays": pays_per_s * x, "usual": pace * x, "p": p_value, "window_s": x}, None


def _stage(v: View, test):
    for row in v.products:
        stock = row.get("stock")
        if row.get("on_stage") and stock is not None and test(stock):
            yield row["sku"], {"sku": row["sku"], "name": row.get("name") or row["sku"], "stock": stock,
                               "stage_seconds": row.get("stage_seconds")}, None


def stock_low(st: RiskState, v: View, p: dict):
    return _stage(v, lambda stock: 0 < stock <= p["max_stock"])


def sold_out(st: RiskState, v: View, p: dict):
    return _stage(v, lambda stock: stock <= 0)


def clicks_no_sales(st: RiskState, v: View, p: dict):
    w = p["window_s"]
    _evict(st.clicks, v.now - w)
    _evict(st.sku_pays, v.now - w)
    rows = {r["sku"]: r for r in v.products
            if (r.get("on_stage") or not p["on_stage_only"]) and (r.get("stock") is None or r["stock"] > 0)}
    clicks, pays = Counter(), Counter(sku for _ts, sku in st.sku_pays)
    clickers: dict = {}
    for ts, sku, user in st.clicks:
        if ts > v.now - p["pay_lag_s"]:
            break   # too recent to have been paid yet
        if sku in rows:
            clicks[sku] += 1
            clickers.setdefault(sku, set()).add(user)
    per_click = st.session_pays / max(st.conversion.all_clicks, 1)
    for sku, users in clickers.items():
        expected = clicks[sku] * per_click   # at the session's conversion of a click
        if len(users) >= p["min_clickers"] and expected >= p["min_expected"] and pays[sku] <= p["max_pays"]:
            yield sku, {"sku": sku, "name": rows[sku].get("name") or sku, "clickers": len(users),
                        "pays": pays[sku], "expected": expected, "window_s": w}, None


def _recent_orders(st: RiskState, since: float):
    for order in reversed(st.orders):
        if order[0] <= since:
            return
        yield order


def buyer_burst(st: RiskState, v: View, p: dict):
    # One buyer with many orders in window_s: more than max_orders, or more than max_new_orders for a buyer
    # who entered under new_s before, or min_orders whose repeats come far faster than the room's own pace of
    # repeat orders (orders by a buyer who ordered less than window_s before, per order and per second of the
    # window_s it opens, over the last MAX_WINDOW_S, one more counted as a prior): a Poisson test of the
    # buyer's orders after their first in the window, over the seconds since it, under max_p. Each of these
    # only while the buyer has min_share of the room's orders in window_s (a flash sale makes many buyers
    # order again and again: no one of them stands out). Or more money than max_amount.
    w = p["window_s"]
    for ts, user, *_rest in st.fresh:
        prev = st.last_order.pop(user, None)
        repeat = prev is not None and ts - prev < w
        st.order_log.append((ts, repeat))
        st.repeats += repeat
        st.last_order[user] = ts   # re-inserted last: the dict stays in order of latest orders

    def forget(item):
        st.repeats -= item[1]
    _evict(st.order_log, v.now - MAX_WINDOW_S, forget)
    while st.last_order:
        user, ts = next(iter(st.last_order.items()))
        if ts > v.now - w:
            break
        del st.last_order[user]
    pace = (st.repeats + 1) / ((len(st.order_log) + 1) * w)
    per_user: dict = {}   # user -> [orders, amount, seconds from entering to the earliest order, its ts]
    for ts, user, _oid, amount, dwell in _recent_orders(st, v.now - w):
        tally = per_user.setdefault(user, [0, 0.0, None, ts])
        tally[0] += 1
        tally[1] += amount
        tally[2] = dwell   # newest first: the earliest order's comes last
        tally[3] = ts
    fresh = Counter(o[1] for o in st.fresh)
    total = sum(t[0] for t in per_user.values())
    for user, (n, amount, dwell, first) in per_user.items():
        new = dwell is not None and dwell <= p["new_s"]
        p_value = usual = None
        if n >= p["min_orders"] and n >= p["min_share"] * total:
            usual = pace * (v.now - first)
            p_value = poisson_tail(n - 1, usual)
        many = (n > p["max_orders"] or (new and n > p["max_new_orders"])) and n >= p["min_share"] * total
        if many or (p_value is not None and p_value < p["max_p"]) or amount > p["max_amount"]:
            figures = {"user": user, "orders": n, "amount": amount, "window_s": w, "new": new, "share": n / total,
                       "usual": usual, "p": p_value}
            yield user, figures, fresh[user]


def instant_orders(st: RiskState, v: View, p: dict):
    w, quick = p["window_s"], p["max_dwell_s"]

    def instant(order):
        return order[4] is not None and order[4] <= quick
    orders = list(_recent_orders(st, v.now - w))
    n = sum(map(instant, orders))
    if n >= p["min_orders"] and n >= p["min_share"] * len(orders):
        yield None, {"orders": n, "share": n / len(orders), "window_s": w, "max_dwell_s": quick}, \
            sum(map(instant, st.fresh))


def comment_flood(st: RiskState, v: View, p: dict):
    fresh = Counter()
    for ts, user, text in st.inbox:
        key = compact(text)
        if key:
            st.texts.append((ts, key, user))
            st.text_users.setdefault(key, Counter())[user] += 1
            st.text_shown[key] = text
            fresh[key] += 1

    def drop(item):
        _ts, key, user = item
        users = st.text_users[key]
        users[user] -= 1
        if users[user] <= 0:
            del users[user]
            if not users:
                del st.text_users[key], st.text_shown[key]
    _evict(st.texts, v.now - p["window_s"], drop)
    flooding = [(sum(u.values()), len(u), key) for key, u in st.text_users.items()
                if len(u) >= p["min_users"] and sum(u.values()) >= p["min_repeats"]]
    if flooding:
        repeats, users, key = max(flooding)
        yield None, {"text": _short(st.text_shown[key]), "repeats": repeats, "users": users,
                     "window_s": p["window_s"], "texts": len(flooding)}, sum(fresh[k] for _r, _u, k in flooding)


def banned_words(st: RiskState, v: View, p: dict):
    fresh = 0
    for ts, user, text in st.inbox:
        term = find_term(text, p["terms"], squeeze=True)
        if term is not None:
            st.banned.append((ts, user, term, text))
            fresh += 1
    _evict(st.banned, v.now - p["window_s"])
    if st.banned:
        _ts, user, term, text = st.banned[-1]
        yield None, {"term": term, "user": user, "text": _short(text), "hits": len(st.banned),
                     "users": len({b[1] for b in st.banned}), "window_s": p["window_s"]}, fresh


def negative_comments(st: RiskState, v: View, p: dict):
    totals = st.mood_totals
    for ts, _user, text in st.inbox:
        negative = find_term(text, p["terms"], squeeze=False) is not None
        st.moods.append((ts, negative))
        totals[0] += 1
        totals[1] += negative

    def drop(item):
        totals[0] -= 1
        totals[1] -= item[1]
    _evict(st.moods, v.now - p["baseline_s"], drop)
    n = neg = 0
    for ts, negative in reversed(st.moods):
        if ts <= v.now - p["window_s"]:
            break
        n += 1
        neg += negative
    if n < p["min_comments"]:
        return
    share = neg / n
    before = totals[0] - n
    baseline = (totals[1] - neg) / before if before else 0.0
    if share >= p["min_share"] and share >= baseline + p["min_rise"]:
        yield None, {"share": share, "comments": n, "baseline": baseline, "window_s": p["window_s"]}, None


ROOM_RULES = {f.__name__: f for f in (
    bounce_storm, viewer_drop, low_dwell, stale_data, roi_low, paid_stall, spend_ahead, refund_spike, stock_low,
    sold_out, clicks_no_sales, buyer_burst, instant_orders, comment_flood, banned_words, negative_comments)}

_OBSERVERS = {
    "enter": RiskState._on_enter, "leave": RiskState._on_leave, "order": RiskState._on_order,
    "pay": RiskState._on_order, "refund": RiskState._on_refund, "product_click": RiskState._on_click,
    "comment": RiskState._on_comment,
}


def system_conditions(heartbeat: dict | None, wall: float, config: dict, since: float | None = None) -> list[Condition]:
    """livewall itself: the engine's heartbeat (`keys.ENGINE_HEARTBEAT`) is old, or the engine is behind.

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
    """The `dead_letter` rule: a room holds it while it has a dead letter (store/deadletters.py) newer than
    window_s of wall time; each new one adds to the alert's count. Read from the stream of all of them."""

    def __init__(self, wall: float):
        self.cursor = f"{int((wall - MAX_WINDOW_S) * 1000)}-0"   # after a restart, the recent ones still hold
        self.recent: deque = deque()   # (wall time, room, source, error), oldest first

    def conditions(self, r, wall: float, config: dict) -> list[Condition]:
        fresh: dict = {}
        for entry_id, fields in r.xrange(keys.DEAD_LETTERS, min=f"({self.cursor}", count=1000):
            self.cursor = entry_id.decode()
            rec = orjson.loads(fields[b"d"])
            self.recent.append((rec["at"], rec["room"], rec["source"], rec["error"]))
            fresh[rec["room"]] = fresh.get(rec["room"], 0) + 1
        out = []
        by_room: dict = {}
        for at, room, source, error in self.recent:
            by_room.setdefault(room, []).append((at, source, error))
        for room, items in by_room.items():
            p = params(config, room, "dead_letter")
            live = [x for x in items if wall - x[0] <= p.get("window_s", 600)]
            if live and p.get("enabled", True):
                _at, source, error = live[-1]
                out.append(Condition("dead_letter", room, {"count": len(live), "source": source,
                                                           "error": _short(error, 80)}, events=fresh.get(room, 0)))
        _evict(self.recent, wall - MAX_WINDOW_S)
        return out


# ---- the job -------------------------------------------------------------------------------------------

class Job:
    """One risk run every half second: read new events, evaluate every room, record what changed."""

    def __init__(self, r: redis.Redis, book: RuleBook | None = None, webhook: Webhook | None = None):
        self.r = raw_stream_reads(r)
        self.book = book or RuleBook()
        self.store = Store(r)
        self.tracker = Tracker()
        self.webhook = webhook or Webhook()
        self.states: dict[str, RiskState] = {}
        self.products: dict[str, tuple] = {}   # room -> (snapshot `updated`, full product rows)
        self.adopted = False
        self.started = time.time()
        self.dead = DeadLetters(self.started)

    def step(self) -> None:
        config = self.book.current()
        wall = time.time()
        if not self.adopted:
            self.tracker.adopt(self.store.open_alerts(), wall)
            self.adopted = True
        rooms = self._rooms()
        self._read(rooms)
        conditions = []
        blobs = self.r.mget([keys.snapshot(n) for n in rooms]) if rooms else []
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
        beat = self.r.get(keys.ENGINE_HEARTBEAT)
        conditions += system_conditions(orjson.loads(beat) if beat else None, wall, config, self.started)
        conditions += self.dead.conditions(self.r, wall, config)
        changes = self.tracker.update(conditions, wall, lambda room, rule: params(config, room, rule))
        if changes:
            self.store.save(changes)
            for what, rec in changes:
                if what == "fired":
                    self.webhook.offer(rec, config.get("webhook"))
        self.store.trim(wall, self.states)

    def _rooms(self) -> list[str]:
        names = sorted(n.decode() for n in self.r.smembers(keys.ROOMS))
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
        # the previous run judged these already: event rules must not see them as new
        st.inbox.clear()
        st.fresh.clear()

    def _read(self, rooms: list[str]) -> None:
        streams = {keys.events(n): ">" for n in rooms}
        by_stream = {keys.events(n): self.states[n] for n in rooms}
        for _ in range(MAX_READS):
            if not streams or not self._consume(streams, by_stream):
                return

    def _consume(self, streams: dict, states: dict) -> bool:
        """One read of every stream given; True if some stream had a full batch (read again)."""
        got = self.r.xreadgroup(GROUP, CONSUMER, streams, count=BATCH)
        full = False
        for stream, entries in by_stream(got):
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


def run(r: redis.Redis) -> None:
    """The scheduler's entry point (insights/jobs.py): one run; state carries over between runs."""
    global _job
    if _job is None or _job.r is not r:
        _job = Job(r)
    _job.step()
