"""Building events for tests: a concise constructor, hand-made edge cases and seeded random sessions.

`E(type, t, **fields)` makes one contract event at `BASE_TS + t` in room `r1` with a fresh id.
`EDGE_CASES` maps a case name to a function returning that case's events in arrival order.
`random_session(seed, ...)` returns a messy but contract-valid session in event-time order, and
`arrive_late(events, seed, ...)` reorders a list into a plausible arrival order with late events.
Everything is deterministic by seed.
"""
from __future__ import annotations

import itertools
import random

# A whole minute, so that hand-computed series minutes are round numbers, and recent enough to pass
# the contract's "within 10 years of now" check for years to come.
BASE_TS = 1_790_000_040
ROOM = "r1"
SOURCES = ("recommend", "paid", "short_video", "follow", "search", "other")

_ids = itertools.count()


def E(type: str, t: float = 0.0, *, room: str = ROOM, **fields) -> dict:
    """One event at BASE_TS + t; `id` may be passed to force one."""
    ev = {"id": fields.pop("id", None) or f"e{next(_ids)}", "room": room, "ts": float(BASE_TS + t),
          "type": type}
    ev.update(fields)
    return ev


class Builder:
    """Like E, with ids of its own (prefix + counter) so seeded generators repeat exactly."""

    def __init__(self, prefix: str, room: str = ROOM):
        self.prefix, self.room, self.n = prefix, room, 0

    def __call__(self, type: str, ts: float, **fields) -> dict:
        self.n += 1
        ev = {"id": f"{self.prefix}-{self.n}", "room": self.room, "ts": float(ts), "type": type}
        ev.update(fields)
        return ev


def by_time(events: list[dict]) -> list[dict]:
    """In-order arrival: sorted by ts, ties kept in the list's order."""
    return sorted(events, key=lambda e: e["ts"])


# --------------------------------------------------------------------------------------------------
# Edge cases, one concern each. Times are offsets from BASE_TS; lists are in arrival order.

EDGE_CASES: dict = {}


def edge(fn):
    EDGE_CASES[fn.__name__.lstrip("_")] = fn
    return fn


@edge
def _reentry():
    return [E("session_start", 0), E("enter", 1, user="a", source="recommend"), E("leave", 11, user="a"),
            E("enter", 21, user="a", source="search"), E("leave", 26, user="a"), E("enter", 30, user="a"),
            E("like", 40, user="a")]


@edge
def _leave_without_enter():
    return [E("session_start", 0), E("leave", 1, user="a"), E("enter", 2, user="a", source="follow"),
            E("leave", 5, user="b"), E("leave", 9, user="a"), E("leave", 10, user="a"), E("like", 12, user="b")]


@edge
def _enter_while_inside():
    return [E("session_start", 0), E("enter", 1, user="a", source="paid"), E("enter", 3, user="a", source="search"),
            E("pay", 4, user="a", sku="s1", order_id="o1", amount=10.5), E("leave", 8, user="a"),
            E("enter", 9, user="a", source="search"), E("share", 20, user="a")]


@edge
def _bounce_exactly_2s():
    return [E("session_start", 0), E("enter", 10, user="a"), E("leave", 12, user="a"),
            E("enter", 10.25, user="b"), E("leave", 12.249, user="b"), E("enter", 13, user="c"),
            E("leave", 13, user="c"), E("like", 30, user="a")]


@edge
def _open_visit_younger_than_2s():
    return [E("session_start", 0), E("enter", 5, user="a"), E("leave", 6, user="a"), E("enter", 8, user="b"),
            E("enter", 9.5, user="c"), E("enter", 10, user="d"), E("comment", 10, user="d", text="hi")]


@edge
def _refunds():
    return [E("session_start", 0), E("enter", 1, user="a"),
            E("pay", 2, user="a", sku="s1", order_id="o1", amount=99.9, qty=2),
            E("refund", 3, order_id="o1", amount=49.95), E("refund", 4, order_id="o1", amount=0.01, user="a", sku="s1"),
            E("refund", 5, order_id="unknown", amount=3.0, sku="s9")]


@edge
def _duplicate_order_ids():
    return [E("session_start", 0), E("enter", 1, user="a"), E("enter", 1, user="b"),
            E("order", 2, user="a", sku="s1", order_id="o1", amount=10.0),
            E("order", 3, user="a", sku="s1", order_id="o1", amount=10.0),
            E("pay", 4, user="a", sku="s1", order_id="o1", amount=10.0),
            E("pay", 5, user="a", sku="s1", order_id="o1", amount=10.0),
            E("pay", 6, user="b", sku="s2", order_id="o1", amount=0.1, qty=3)]


@edge
def _pay_credited_across_sources():
    return [E("session_start", 0), E("ad_spend", 1, campaign="c1", amount=50.0, impressions=1000, clicks=40),
            E("impression", 1, user="a", source="paid"), E("enter", 2, user="a", source="paid"),
            E("pay", 5, user="a", sku="s1", order_id="o1", amount=30.0), E("leave", 10, user="a"),
            E("pay", 15, user="a", sku="s1", order_id="o2", amount=20.0),
            E("enter", 20, user="a", source="search"), E("pay", 25, user="a", sku="s1", order_id="o3", amount=7.77),
            E("pay", 26, user="z", sku="s1", order_id="o4", amount=1.0)]


@edge
def _pay_same_ts_as_reentry():
    # The pay at 20 arrives before the enter at 20: credit compares ts only, so the new visit wins.
    return [E("session_start", 0), E("enter", 2, user="a", source="paid"), E("leave", 10, user="a"),
            E("pay", 20, user="a", sku="s1", order_id="o1", amount=5.0),
            E("enter", 20, user="a", source="search"), E("leave", 20, user="a"),
            E("enter", 20, user="a", source="follow"), E("pay", 30, user="a", sku="s1", order_id="o2", amount=1.0)]


@edge
def _stock_before_after_pays():
    return [E("session_start", 0), E("pay", 1, user="a", sku="s1", order_id="o0", amount=1.0),
            E("product_on", 2, sku="s1", name="Mug", price=19.9, cost=5.0, stock=100),
            E("pay", 3, user="a", sku="s1", order_id="o1", amount=19.9, qty=3),
            E("stock", 4, sku="s1", stock=50), E("pay", 5, user="b", sku="s1", order_id="o2", amount=19.9),
            E("pay", 5, user="c", sku="s1", order_id="o3", amount=39.8, qty=2),
            E("stock", 5, sku="s1", stock=10), E("pay", 5, user="d", sku="s1", order_id="o4", amount=19.9),
            E("pay", 6, user="e", sku="s2", order_id="o5", amount=8.0), E("stock", 7, sku="s3", stock=1),
            E("pay", 8, user="e", sku="s3", order_id="o6", amount=8.0, qty=4)]


@edge
def _product_on_while_on_stage():
    return [E("session_start", 0), E("product_on", 10, sku="s1", name="A", price=10.0, cost=4.0),
            E("product_on", 40, sku="s1", price=8.0), E("product_off", 70, sku="s1"),
            E("product_off", 80, sku="s1"), E("product_on", 100, sku="s1", name="A2"),
            E("product_on", 110, sku="s2", cost=1.5), E("product_off", 115, sku="s2"),
            E("product_on", 115, sku="s2"), E("product_view", 130, user="u", sku="s3"),
            E("like", 150, user="u", count=3)]


@edge
def _equal_ts_events():
    return [E("session_start", 0), E("enter", 5, user="a"), E("enter", 5, user="b"), E("leave", 5, user="b"),
            E("enter", 5, user="c"), E("leave", 6, user="a"), E("enter", 6, user="d"), E("leave", 6, user="c"),
            E("enter", 7, user="e"), E("leave", 7, user="e"), E("like", 7, user="a")]


@edge
def _late_within_60s():
    evs = [E("session_start", 0), E("enter", 10, user="a", source="paid"),
           E("product_on", 12, sku="s1", stock=5), E("enter", 50, user="b"), E("leave", 60, user="a"),
           E("pay", 65, user="b", sku="s1", order_id="o1", amount=3.0), E("like", 110, user="a")]
    late = [E("leave", 11, user="a"), E("enter", 55, user="a", source="search"),
            E("pay", 56, user="a", sku="s1", order_id="o2", amount=4.0, qty=2), E("product_off", 60, sku="s1"),
            E("enter", 61, user="c"), E("leave", 62.5, user="c")]
    # The late ones arrive while as_of is 65, so none is more than 54 s behind.
    return evs[:6] + late + evs[6:]


@edge
def _late_exactly_60s():
    return [E("session_start", 0), E("enter", 5, user="a"), E("like", 70, user="a"),
            E("leave", 10, user="a"), E("pay", 10, user="a", sku="s1", order_id="o1", amount=2.5)]


@edge
def _very_late_event():
    return [E("session_start", 0), E("enter", 5, user="a", source="paid"), E("enter", 6, user="b"),
            E("like", 300, user="b"), E("pay", 30, user="a", sku="s1", order_id="o1", amount=12.0),
            E("leave", 20, user="a"), E("enter", 25, user="a", source="search"),
            E("product_on", 10, sku="s1", stock=3), E("comment", 40, user="b", text="late")]


@edge
def _session_start_in_middle():
    return [E("enter", 0, user="a"), E("pay", 1, user="a", sku="s1", order_id="o1", amount=5.0),
            E("product_on", 2, sku="s1", name="old", price=1.0, stock=9),
            E("session_start", 60), E("enter", 61, user="b", source="follow"),
            E("pay", 62, user="a", sku="s1", order_id="o2", amount=6.0), E("product_view", 63, user="b", sku="s1")]


@edge
def _session_end_then_stray_events():
    return [E("session_start", 0), E("enter", 1, user="a"), E("pay", 2, user="a", sku="s1", order_id="o1", amount=5.0),
            E("session_end", 100), E("pay", 100, user="a", sku="s1", order_id="o2", amount=7.0),
            E("leave", 101, user="a"), E("enter", 150, user="b"), E("like", 200, user="b")]


@edge
def _late_session_start():
    return [E("enter", 0, user="a"), E("enter", 10, user="b"), E("pay", 20, user="b", sku="s1", order_id="o1", amount=3.0),
            E("leave", 30, user="a"), E("session_start", 5), E("enter", 40, user="c")]


@edge
def _late_session_end():
    return [E("session_start", 0), E("enter", 10, user="a"), E("like", 50, user="a"), E("session_end", 30),
            E("pay", 40, user="a", sku="s1", order_id="o1", amount=3.0)]


@edge
def _event_from_previous_session_arrives_late():
    return [E("enter", 0, user="a"), E("session_start", 10), E("enter", 12, user="b"),
            E("pay", 5, user="a", sku="s1", order_id="o1", amount=9.0), E("leave", 8, user="a"),
            E("like", 15, user="b")]


@edge
def _same_ts_as_session_start():
    return [E("enter", 0, user="a"), E("enter", 10, user="x"), E("session_start", 10), E("enter", 10, user="b"),
            E("like", 12, user="b")]


@edge
def _same_ts_as_session_end():
    return [E("session_start", 0), E("enter", 3, user="a"), E("enter", 20, user="b"), E("session_end", 20),
            E("enter", 20, user="c"), E("leave", 20, user="a")]


@edge
def _no_session_start():
    return [E("enter", 0, user="a", source="short_video"), E("pay", 3, user="a", sku="s1", order_id="o1", amount=1.0),
            E("like", 70, user="a", count=5)]


@edge
def _pay_without_visit():
    return [E("session_start", 0), E("enter", 5, user="b", source="paid"),
            E("pay", 3, user="b", sku="s1", order_id="o1", amount=2.0),
            E("pay", 6, user="c", sku="s1", order_id="o2", amount=3.0)]


@edge
def _series_gap_minutes():
    return [E("session_start", 30), E("enter", 40, user="a"), E("pay", 50, user="a", sku="s1", order_id="o1", amount=1.0),
            E("pay", 59.999, user="a", sku="s1", order_id="o2", amount=2.0), E("leave", 60, user="a"),
            E("enter", 200, user="b"), E("pay", 260, user="b", sku="s2", order_id="o2", amount=4.0)]


@edge
def _window_boundaries():
    return [E("session_start", 0), E("enter", 100, user="a"), E("pay", 100, user="a", sku="s1", order_id="o1", amount=1.0),
            E("enter", 101, user="b"), E("leave", 102, user="b"), E("pay", 101, user="b", sku="s1", order_id="o2", amount=2.0),
            E("enter", 340, user="c"), E("pay", 340, user="c", sku="s1", order_id="o3", amount=4.0),
            E("enter", 359.5, user="d"), E("like", 400, user="a")]


@edge
def _engagement_and_funnel():
    return [E("session_start", 0), E("impression", 1, user="a", source="recommend"), E("impression", 1, user="b"),
            E("impression", 2, user="a"), E("enter", 3, user="a", source="recommend"),
            E("product_view", 4, user="a", sku="s1"), E("product_view", 4, user="c", sku="s2"),
            E("product_click", 5, user="a", sku="s1"), E("cart_add", 6, user="a", sku="s1", qty=2),
            E("order", 7, user="a", sku="s1", order_id="o1", amount=5.0),
            E("comment", 8, user="a", text=""), E("like", 8, user="a"), E("like", 9, user="b", count=7),
            E("follow", 10, user="a"), E("share", 10, user="a"), E("share", 11, user="b")]


@edge
def _no_visits():
    return [E("session_start", 0), E("product_on", 1, sku="s1"), E("like", 2, user="a")]




@edge
def _stray_event_claimed_by_late_session_start():
    # The like at 30 follows a session_end, so it belongs to no session when it arrives; the
    # session_start at 20, arriving 10 s late, makes it part of the new session.
    return [E("session_start", 0), E("enter", 1, user="a"), E("session_end", 10), E("like", 30, user="a"),
            E("enter", 31, user="b", source="paid"), E("session_start", 20), E("enter", 40, user="c")]


@edge
def _late_session_start_in_implicit_session():
    return [E("enter", 10, user="a"), E("like", 12, user="a"), E("session_start", 5), E("enter", 20, user="b")]


@edge
def _late_event_before_first_event():
    # No session_start: the session begins at the room's first event in ts order, which arrives late.
    return [E("enter", 70, user="a"), E("like", 80, user="a"), E("enter", 30, user="b", source="search"),
            E("pay", 35, user="b", sku="s1", order_id="o1", amount=2.0)]


@edge
def _two_session_starts_same_ts():
    return [E("session_start", 0), E("enter", 1, user="a"), E("session_start", 5), E("enter", 5, user="b"),
            E("session_start", 5), E("enter", 6, user="c")]


@edge
def _double_session_end():
    return [E("session_start", 0), E("enter", 1, user="a"), E("session_end", 10), E("like", 12, user="a"),
            E("session_end", 15), E("like", 16, user="a")]


@edge
def _integer_ts():
    evs = [E("session_start", 0), E("enter", 1, user="a"), E("leave", 2, user="a"), E("enter", 3, user="a"),
           E("pay", 61, user="a", sku="s1", order_id="o1", amount=3.0),
           E("product_on", 62, sku="s1", price=5.0, stock=2)]
    for e in evs:
        e["ts"] = int(e["ts"])  # JSON integers are numbers too
    return evs


@edge
def _foreign_fields_ignored():
    # Unknown extra fields are kept and ignored: a `sku` on a comment names no product, a `source` on a
    # leave or a pay credits nothing, a `qty` on a refund counts no units.
    return [E("session_start", 0), E("enter", 1, user="a", source="paid", sku="ghost"),
            E("comment", 2, user="a", text="x", sku="ghost2", amount=3.0),
            E("pay", 3, user="a", sku="s1", order_id="o1", amount=1.0, source="search"),
            E("refund", 4, order_id="o1", amount=0.5, qty=9, user="a"), E("leave", 5, user="a", source="search"),
            E("like", 6, user="a", qty=4)]


@edge
def _money_exact():
    return [E("session_start", 0), E("enter", 1, user="a")] + [
        E("pay", 2 + i, user="a", sku="s1", order_id=f"o{i}", amount=a)
        for i, a in enumerate((0.1, 0.2, 0.07, 1234567.89, 0.0, 99999999.99))] + [
        E("refund", 20, order_id="o1", amount=0.3), E("ad_spend", 21, campaign="c", amount=0.1),
        E("ad_spend", 22, campaign="c", amount=0.2)]


# --------------------------------------------------------------------------------------------------
# Random sessions.

def _money(rng: random.Random, hi_cents: int = 99_999) -> float:
    return rng.randint(0, hi_cents) / 100  # exact to the cent, as ingest would have rounded it


def random_session(seed: int, *, span: float = 900.0, users: int = 40, skus: int = 6,
                   prior: str | None = None, end: bool | None = None) -> list[dict]:
    """A session with most edge cases mixed in, in event-time order (ties in generation order).

    prior: None (chosen by seed), "none", "implicit" (events with no session_start before the current
    one) or "ended" (a session, its session_end, then stray events). end: whether the current session
    ends (followed by stray events); None chooses by seed.
    """
    rng = random.Random(seed)
    b = Builder(f"s{seed}")
    if prior is None:
        prior = rng.choice(("none", "implicit", "ended"))
    if end is None:
        end = rng.random() < 0.5
    t0 = BASE_TS + 600.0 + rng.randint(0, 59)  # not minute-aligned, to exercise the first series minute
    t1 = t0 + span
    out: list[dict] = []
    skus_ = [f"sku{i}" for i in range(skus)]

    def q(t: float) -> float:
        # Half-second steps most of the time, so equal ts are common; sometimes milliseconds.
        return round(t * 2) / 2 if rng.random() < 0.7 else round(t, 3)

    if prior != "none":
        p0 = t0 - 500
        if prior == "ended":
            out.append(b("session_start", p0, title="earlier"))
        out += [b("product_on", p0 + 1, sku=skus_[0], name="stale", price=1.0, stock=999),
                b("enter", p0 + 2, user="u0", source="paid"), b("enter", p0 + 3, user="u1"),
                b("pay", p0 + 4, user="u0", sku=skus_[0], order_id="prior-o1", amount=11.0)]
        if prior == "ended":
            out += [b("session_end", p0 + 100), b("pay", p0 + 100, user="u1", sku=skus_[0], order_id="stray-o",
                                                    amount=2.0), b("enter", p0 + 200, user="u2")]
        # An event at the very ts of the session_start, generated before it: it is the earlier session's.
        out.append(b("enter", t0, user="u3", source="search"))
    out.append(b("session_start", t0, title=f"session {seed}", streamer="host", target_roi=2.5))

    # Products: some fully described, some partially, one never put on stage (named by views only).
    on = {}
    for i, sku in enumerate(skus_[:-1]):
        fields = {}
        if rng.random() < 0.8:
            fields["name"] = f"item {i}"
        if rng.random() < 0.8:
            fields["price"] = _money(rng, 50_000)
        if rng.random() < 0.6:
            fields["cost"] = _money(rng, 20_000)
        if rng.random() < 0.6:
            fields["stock"] = rng.randint(0, 200)
        out.append(b("product_on", q(t0 + rng.uniform(0, 60)), sku=sku, **fields))
        on[sku] = True
    for _ in range(skus * 3):
        sku = rng.choice(skus_[:-1])
        t = q(rng.uniform(t0, t1))
        r = rng.random()
        if r < 0.35:
            out.append(b("product_off", t, sku=sku))
        elif r < 0.7:
            out.append(b("product_on", t, sku=sku, **({"price": _money(rng)} if rng.random() < 0.5 else {})))
        else:
            out.append(b("stock", t, sku=sku, stock=rng.randint(0, 50)))

    order_n = itertools.count()
    paid_orders: list[tuple[str, str, float]] = []
    for ui in range(users):
        u = f"u{ui}"
        t = q(rng.uniform(t0, t1 - 30))
        if rng.random() < 0.15:
            out.append(b("leave", t, user=u))  # leave without enter
            t += 1
        if rng.random() < 0.7:
            out.append(b("impression", t, user=u, **({"source": rng.choice(SOURCES)} if rng.random() < 0.8 else {})))
        if rng.random() < 0.1:
            continue  # impression only
        for _visit in range(rng.choice((1, 1, 1, 2, 2, 3))):
            t = q(t + rng.uniform(0, 40))
            src = {"source": rng.choice(SOURCES)} if rng.random() < 0.85 else {}
            out.append(b("enter", t, user=u, **src))
            enter_t = t
            if rng.random() < 0.1:
                out.append(b("enter", q(t + rng.uniform(0, 5)), user=u, source=rng.choice(SOURCES)))  # while inside
            r = rng.random()
            if r < 0.12:
                dwell = 2.0  # exactly the bounce threshold: not a bounce
            elif r < 0.25:
                dwell = rng.choice((0.0, 0.5, 1.0, 1.5, 1.999))
            elif r < 0.35:
                dwell = None  # stays to the end
            else:
                dwell = rng.uniform(3, 300)
            horizon = enter_t + (dwell if dwell is not None else 120)
            # Shopping while inside (sometimes paying right after leaving).
            if rng.random() < 0.6:
                sku = rng.choice(skus_)
                tt = enter_t
                for typ, p in (("product_view", 0.9), ("product_click", 0.6), ("cart_add", 0.5),
                               ("order", 0.7), ("pay", 0.8)):
                    if rng.random() > p:
                        break
                    tt = q(min(tt + rng.uniform(0, 20), horizon + 5, t1))
                    f = {"user": u, "sku": sku}
                    if typ == "cart_add" and rng.random() < 0.5:
                        f["qty"] = rng.randint(1, 4)
                    if typ == "order":
                        oid = f"s{seed}-o{next(order_n)}"
                        amount = _money(rng, 30_000)
                        qty = rng.randint(1, 3) if rng.random() < 0.5 else None
                        f.update(order_id=oid, amount=amount, **({"qty": qty} if qty else {}))
                        if rng.random() < 0.1:
                            out.append(b("order", tt, **f))  # duplicate order event
                    if typ == "pay":
                        f.update(order_id=oid, amount=amount, **({"qty": qty} if qty else {}))
                        if rng.random() < 0.08:
                            out.append(b("pay", tt, **f))  # the same order paid twice (retry)
                        paid_orders.append((oid, sku, amount))
                    out.append(b(typ, tt, **f))
            for typ in ("comment", "like", "follow", "share"):
                if rng.random() < 0.3:
                    tt = q(min(enter_t + rng.uniform(0, 60), t1))
                    f = {"user": u}
                    if typ == "comment":
                        f["text"] = rng.choice(("", "nice", "多少钱", "x" * 500))
                    if typ == "like" and rng.random() < 0.6:
                        f["count"] = rng.randint(1, 50)
                    out.append(b(typ, tt, **f))
            if dwell is None:
                break
            # Keep the sub-2 s and the exact 2.0 s dwells exact; round only the long ones.
            t = q(enter_t + dwell) if dwell > 2.0 else enter_t + dwell
            if t > t1:
                break
            out.append(b("leave", t, user=u))
            if rng.random() < 0.05:
                out.append(b("leave", q(t + 1), user=u))  # leave while not inside

    # Users who pay with no visit at all (credited to `other`), and one paying at the ts it re-enters.
    out.append(b("pay", q(t0 + rng.uniform(0, span)), user="ghost", sku=skus_[0], order_id=f"s{seed}-g1",
                 amount=_money(rng)))
    tr = q(t0 + rng.uniform(60, span - 60))
    out += [b("enter", tr - 30, user="switcher", source="paid"), b("leave", tr - 20, user="switcher"),
            b("pay", tr, user="switcher", sku=skus_[1], order_id=f"s{seed}-sw", amount=_money(rng)),
            b("enter", tr, user="switcher", source="search")]

    for oid, sku, amount in rng.sample(paid_orders, min(len(paid_orders), 4)):
        f = {"user": "whoever"} if rng.random() < 0.3 else {}
        if rng.random() < 0.5:
            f["sku"] = sku
        out.append(b("refund", q(t0 + rng.uniform(0, span)), order_id=oid,
                     amount=rng.randint(0, round(amount * 100)) / 100, **f))
    out.append(b("refund", q(t0 + rng.uniform(0, span)), order_id="no-such-order", amount=1.0, sku="refund-only"))

    for k in range(int(span // 120)):
        f = {"impressions": rng.randint(0, 10_000)} if rng.random() < 0.5 else {}
        out.append(b("ad_spend", q(t0 + 120 * k + rng.uniform(0, 120)), campaign=rng.choice(("c1", "c2")),
                     amount=_money(rng, 20_000), **f))

    # Visits opened just before the end: younger than 2 s, exactly 2 s, and a bit older.
    for i, age in enumerate((0.0, 0.5, 1.999, 2.0, 2.5)):
        out.append(b("enter", t1 - age, user=f"late{i}", source=rng.choice(SOURCES)))
    out = [e for e in out if e["ts"] <= t1]
    out.append(b("like", t1, user="u1"))  # pins as_of at t1 whether or not the session ends
    out = by_time(out)
    if end:
        out.append(b("session_end", t1))
        out += [b("pay", t1, user="u2", sku=skus_[0], order_id="after-end", amount=5.0),
                b("enter", t1 + 5, user="after"), b("leave", t1 + 30, user="u1")]
    return out


def arrive_late(events: list[dict], seed: int, *, max_delay: float = 59.0, very_late: int = 0,
                very_late_delay: tuple[float, float] = (65.0, 600.0), on_time: tuple[str, ...] = ()) -> list[dict]:
    """A plausible arrival order: each event arrives after a random delay of at most `max_delay`, so no
    event arrives more than `max_delay` behind the largest ts seen before it; `very_late` events chosen
    at random are delayed by `very_late_delay` instead; events of the types in `on_time` are not delayed
    (to keep, say, session boundaries out of a test about something else)."""
    rng = random.Random(seed)
    late = set(rng.sample(range(len(events)), min(very_late, len(events))))
    keys = []
    for i, e in enumerate(events):
        d = rng.uniform(*very_late_delay) if i in late else rng.uniform(0, max_delay)
        if e["type"] in on_time:
            d = 0.0
        keys.append((e["ts"] + d, i))
    return [events[i] for _, i in sorted(keys)]
