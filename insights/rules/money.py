"""Rules of money and ads: paid ROI under its floor, paid traffic that stopped ordering, spend ahead of GMV,
a spike of refunds."""
from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque

from insights.rules.base import AS_OF, CLICK_KEEP_S, evict, spans
from insights.rules.records import Lags
from insights.stats import poisson_tail

PRIOR_CLICKS = 30           # a product's conversion starts as the room's, worth this many clicks


def roi_low(_own, room, v, p: dict):
    w = p["window_s"]
    span = room.delta(v.now, w)
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


class PaidStall:
    """paid_stall's: the paid share of the orders due (`PaidShare`), and the seconds from a click to the
    order that followed it."""

    def __init__(self):
        self.paid = PaidShare()
        self.lags = Lags()

    def on_click(self, ev, ts, room):
        # before the room's records count this click: the product's conversion as it stood
        sku = ev["sku"]
        self.paid.click(ts, room.visits.source(ev["user"]) == "paid",
                        room.buying.conversion.relative(sku, PRIOR_CLICKS))

    def on_order(self, ev, ts, room):
        buying = room.buying
        if ev["order_id"] in buying.order_ids:
            return   # its order or its pay came before
        user = ev["user"]
        clicked = buying.clicked.get((user, ev["sku"]))
        if clicked is not None and ts >= clicked:
            self.lags.add(ts - clicked)
        self.paid.order(ts, room.visits.source(user) == "paid", clicked is not None)

    OBSERVES = {"product_click": on_click, "order": on_order, "pay": on_order}


def paid_stall(own: PaidStall, room, v, p: dict):
    """Paid visitors keep clicking but stopped ordering while the room's other visitors go on (`PaidShare`):
    a quiet moment, a sold-out product or a slow pitch stops every order, and is no stall."""
    t = own.paid
    t.count(v.now, own.lags)
    if t.orders[True] < p["min_paid_orders"] or len(own.lags.sorted) < p["min_lags"]:
        return
    p_value = t.p_value()
    if p_value > p["max_p"]:
        return
    cur, base = room.delta(v.now, v.now - t.last, full=False)
    spend = cur[4] - base[4]
    if spend >= p["min_spend"]:
        yield None, {"silent_s": v.now - t.last, "expected": t.due, "others": t.others, "p": p_value,
                     "spend": spend}, None


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


def spend_ahead(_own, room, v, p: dict):
    w = p["window_s"]
    span = room.delta(v.now, w)
    if span is None:
        return
    cur, base = span
    spend, gmv = cur[4] - base[4], cur[2] - base[2]
    if spend >= p["min_spend"] and spend > p["max_ratio"] * gmv:
        yield None, {"spend": spend, "gmv": gmv, "ratio": spend / gmv if gmv else None, "window_s": w}, None


class Refunds:
    """refund_spike's: refunds (ts, amount) and the ts of pays, for the usual pace against sales."""

    def __init__(self):
        self.refunds: deque = deque()
        self.pays: deque = deque()

    def on_refund(self, ev, ts, room):
        self.refunds.append((ts, ev["amount"]))

    def on_pay(self, ev, ts, room):
        self.pays.append(ts)

    OBSERVES = {"refund": on_refund, "pay": on_pay}


def refund_spike(own: Refunds, room, v, p: dict):
    # Refunds in the last seconds against the room's own pace of refunds over the baseline before them (one
    # more counted as a prior: a room nobody refunded yet is not a room nobody ever refunds): a Poisson test
    # over every span of scan_step_s up to window_s ending now, so that a burst shows in seconds and a slow
    # one within window_s; and, as a floor of size, more refunds than max_share of the paid orders such a
    # span usually brings.
    w, base_s = p["window_s"], p["baseline_s"]
    evict(own.refunds, v.now - max(w, base_s))
    while own.pays and own.pays[0] <= v.now - base_s:
        own.pays.popleft()
    recent = [r for r in own.refunds if r[0] > v.now - w]   # oldest first
    if len(recent) < p["min_refunds"]:
        return
    times = [ts for ts, _a in recent]
    span = min(base_s, max(w, v.now - v.m["started"]))
    pays_per_s = len(own.pays) / span
    before = max(0, len(own.refunds) - bisect_right(own.refunds, v.now - base_s, key=AS_OF) - len(recent))
    pace = (before + 1) / max(span - w, w)
    best = None
    for x in spans(w, p.get("scan_step_s")):
        n = len(times) - bisect_right(times, v.now - x)
        if n >= p["min_refunds"] and n > p["max_share"] * pays_per_s * x:
            p_value = poisson_tail(n, pace * x)
            if best is None or p_value < best[0]:
                best = (p_value, x, n)
    if best is not None and best[0] < p["max_p"]:
        p_value, x, n = best
        yield None, {"refunds": n, "amount": sum(a for _ts, a in recent[len(recent) - n:]),
                     "usual_pays": pays_per_s * x, "usual": pace * x, "p": p_value, "window_s": x}, None
