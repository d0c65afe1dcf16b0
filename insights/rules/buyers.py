"""Rules of buyers (刷单 / fraud; subject: the user where there is one): one buyer ordering again and again,
orders from visitors who entered only to order."""
from __future__ import annotations

from collections import Counter, deque

from insights.rules.base import MAX_WINDOW_S, evict
from insights.stats import poisson_tail


def _recent_orders(buying, since: float):
    for order in reversed(buying.orders):
        if order[0] <= since:
            return
        yield order


class Repeats:
    """buyer_burst's: the room's pace of repeat orders, from the orders each evaluation brings."""

    def __init__(self):
        self.log: deque = deque()   # (ts, a repeat?) per order over MAX_WINDOW_S
        self.repeats = 0            # repeats in `log`: orders by a buyer who ordered < window_s before
        self.last: dict = {}        # user -> ts of their latest order within window_s, oldest first


def buyer_burst(own: Repeats, room, v, p: dict):
    # One buyer with many orders in window_s: more than max_orders, or more than max_new_orders for a buyer
    # who entered under new_s before, or min_orders whose repeats come far faster than the room's own pace of
    # repeat orders (orders by a buyer who ordered less than window_s before, per order and per second of the
    # window_s it opens, over the last MAX_WINDOW_S, one more counted as a prior): a Poisson test of the
    # buyer's orders after their first in the window, over the seconds since it, under max_p. Each of these
    # only while the buyer has min_share of the room's orders in window_s (a flash sale makes many buyers
    # order again and again: no one of them stands out). Or more money than max_amount.
    w = p["window_s"]
    buying = room.buying
    for ts, user, *_rest in buying.fresh:
        prev = own.last.pop(user, None)
        repeat = prev is not None and ts - prev < w
        own.log.append((ts, repeat))
        own.repeats += repeat
        own.last[user] = ts   # re-inserted last: the dict stays in order of latest orders

    def forget(item):
        own.repeats -= item[1]
    evict(own.log, v.now - MAX_WINDOW_S, forget)
    while own.last:
        user, ts = next(iter(own.last.items()))
        if ts > v.now - w:
            break
        del own.last[user]
    pace = (own.repeats + 1) / ((len(own.log) + 1) * w)
    per_user: dict = {}   # user -> [orders, amount, seconds from entering to the earliest order, its ts]
    for ts, user, _oid, amount, dwell in _recent_orders(buying, v.now - w):
        tally = per_user.setdefault(user, [0, 0.0, None, ts])
        tally[0] += 1
        tally[1] += amount
        tally[2] = dwell   # newest first: the earliest order's comes last
        tally[3] = ts
    fresh = Counter(o[1] for o in buying.fresh)
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


def instant_orders(_own, room, v, p: dict):
    w, quick = p["window_s"], p["max_dwell_s"]

    def instant(order):
        return order[4] is not None and order[4] <= quick
    orders = list(_recent_orders(room.buying, v.now - w))
    n = sum(map(instant, orders))
    if n >= p["min_orders"] and n >= p["min_share"] * len(orders):
        yield None, {"orders": n, "share": n / len(orders), "window_s": w, "max_dwell_s": quick}, \
            sum(map(instant, room.buying.fresh))
