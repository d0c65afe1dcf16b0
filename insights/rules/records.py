"""The records of a room that more than one rule reads: its visits, its orders and clicks, its new comments.

Each is one per room and session, and its `OBSERVES` maps the event types it takes in to its methods
`(self, ev, ts, room)`. A room's rules take each event in before these records do: a rule sees the room as it
stood before the event (the click it follows, the visit a leave closes). A rule's own state is the rule's
(see base.Rule); what only one rule reads belongs there, not here.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter, deque

from insights.rules.base import CLICK_KEEP_S, MAX_WINDOW_S, VISIT_KEEP_S, evict

LAGS_KEPT = 300             # delays kept (click to order, enter to bounce): the room's recent habit


class Visits:
    def __init__(self):
        self.opened: deque = deque()      # [enter ts, leave ts or None, user, source], by enter
        self.inside: dict = {}            # user -> the open visit's record
        self.left: deque = deque()        # closed visits' records, by leave
        self.last: dict = {}              # user -> the latest visit's record: open, or closed and remembered

    def on_enter(self, ev, ts, room):
        user = ev["user"]
        if user not in self.inside:
            rec = [ts, None, user, ev.get("source", "other")]
            self.opened.append(rec)
            self.inside[user] = self.last[user] = rec

    def on_leave(self, ev, ts, room):
        rec = self.inside.pop(ev["user"], None)
        if rec is not None:
            rec[1] = ts
            self.left.append(rec)

    OBSERVES = {"enter": on_enter, "leave": on_leave}

    def source(self, user: str) -> str | None:
        visit = self.last.get(user)
        return visit[3] if visit is not None else None

    def forget(self, now: float) -> None:
        evict(self.opened, now - VISIT_KEEP_S)
        while self.left and self.left[0][1] <= now - VISIT_KEEP_S:
            rec = self.left.popleft()
            if self.last.get(rec[2]) is rec:
                del self.last[rec[2]]


class Buying:
    """Orders (an order and its pay are one order) and the product clicks that lead to them."""

    def __init__(self):
        self.orders: deque = deque()      # (ts, user, order_id, amount, seconds since the buyer entered or None)
        self.order_ids: set = set()       # of `orders`
        self.fresh: list = []             # the orders since the last evaluation
        self.clicked: dict = {}           # (user, sku) -> ts of that user's latest click on it, oldest first
        self.conversion = Conversion()

    def on_order(self, ev, ts, room):
        oid = ev["order_id"]
        if oid in self.order_ids:
            return
        user = ev["user"]
        self.order_ids.add(oid)
        self.clicked.pop((user, ev["sku"]), None)
        self.conversion.order(ev["sku"])
        visit = room.visits.inside.get(user)
        order = (ts, user, oid, ev["amount"], ts - visit[0] if visit is not None else None)
        self.orders.append(order)
        self.fresh.append(order)

    def on_click(self, ev, ts, room):
        user, sku = ev["user"], ev["sku"]
        self.clicked.pop((user, sku), None)   # re-inserted last: the dict stays in click order
        self.clicked[(user, sku)] = ts
        self.conversion.click(sku)

    OBSERVES = {"order": on_order, "pay": on_order, "product_click": on_click}

    def forget(self, now: float) -> None:
        evict(self.orders, now - MAX_WINDOW_S, lambda o: self.order_ids.discard(o[2]))
        while self.clicked:
            key, ts = next(iter(self.clicked.items()))
            if ts > now - CLICK_KEEP_S:
                break
            del self.clicked[key]


class Comments:
    def __init__(self):
        self.fresh: list = []             # (ts, user, text) of comments since the last evaluation

    def on_comment(self, ev, ts, room):
        self.fresh.append((ts, ev["user"], ev["text"]))

    OBSERVES = {"comment": on_comment}


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
        if not self.all_orders or not self.all_clicks:   # orders with no click yet (a pay straight from the feed)
            return 1.0
        room = self.all_orders / self.all_clicks
        return (self.orders[sku] + prior * room) / (self.clicks[sku] + prior) / room
