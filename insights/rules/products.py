"""Rules of products (subject: the sku): stock running out or sold out on stage, clicks without sales."""
from __future__ import annotations

from collections import Counter, deque

from insights.rules.base import evict


def _stage(v, test):
    for row in v.products:
        stock = row.get("stock")
        if row.get("on_stage") and stock is not None and test(stock):
            yield row["sku"], {"sku": row["sku"], "name": row.get("name") or row["sku"], "stock": stock,
                               "stage_seconds": row.get("stage_seconds")}, None


def stock_low(_own, room, v, p: dict):
    return _stage(v, lambda stock: 0 < stock <= p["max_stock"])


def sold_out(_own, room, v, p: dict):
    return _stage(v, lambda stock: stock <= 0)


class Clicks:
    """clicks_no_sales's: product clicks (ts, sku, user) and pays (ts, sku) in its window, pays this session."""

    def __init__(self):
        self.clicks: deque = deque()
        self.pays: deque = deque()
        self.session_pays = 0   # over the room's clicks this session: the room's conversion of a click

    def on_click(self, ev, ts, room):
        self.clicks.append((ts, ev["sku"], ev["user"]))

    def on_pay(self, ev, ts, room):
        self.pays.append((ts, ev["sku"]))
        self.session_pays += 1

    OBSERVES = {"product_click": on_click, "pay": on_pay}


def clicks_no_sales(own: Clicks, room, v, p: dict):
    w = p["window_s"]
    evict(own.clicks, v.now - w)
    evict(own.pays, v.now - w)
    rows = {r["sku"]: r for r in v.products
            if (r.get("on_stage") or not p["on_stage_only"]) and (r.get("stock") is None or r["stock"] > 0)}
    clicks, pays = Counter(), Counter(sku for _ts, sku in own.pays)
    clickers: dict = {}
    for ts, sku, user in own.clicks:
        if ts > v.now - p["pay_lag_s"]:
            break   # too recent to have been paid yet
        if sku in rows:
            clicks[sku] += 1
            clickers.setdefault(sku, set()).add(user)
    per_click = own.session_pays / max(room.buying.conversion.all_clicks, 1)
    for sku, users in clickers.items():
        expected = clicks[sku] * per_click   # at the session's conversion of a click
        if len(users) >= p["min_clickers"] and expected >= p["min_expected"] and pays[sku] <= p["max_pays"]:
            yield sku, {"sku": sku, "name": rows[sku].get("name") or sku, "clickers": len(users),
                        "pays": pays[sku], "expected": expected, "window_s": w}, None


def restock_request(_own, _room, _view, _p):
    """Raised by a person, not found in the events: the assistant asks from the tablet (insights/stage.py).
    The rule is here for its block in rules.yaml (severity, audience, texts); the job has nothing to check."""
    return ()
