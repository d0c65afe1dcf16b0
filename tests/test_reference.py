"""The reference itself, on tiny cases worked out by hand, so that the engine is judged by something
trustworthy. Times in comments are offsets from BASE_TS (B), which is a whole minute."""
from __future__ import annotations

import random

import pytest

try:  # the repo root on sys.path (python -m pytest, or a pythonpath setting)
    from tests.events import BASE_TS as B, EDGE_CASES, E, arrive_late, random_session
    from tests.reference import SOURCES, reference
except ModuleNotFoundError:  # only tests/ on sys.path (plain pytest, rootdir-less import)
    from events import BASE_TS as B, EDGE_CASES, E, arrive_late, random_session
    from reference import SOURCES, reference


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def run(name):
    return reference(EDGE_CASES[name]())


def contract_series(r):
    """The series' contract fields: the per-channel minutes (README, "Audience and channels") are
    checked in tests/test_audience.py."""
    return [{k: v for k, v in m.items() if k != "channels"} for m in r["series"]]


def test_empty_room_has_no_session():
    assert reference([]) is None


def test_reentry():
    r = run("reentry")
    m = r["metrics"]
    # Visits: a 1-11 (recommend), 21-26 (search), 30-open (other); as_of 40.
    assert m["as_of"] == B + 40
    assert (m["visits"], m["viewers"], m["online"], m["peak_online"]) == (3, 1, 1, 1)
    assert m["watch_seconds"] == approx(10 + 5 + 10)
    assert m["avg_dwell_s"] == approx(25.0)
    assert m["bounce_2s_rate"] == 0.0  # all three decided, none under 2 s
    assert {s: (v["visits"], v["viewers"]) for s, v in m["sources"].items()} == {
        "recommend": (1, 1), "paid": (0, 0), "short_video": (0, 0), "follow": (0, 0), "search": (1, 1),
        "other": (1, 1)}
    assert m["likes"] == 1
    assert contract_series(r) == [{"minute": B, "gmv": 0.0, "visits": 3, "paid_orders": 0, "online": 1}]
    assert r["products"] == []


def test_leave_without_enter_and_enter_while_inside():
    m = run("leave_without_enter")["metrics"]
    # Only a's 2-9 visit exists; leaves at 1 (a), 5 (b) and 10 (a again) change nothing.
    assert (m["visits"], m["viewers"], m["online"]) == (1, 1, 0)
    assert m["watch_seconds"] == approx(7.0)
    assert m["sources"]["follow"]["visits"] == 1
    m = run("enter_while_inside")["metrics"]
    # a: paid 1-8 (the enter at 3 is ignored, so the pay at 4 credits paid), then search 9-open.
    assert (m["visits"], m["online"]) == (2, 1)
    assert m["sources"]["paid"] == {"visits": 1, "viewers": 1, "gmv": 10.5}
    assert m["sources"]["search"] == {"visits": 1, "viewers": 1, "gmv": 0.0}
    assert m["watch_seconds"] == approx(7 + 11)


def test_bounce_threshold_is_strictly_under_2s():
    m = run("bounce_exactly_2s")["metrics"]
    # a 10-12: exactly 2.0 s, not a bounce; b 10.25-12.249: 1.999 s, bounce; c 13-13: bounce.
    assert m["bounce_2s_rate"] == approx(2 / 3)
    # online after each ts: 10 ->1, 10.25 ->2, 12 ->1, 12.249 ->0, 13 ->0 (c in and out: no peak)
    assert m["peak_online"] == 2
    assert m["watch_seconds"] == approx(2.0 + ((B + 12.249) - (B + 10.25)))


def test_open_visits_younger_than_2s_are_undecided():
    m = run("open_visit_younger_than_2s")["metrics"]
    # as_of 10: a 5-6 bounced; b open since 8 (2.0 s old: decided, kept); c (0.5 s), d (0 s) undecided.
    assert m["bounce_2s_rate"] == 0.5
    assert m["online"] == 3
    assert m["watch_seconds"] == approx(1 + 2 + 0.5 + 0)
    assert m["windows"]["60"]["visits"] == 4
    assert m["windows"]["60"]["bounce_2s_rate"] == 0.5
    assert m["comments"] == 1


def test_refunds():
    r = run("refunds")
    m = r["metrics"]
    assert (m["gmv"], m["refund_amount"], m["net_gmv"], m["units"]) == (99.9, 52.96, 46.94, 2)
    # s9 is named only by a refund: it still gets a (zero) row.
    assert [p["sku"] for p in r["products"]] == ["s1", "s9"]
    s1, s9 = r["products"]
    assert (s1["gmv"], s1["units"], s1["buyers"], s1["name"], s1["stock"], s1["ctr"]) == (99.9, 2, 1, None, None, None)
    assert (s9["gmv"], s9["units"], s9["on_stage"], s9["stage_seconds"]) == (0.0, 0, False, 0.0)


def test_duplicate_order_ids():
    r = run("duplicate_order_ids")
    m = r["metrics"]
    # o1 ordered twice and paid three times (the last by b, on another sku): one order, one paid order,
    # but every pay adds to gmv and units.
    assert (m["orders"], m["paid_orders"], m["buyers"], m["units"]) == (1, 1, 2, 5)
    assert m["gmv"] == 20.1
    assert m["funnel"]["orderers"] == 1
    assert [(p["sku"], p["gmv"], p["units"], p["buyers"]) for p in r["products"]] == [
        ("s1", 20.0, 2, 1), ("s2", 0.1, 3, 1)]


def test_pay_credited_across_sources():
    m = run("pay_credited_across_sources")["metrics"]
    # a: paid visit 2-10, pays 30.00 at 5 and 20.00 at 15 (after leaving: still the latest visit),
    # search visit from 20, pays 7.77 at 25; z pays 1.00 with no visit: other.
    assert m["gmv"] == 58.77
    assert m["sources"]["paid"]["gmv"] == 50.0
    assert m["sources"]["search"]["gmv"] == 7.77
    assert m["sources"]["other"] == {"visits": 0, "viewers": 0, "gmv": 1.0}
    assert (m["ad_spend"], m["paid_gmv"]) == (50.0, 50.0)
    assert m["roi"] == approx(58.77 / 50.0)
    assert m["paid_roi"] == approx(1.0)
    f = m["funnel"]
    assert (f["impressed"], f["entered"], f["product_viewers"], f["buyers"]) == (1, 1, 0, 2)
    assert (f["entered_rate"], f["product_viewers_rate"], f["product_clickers_rate"], f["buyers_rate"]) == (
        1.0, 0.0, None, None)
    assert (m["ctr"], m["cvr"]) == (None, None)
    assert m["gpm"] == approx(58.77 / 2 * 1000)
    assert m["uv_value"] == approx(58.77)


def test_pay_at_same_ts_as_reentry_goes_to_latest_opened_visit():
    m = run("pay_same_ts_as_reentry")["metrics"]
    # Visits opening <= 20: paid@2, search@20, follow@20; on the ts tie the later opened (follow) wins,
    # although the pay arrived before both enters.
    assert m["sources"]["follow"]["gmv"] == 6.0
    assert m["sources"]["paid"]["gmv"] == m["sources"]["search"]["gmv"] == 0.0
    assert m["peak_online"] == 1
    assert m["bounce_2s_rate"] == approx(1 / 3)  # the 0 s search visit


def test_stock_setting_and_later_pays():
    r = run("stock_before_after_pays")
    rows = {p["sku"]: p for p in r["products"]}
    # s1: last setting is the stock 10 at ts 5; at ts 5 only d's pay arrived after it -> 9.
    assert rows["s1"]["stock"] == 9
    assert rows["s2"]["stock"] is None  # paid, never set
    assert rows["s3"]["stock"] == -3  # 1 minus a pay of 4: overselling shows
    s1 = rows["s1"]
    assert (s1["name"], s1["price"], s1["cost"], s1["on_stage"]) == ("Mug", 19.9, 5.0, True)
    assert s1["stage_seconds"] == approx(8 - 2)
    assert (s1["units"], s1["buyers"], s1["gmv"]) == (8, 4, 100.5)
    # s2 and s3 tie on gmv (8.00) and clickers (0): sku ascending.
    assert [p["sku"] for p in r["products"]] == ["s1", "s2", "s3"]


def test_product_on_while_on_stage_keeps_the_clock():
    r = run("product_on_while_on_stage")
    rows = {p["sku"]: p for p in r["products"]}
    # s1: on 10, on again 40 (clock kept), off 70 (60 s), off 80 (nothing), on 100 -> as_of 150 (50 s).
    assert (rows["s1"]["stage_seconds"], rows["s1"]["on_stage"]) == (110.0, True)
    assert (rows["s1"]["name"], rows["s1"]["price"], rows["s1"]["cost"]) == ("A2", 8.0, 4.0)
    # s2: on 110, off 115 (5 s), on 115 arriving after the off -> as_of 150 (35 s).
    assert (rows["s2"]["stage_seconds"], rows["s2"]["on_stage"]) == (40.0, True)
    assert (rows["s2"]["name"], rows["s2"]["price"], rows["s2"]["cost"]) == (None, None, 1.5)
    assert (rows["s3"]["stage_seconds"], rows["s3"]["on_stage"], rows["s3"]["viewers"], rows["s3"]["ctr"]) == (
        0.0, False, 1, 0.0)
    assert r["metrics"]["likes"] == 3


def test_equal_ts_events_make_no_momentary_peak():
    m = run("equal_ts_events")["metrics"]
    # after ts 5: a, c inside (b in and out) -> 2; after 6: d -> 1; after 7: d -> 1.
    assert (m["peak_online"], m["online"], m["visits"]) == (2, 1, 5)
    # a 1 s, b 0 s, c 1 s, e 0 s bounced; d (1 s old at as_of) undecided.
    assert m["bounce_2s_rate"] == 1.0
    assert m["watch_seconds"] == approx(3.0)


def test_session_start_in_the_middle_restarts_everything():
    r = run("session_start_in_middle")
    m = r["metrics"]
    assert (m["as_of"], m["visits"], m["online"], m["gmv"], m["paid_orders"]) == (B + 63, 1, 1, 6.0, 1)
    assert m["sources"]["other"]["gmv"] == 6.0  # a's visit was in the earlier session
    assert m["sources"]["follow"]["visits"] == 1
    (s1,) = r["products"]
    assert (s1["name"], s1["price"], s1["stock"], s1["on_stage"], s1["ctr"], s1["cvr"]) == (
        None, None, None, False, 0.0, None)
    assert contract_series(r) == [{"minute": B + 60, "gmv": 6.0, "visits": 1, "paid_orders": 1, "online": 1}]


def test_stray_events_after_session_end_change_nothing():
    r = run("session_end_then_stray_events")
    m = r["metrics"]
    assert (m["as_of"], m["gmv"], m["online"], m["visits"]) == (B + 100, 5.0, 1, 1)
    assert m["watch_seconds"] == approx(99.0)
    assert contract_series(r) == [{"minute": B, "gmv": 5.0, "visits": 1, "paid_orders": 1, "online": 1},
                           {"minute": B + 60, "gmv": 0.0, "visits": 0, "paid_orders": 0, "online": 1}]


def test_session_boundary_ties_follow_arrival():
    m = run("same_ts_as_session_start")["metrics"]
    # x's enter at 10 arrived before the session_start at 10: earlier session.
    assert (m["visits"], m["as_of"]) == (1, B + 12)
    m = run("same_ts_as_session_end")["metrics"]
    # c's enter and a's leave at 20 arrived after the session_end at 20: no session.
    assert (m["visits"], m["online"], m["as_of"]) == (2, 2, B + 20)
    assert m["watch_seconds"] == approx(17.0)
    assert m["bounce_2s_rate"] == 0.0  # b is 0 s old: undecided


def test_late_session_start_splits_by_event_time():
    r = run("late_session_start")
    m = r["metrics"]
    # ordered: a@0 (implicit session), start@5, b@10, pay@20, a leaves@30 (not inside: nothing), c@40.
    assert (m["visits"], m["online"], m["gmv"], m["as_of"]) == (2, 2, 3.0, B + 40)
    assert m["sources"]["other"]["gmv"] == 3.0
    assert r["series"][0]["minute"] == B
    m = run("event_from_previous_session_arrives_late")["metrics"]
    assert (m["visits"], m["gmv"], m["as_of"]) == (1, 0.0, B + 15)


def test_no_session_start_means_the_first_event_opens_one():
    r = run("no_session_start")
    m = r["metrics"]
    assert (m["visits"], m["gmv"], m["likes"], m["as_of"]) == (1, 1.0, 5, B + 70)
    assert m["sources"]["short_video"]["gmv"] == 1.0
    assert [s["minute"] for s in r["series"]] == [B, B + 60]


def test_pay_before_any_visit_is_other():
    m = run("pay_without_visit")["metrics"]
    # b pays at 3 but only enters at 5: no visit opened by then.
    assert m["sources"]["other"]["gmv"] == 5.0
    assert m["sources"]["paid"]["gmv"] == 0.0


def test_series_zero_fills_and_samples_online_per_minute():
    r = run("series_gap_minutes")
    assert contract_series(r) == [
        {"minute": B, "gmv": 3.0, "visits": 1, "paid_orders": 2, "online": 1},
        {"minute": B + 60, "gmv": 0.0, "visits": 0, "paid_orders": 0, "online": 0},  # a left at 60
        {"minute": B + 120, "gmv": 0.0, "visits": 0, "paid_orders": 0, "online": 0},
        {"minute": B + 180, "gmv": 0.0, "visits": 1, "paid_orders": 0, "online": 1},
        {"minute": B + 240, "gmv": 4.0, "visits": 0, "paid_orders": 1, "online": 1},
    ]
    assert r["metrics"]["paid_orders"] == 2  # o2 paid in two minutes is still one order


def test_windows_are_open_at_the_lower_end():
    w = run("window_boundaries")["metrics"]["windows"]
    # as_of 400. 60 s: ts > 340, so the pay and the enter at 340 are out; d (359.5) is in.
    assert w["60"] == {"gmv": 0.0, "visits": 1, "paid_orders": 0, "bounce_2s_rate": 0.0}
    # 300 s: ts > 100: pays at 101 and 340; visits b (bounced), c, d.
    assert w["300"]["gmv"] == 6.0
    assert (w["300"]["visits"], w["300"]["paid_orders"]) == (3, 2)
    assert w["300"]["bounce_2s_rate"] == approx(1 / 3)


def test_funnel_engagement_and_product_order():
    r = run("engagement_and_funnel")
    m = r["metrics"]
    f = m["funnel"]
    assert [f[k] for k in ("impressed", "entered", "product_viewers", "product_clickers", "orderers", "buyers")] == [
        2, 1, 2, 1, 1, 0]
    assert [f[k] for k in ("entered_rate", "product_viewers_rate", "product_clickers_rate", "orderers_rate",
                           "buyers_rate")] == [0.5, 2.0, 0.5, 1.0, 0.0]
    assert (m["comments"], m["likes"], m["follows"], m["shares"], m["orders"]) == (1, 8, 1, 2, 1)
    assert (m["ctr"], m["cvr"]) == (0.5, 0.0)
    # equal gmv: the product with more clickers first
    assert [(p["sku"], p["viewers"], p["clickers"], p["cart_adders"]) for p in r["products"]] == [
        ("s1", 1, 1, 1), ("s2", 1, 0, 0)]


def test_no_visits_gives_null_rates():
    r = run("no_visits")
    m = r["metrics"]
    assert (m["visits"], m["viewers"], m["online"], m["peak_online"], m["watch_seconds"]) == (0, 0, 0, 0, 0.0)
    assert (m["avg_dwell_s"], m["bounce_2s_rate"], m["gpm"], m["uv_value"], m["roi"], m["paid_roi"]) == (
        None, None, None, None, None, None)
    assert r["products"][0]["stage_seconds"] == 1.0


def test_stray_event_claimed_by_late_session_start():
    m = run("stray_event_claimed_by_late_session_start")["metrics"]
    # In ts order: start 0, a 1, end 10, start 20, like 30, b 31 (paid), c 40: the new session has
    # the like and b's and c's visits, whatever order they arrived in.
    assert (m["visits"], m["online"], m["likes"], m["as_of"]) == (2, 2, 1, B + 40)
    assert m["watch_seconds"] == approx(9 + 0)
    assert m["sources"]["paid"]["visits"] == 1


def test_late_boundaries_and_first_events():
    m = run("late_session_start_in_implicit_session")["metrics"]
    # The start at 5 is the first event in ts order: a's visit at 10 is in its session.
    assert (m["visits"], m["online"], m["likes"], m["as_of"]) == (2, 2, 1, B + 20)
    r = run("late_event_before_first_event")
    # Implicit session from b's enter at 30.
    assert contract_series(r) == [{"minute": B, "gmv": 2.0, "visits": 1, "paid_orders": 1, "online": 1},
                           {"minute": B + 60, "gmv": 0.0, "visits": 1, "paid_orders": 0, "online": 2}]
    assert r["metrics"]["sources"]["search"]["gmv"] == 2.0
    m = run("two_session_starts_same_ts")["metrics"]
    assert (m["visits"], m["as_of"]) == (1, B + 6)  # only c: b entered between the two starts at 5
    assert run("two_session_starts_same_ts")["series"][0]["minute"] == B
    m = run("double_session_end")["metrics"]
    assert (m["as_of"], m["likes"], m["online"], m["watch_seconds"]) == (B + 10, 0, 1, 9.0)


def test_integer_ts():
    r = run("integer_ts")
    m = r["metrics"]
    # a: 1-2 (bounce), 3-open (59 s at as_of 62).
    assert (m["as_of"], m["visits"], m["watch_seconds"], m["bounce_2s_rate"], m["gmv"]) == (B + 62, 2, 60.0, 0.5, 3.0)
    (s1,) = r["products"]
    assert (s1["price"], s1["stock"], s1["on_stage"], s1["stage_seconds"]) == (5.0, 2, True, 0.0)
    assert [(s["minute"], s["online"], s["gmv"]) for s in r["series"]] == [(B, 1, 0.0), (B + 60, 1, 3.0)]


def test_foreign_fields_ignored():
    r = run("foreign_fields_ignored")
    m = r["metrics"]
    assert m["sources"]["paid"]["gmv"] == 1.0 and m["sources"]["search"]["gmv"] == 0.0
    assert (m["units"], m["likes"], m["comments"], m["refund_amount"], m["online"]) == (1, 1, 1, 0.5, 0)
    assert [p["sku"] for p in r["products"]] == ["s1"]


def test_money_exact_case():
    m = run("money_exact")["metrics"]
    assert (m["gmv"], m["refund_amount"], m["net_gmv"], m["ad_spend"]) == (101234568.25, 0.3, 101234567.95, 0.3)
    assert m["roi"] == approx(101234568.25 / 0.3)


def test_duplicate_ids_and_foreign_fields_are_ignored():
    a = E("enter", 1, user="a")
    evs = [E("session_start", 0), a, dict(a, ts=B + 5, user="zz"),
           E("comment", 2, user="a", text="hi", sku="not-a-product", amount=5.0)]
    r = reference(evs)
    assert r["metrics"]["visits"] == 1
    assert r["metrics"]["gmv"] == 0.0
    assert r["products"] == []


def test_money_is_summed_exactly():
    # 0.1 + 0.2 in floats is 0.30000000000000004; in cents it is 30.
    evs = [E("session_start", 0)] + [E("pay", 1 + i, user="a", sku="s", order_id=f"o{i}", amount=a)
                                     for i, a in enumerate((0.1, 0.2, 0.07, 1234567.89))]
    m = reference(evs)["metrics"]
    assert m["gmv"] == 1234568.26
    assert m["windows"]["60"]["gmv"] == 1234568.26


def _tie_preserving_shuffle(events, seed):
    """A random arrival order in which events of equal ts keep their relative order."""
    rng = random.Random(seed)
    order = list(range(len(events)))
    rng.shuffle(order)
    groups: dict = {}
    for i, e in enumerate(events):
        groups.setdefault(e["ts"], []).append(i)
    slots: dict = {}
    for pos, i in enumerate(order):
        slots.setdefault(events[i]["ts"], []).append(pos)
    out = [None] * len(events)
    for ts, idx in groups.items():
        for pos, i in zip(sorted(slots[ts]), idx):
            out[pos] = events[i]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_arrival_order_only_matters_between_equal_ts(seed):
    evs = random_session(seed)
    assert reference(_tie_preserving_shuffle(evs, seed)) == reference(evs)


@pytest.mark.parametrize("seed", range(6))
def test_random_sessions_are_self_consistent(seed):
    r = reference(arrive_late(random_session(seed), seed, very_late=3))
    m, products, series = r["metrics"], r["products"], r["series"]
    cents = lambda x: round(x * 100)  # noqa: E731
    assert sum(m["sources"][s]["visits"] for s in SOURCES) == m["visits"]
    assert sum(cents(m["sources"][s]["gmv"]) for s in SOURCES) == cents(m["gmv"])
    assert sum(cents(p["gmv"]) for p in products) == cents(m["gmv"])
    assert sum(p["units"] for p in products) == m["units"]
    assert sum(cents(s["gmv"]) for s in series) == cents(m["gmv"])
    assert sum(s["visits"] for s in series) == m["visits"]
    assert series[-1]["online"] == m["online"] <= m["peak_online"]
    assert max(s["online"] for s in series) <= m["peak_online"]
    assert m["paid_gmv"] == m["sources"]["paid"]["gmv"]
    assert cents(m["net_gmv"]) == cents(m["gmv"]) - cents(m["refund_amount"])
    assert m["funnel"]["entered"] == m["viewers"]
    assert m["funnel"]["buyers"] == m["buyers"]
    assert [s["minute"] for s in series] == list(range(series[0]["minute"], series[-1]["minute"] + 60, 60))
    assert series[-1]["minute"] <= m["as_of"] < series[-1]["minute"] + 60
    assert cents(m["windows"]["60"]["gmv"]) <= cents(m["windows"]["300"]["gmv"]) <= cents(m["gmv"])
    keys = [(-cents(p["gmv"]), -p["clickers"], p["sku"]) for p in products]
    assert keys == sorted(keys)
