"""Rules of the live room: visitors bouncing or walking out, a short average dwell, data that stopped."""
from __future__ import annotations

from bisect import bisect_right
from collections import deque

from insights.rules.base import BOUNCE_S, VISIT_KEEP_S, spans
from insights.rules.records import Lags
from insights.stats import poisson_binomial_tail, poisson_tail

PRIOR_VISITS = 20           # a source's bounce rate starts as the room's, worth this many visits
PRIOR_BOUNCES = 5           # how soon bounces leave starts as evenly over 2 s, worth this many bounces


class BounceTimes(Lags):
    """bounce_storm's: seconds from entering to leaving, of the visits that bounced."""

    def on_leave(self, ev, ts, room):
        visit = room.visits.inside.get(ev["user"])
        if visit is not None and ts - visit[0] < BOUNCE_S and ts >= visit[0]:
            self.add(ts - visit[0])

    OBSERVES = {"leave": on_leave}


def bounce_storm(own: BounceTimes, room, v, p: dict):
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
    for enter, leave, _u, src in reversed(room.visits.opened):
        if enter <= v.now - w:
            break
        age = v.now - enter
        if age < BOUNCE_S:
            weight = _left_by(own, age)
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


class Stays:
    """viewer_drop's: leave ts of the closed visits that did not bounce, by leave."""

    def __init__(self):
        self.stays: deque = deque()

    def on_leave(self, ev, ts, room):
        visit = room.visits.inside.get(ev["user"])
        if visit is not None and ts - visit[0] >= BOUNCE_S:
            self.stays.append(ts)

    OBSERVES = {"leave": on_leave}


def viewer_drop(own: Stays, room, v, p: dict):
    # Either viewers who had stayed leave far faster than usual (a Poisson test of the leaves against the
    # session's leaves per viewer-second over the baseline before, over every span of scan_step_s up to
    # burst_s ending now, the least p-value: seconds into a walk-out, the short span has none of the calm
    # before it), or
    # online has fallen max_drop below its peak of the last window_s. 2-second bounces do not count here:
    # they are bounce_storm's.
    while own.stays and own.stays[0] <= v.now - VISIT_KEEP_S:
        own.stays.popleft()
    if burst := _leave_burst(own.stays, room, v, p):
        yield None, burst, None
        return
    w = p["window_s"]
    # the level in force when the window opened counts too: a quiet room samples rarely
    _cur, base = room.delta(v.now, w, full=False)
    peak = base[1]
    for s in reversed(room.samples):
        if s[0] <= v.now - w:
            break
        peak = max(peak, s[1])
    online = v.m["online"]
    if peak >= p["min_online"] and online < peak * (1 - p["max_drop"]) and peak - online >= p["min_lost"]:
        yield None, {"online": online, "peak": peak, "drop": 1 - online / peak, "window_s": w}, None


def _leave_burst(stays: deque, room, v, p: dict) -> dict | None:
    b, base_s = p["burst_s"], min(p["baseline_s"], VISIT_KEEP_S)
    if v.now - v.m["started"] < base_s:
        return None   # no usual pace to compare with yet
    left = len(stays) - bisect_right(stays, v.now - b)
    before = len(stays) - bisect_right(stays, v.now - base_s) - left
    _cur, start = room.delta(v.now, b, full=False)
    online = start[1]
    level = room.mean_online(v.now - base_s, v.now - b)
    if level is None or online < p["min_online"] or left < p["min_share"] * online:
        return None
    # leaves per viewer-second, counting one more leave as a prior: a room nobody left yet is not a room
    # nobody ever leaves
    pace = (before + 1) / (max(level, 1) * (base_s - b))
    best = None
    for w in spans(b, p.get("scan_step_s")):
        n = left if w == b else len(stays) - bisect_right(stays, v.now - w)
        at = online if w == b else room.delta(v.now, w, full=False)[1][1]
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


def low_dwell(_own, room, v, p: dict):
    m = v.m
    dwell = m["avg_dwell_s"]
    if (dwell is not None and dwell < p["min_avg_dwell_s"] and m["viewers"] >= p["min_viewers"]
            and v.now - m["started"] >= p["after_s"]):
        yield None, {"avg_dwell_s": dwell, "viewers": m["viewers"], "min_avg_dwell_s": p["min_avg_dwell_s"]}, None


def stale_data(_own, room, v, p: dict):
    if v.wall is None or room.advanced is None or room.advanced[1] is None:
        return
    silent = v.wall - room.advanced[1]
    if silent > p["max_silence_s"]:
        yield None, {"silent_s": silent, "as_of": room.advanced[0]}, None
