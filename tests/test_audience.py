"""Audience, channel and interaction metrics (README, "Audience and channels") against the independent
reference (tests/reference.py), on hand-made edge cases and on random sessions carrying the new fields,
in order and arriving late; and the new fields' validation.
"""
from __future__ import annotations

import random

import pytest

from feeds.schema import CHANNELS, Invalid, judge

try:
    from tests.events import BASE_TS, E, arrive_late, random_session
    from tests.reference import AUDIENCE, reference
    from tests.test_metrics_engine import LATE_S, _assert_same, check, engine_result, engine_states, max_lateness, run_engine
except ModuleNotFoundError:
    from events import BASE_TS, E, arrive_late, random_session
    from reference import AUDIENCE, reference
    from test_metrics_engine import LATE_S, _assert_same, check, engine_result, engine_states, max_lateness, run_engine

BY_SOURCE: dict = {}
for _ch, _src in CHANNELS.items():
    BY_SOURCE.setdefault(_src, []).append(_ch)


def with_audience(events: list[dict], seed: int) -> list[dict]:
    """The session with audience fields and channels on its enters (some missing), fan-club joins and
    negative feedback mixed in: all contract-valid."""
    rng = random.Random(seed)
    out = []
    for ev in events:
        ev = dict(ev)
        if ev["type"] == "enter":
            for name, vals in AUDIENCE.items():
                if rng.random() < 0.8:
                    ev[name] = rng.choice((True, False)) if name == "fan" else rng.choice(vals)
            if rng.random() < 0.85:
                ev["channel"] = rng.choice(BY_SOURCE[ev.get("source", "other")])
        out.append(ev)
        if ev["type"] in ("comment", "like") and rng.random() < 0.3:
            extra = {"id": ev["id"] + "-x", "room": ev["room"], "ts": ev["ts"], "user": ev["user"]}
            if rng.random() < 0.5:
                out.append({**extra, "type": "fan_club_join"})
            else:
                out.append({**extra, "type": "negative_feedback",
                            **({"reason": "不感兴趣"} if rng.random() < 0.5 else {})})
    return out


def session(seed: int, **kw) -> list[dict]:
    return with_audience(random_session(seed, **kw), seed)


# -- hand-made edge cases -------------------------------------------------------------------------------

CASES: dict = {}


def case(fn):
    CASES[fn.__name__.lstrip("_")] = fn
    return fn


@case
def _latest_enter_decides():
    return [E("session_start", 0), E("enter", 1, user="a", fan=False, visit="first", gender="f", age="18-23"),
            E("leave", 5, user="a"), E("enter", 10, user="a", fan=True, visit="returning", city_tier="new1"),
            E("enter", 3, user="a", fan=False, gender="m")]   # late, earlier: does not override


@case
def _missing_fields_keep_earlier_values():
    return [E("session_start", 0), E("enter", 1, user="a", fan=True, visit="returning", age="50+"),
            E("leave", 2, user="a"), E("enter", 3, user="a"), E("enter", 4, user="b")]


@case
def _explicit_unknown_overrides():
    return [E("session_start", 0), E("enter", 1, user="a", gender="f"), E("leave", 2, user="a"),
            E("enter", 3, user="a", gender="unknown")]


@case
def _buyer_without_enter_then_late_enter():
    return [E("session_start", 0), E("pay", 10, user="a", sku="s", order_id="o1", amount=3.0),
            E("pay", 11, user="g", sku="s", order_id="o2", amount=1.0),
            E("enter", 5, user="a", source="paid", channel="suixintui", fan=True, visit="returning")]


@case
def _channel_credit_moves_with_late_reentry():
    return [E("session_start", 0), E("enter", 1, user="a", source="recommend", channel="feed"),
            E("leave", 20, user="a"), E("pay", 70, user="a", sku="s", order_id="o1", amount=9.99),
            E("enter", 65, user="a", source="paid", channel="qianchuan_pc"),   # late: credit moves
            E("enter", 70, user="a", source="search", channel="search")]       # while inside: nothing


@case
def _channel_absent_is_none():
    return [E("session_start", 0), E("enter", 1, user="a", source="recommend"), E("enter", 2, user="b"),
            E("pay", 3, user="b", sku="s", order_id="o", amount=2.0)]


@case
def _interactions_distinct():
    return [E("session_start", 0), E("enter", 1, user="a"), E("enter", 1, user="b"),
            E("comment", 2, user="a", text="hi"), E("comment", 3, user="a", text="again"),
            E("like", 3, user="b", count=5), E("follow", 4, user="a"), E("follow", 5, user="a"),
            E("fan_club_join", 6, user="b"), E("fan_club_join", 7, user="b"),
            E("negative_feedback", 8, user="c", reason="重复"), E("share", 9, user="z")]


@case
def _no_viewers_rates_null():
    return [E("session_start", 0), E("comment", 0, user="a", text="x"), E("negative_feedback", 0, user="a")]


@case
def _single_instant():
    return [E("session_start", 0)]


@case
def _comment_window_late():
    return [E("session_start", 0), E("enter", 1, user="a"), E("comment", 30, user="a", text="x"),
            E("comment", 100, user="a", text="y"), E("comment", 50, user="a", text="late"),
            E("comment", 40, user="a", text="exactly 60 s before as_of")]


@case
def _session_restart_clears():
    return [E("session_start", 0), E("enter", 1, user="a", fan=True, channel="feed", source="recommend"),
            E("follow", 2, user="a"), E("session_start", 10), E("enter", 11, user="b", gender="m")]


@case
def _minutes_per_channel():
    return [E("session_start", 0), E("enter", 10, user="a", source="recommend", channel="nearby"),
            E("enter", 70, user="b", source="paid", channel="brand_ad"),
            E("pay", 130, user="a", sku="s", order_id="o1", amount=1.0),
            E("pay", 131, user="b", sku="s", order_id="o2", amount=0.0),
            E("enter", 200, user="c", source="other", channel="profile")]


@pytest.mark.parametrize("name", list(CASES))
def test_edge_case(name):
    events = CASES[name]()
    for ev in events:
        judge(ev)
    skip = ("peak_online",) if max_lateness(events) > LATE_S else ()
    check(events, skip=skip, where=name)


@pytest.mark.parametrize("name", list(CASES))
def test_edge_case_after_every_event(name):
    events = CASES[name]()
    for n, room in engine_states(events):
        prefix = events[:n]
        skip = ("peak_online",) if max_lateness(prefix) > LATE_S else ()
        _assert_same(reference(prefix), engine_result(room), skip, f"{name}, after {n} events")


def test_hand_figures():
    # The reference itself, on figures worked out by hand from the README's definitions.
    m = engine_result(run_engine(CASES["latest_enter_decides"]()))["metrics"]
    assert m["audience"]["fan"]["true"]["viewers"] == 1 and m["audience"]["fan"]["false"]["viewers"] == 0
    # gender: the enter at 10 carries none, so the latest carrying it is the late one at 3
    assert m["audience"]["gender"]["m"]["viewers"] == 1 and m["audience"]["gender"]["f"]["viewers"] == 0
    assert m["audience"]["age"]["18-23"]["viewers"] == 1
    assert m["audience"]["city_tier"]["new1"]["viewers"] == 1
    assert m["returning_fans"] == 1 and m["returning_fan_share"] == 1.0
    m = engine_result(run_engine(CASES["interactions_distinct"]()))["metrics"]
    assert (m["interactors"], m["new_fans"], m["fan_club_joiners"], m["fan_club_joins"]) == (3, 1, 1, 2)
    assert m["interaction_rate"] == 1.5 and m["follow_rate"] == 0.5 and m["negative_feedback_rate"] == 0.5
    m = engine_result(run_engine(CASES["no_viewers_rates_null"]()))["metrics"]
    assert m["interaction_rate"] is None and m["returning_fan_share"] is None
    assert m["comments_per_min_avg"] is None and m["channels"]["feed"]["gpm"] is None
    m = engine_result(run_engine(CASES["comment_window_late"]()))["metrics"]
    assert m["comments_per_min"] == 2 and m["comments_per_min_avg"] == 4 * 60 / 100
    r = engine_result(run_engine(CASES["channel_credit_moves_with_late_reentry"]()))
    assert r["metrics"]["channels"]["qianchuan_pc"]["gmv"] == 9.99 and r["metrics"]["channels"]["feed"]["gmv"] == 0
    assert r["series"][1]["channels"] == {"qianchuan_pc": {"visits": 1, "gmv": 9.99}}
    m = engine_result(run_engine(CASES["buyer_without_enter_then_late_enter"]()))["metrics"]
    assert m["audience"]["fan"]["true"]["buyers"] == 1 and m["audience"]["fan"]["unknown"]["buyers"] == 1
    assert m["returning_fan_buyers"] == 1


# -- random sessions --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_random_session_in_order(seed):
    events = session(seed)
    for ev in events:
        judge(ev)
    check(events, where=f"seed {seed}, in order")


@pytest.mark.parametrize("seed", range(4))
def test_random_session_late_within_60s(seed):
    events = arrive_late(session(seed), seed, on_time=("session_start",))
    assert 0 < max_lateness(events) <= LATE_S
    check(events, where=f"seed {seed}, late within 60 s")


@pytest.mark.parametrize("seed", range(3))
def test_random_session_very_late(seed):
    events = arrive_late(session(seed), seed, very_late=6, on_time=("session_start",))
    check(events, skip=("peak_online",), where=f"seed {seed}, some very late")


@pytest.mark.parametrize("seed", range(20, 22))
def test_random_session_at_checkpoints(seed):
    events = arrive_late(session(seed, users=25), seed, max_delay=30, on_time=("session_start",))
    checkpoints = {len(events) * k // 4 for k in range(1, 5)}
    for n, room in engine_states(events):
        if n in checkpoints:
            _assert_same(reference(events[:n]), engine_result(room), (), f"seed {seed}, after {n} events")


def test_big_session():
    events = arrive_late(session(7, users=200, span=1500, skus=10), 7)
    check(events, where="big session")


# -- validation -------------------------------------------------------------------------------------------

def _ev(**f):
    return {"id": "x", "room": "r1", "ts": float(BASE_TS), "type": "enter", "user": "u", **f}


@pytest.mark.parametrize("fields", [
    {"fan": 1}, {"fan": "true"}, {"fan": None}, {"visit": "new"}, {"gender": "F"}, {"age": "18-24"},
    {"age": 30}, {"city_tier": 1}, {"city_tier": "6"}, {"channel": "tiktok"},
    {"channel": "feed"},                                   # feed belongs to recommend; absent source = other
    {"channel": "feed", "source": "paid"}, {"channel": "qianchuan_pc", "source": "recommend"},
    {"type": "impression", "channel": "search", "source": "other"},
    {"type": "negative_feedback", "reason": 3}, {"type": "negative_feedback", "reason": "x" * 501},
    {"type": "fan_club_join", "user": ""},
])
def test_wrong_values_rejected_with_reason(fields):
    with pytest.raises(Invalid) as e:
        judge(_ev(**fields))
    assert "$." in str(e.value)


@pytest.mark.parametrize("fields", [
    {"fan": True, "visit": "returning", "gender": "unknown", "age": "50+", "city_tier": "new1"},
    {"channel": "profile"}, {"channel": "other", "source": "other"}, {"channel": "suixintui", "source": "paid"},
    {"type": "impression", "channel": "nearby", "source": "recommend"},
    {"type": "negative_feedback", "reason": "举报"}, {"type": "fan_club_join"},
    {"type": "leave", "channel": "nonsense", "fan": 7},    # fields of another type: kept and ignored
])
def test_right_values_accepted(fields):
    _id, _room, stored = judge(_ev(**fields))
    assert _id == "x"


@pytest.mark.parametrize("seed", range(3))
def test_reference_adds_up(seed):
    # The reference's own consistency: each attribute's viewers and buyers add up to the contract's totals,
    # the channels of a source to that source, the minutes to the session.
    r = reference(arrive_late(session(seed), seed))
    m = r["metrics"]
    for name in AUDIENCE:
        assert sum(v["viewers"] for v in m["audience"][name].values()) == m["viewers"]
        assert sum(v["buyers"] for v in m["audience"][name].values()) == m["buyers"]
    cents = lambda x: round(x * 100)  # noqa: E731
    for src, s in m["sources"].items():   # `none` holds visits of every source that named no channel
        chans = [c for c, g in CHANNELS.items() if g == src]
        assert sum(m["channels"][c]["visits"] for c in chans) <= s["visits"]
    assert sum(c["visits"] for c in m["channels"].values()) == m["visits"]
    assert sum(cents(c["gmv"]) for c in m["channels"].values()) == cents(m["gmv"])
    per_minute = [c for minute in r["series"] for c in minute["channels"].values()]
    assert sum(c["visits"] for c in per_minute) == m["visits"]
    assert sum(cents(c["gmv"]) for c in per_minute) == cents(m["gmv"])
