"""The simulator: contract-valid, deterministic, lively, with anomalies and a paid-traffic model that answer."""
from __future__ import annotations

import collections
import threading
import time

import orjson
import pytest
import redis

from feeds import simulator
from feeds.schema import SOURCES, TYPES, judge
from feeds.simulator import ANOMALY_KINDS, SimConfig, SimRoom, simulate_session
from store import embedded, keys
from tests.conftest import free_port, wait_until

START = float(int(time.time()) // 60 * 60 - 6 * 3600)


def counts(events, key="type"):
    return collections.Counter(e[key] for e in events)


def visits(events):
    """(user, source, enter ts, leave ts or None) of every visit."""
    inside, out = {}, []
    for e in events:
        if e["type"] == "enter" and e["user"] not in inside:
            inside[e["user"]] = (e.get("source"), e["ts"])
        elif e["type"] == "leave" and e["user"] in inside:
            source, opened = inside.pop(e["user"])
            out.append((e["user"], source, opened, e["ts"]))
    out += [(u, s, t, None) for u, (s, t) in inside.items()]
    return out


def between(events, start, end, type_=None):
    return [e for e in events if start <= e["ts"] <= end and (type_ is None or e["type"] == type_)]


@pytest.fixture(scope="module")
def hour():
    """An hour of a Kuaishou room without anomalies."""
    sim = SimRoom("kuaishou-02", "kuaishou", 11, START, SimConfig(session_s=3600, anomalies=False))
    return sim, sim.step(START + 3600)


@pytest.fixture(scope="module")
def injected():
    """A Douyin session with every kind of anomaly forced, one every five minutes."""
    sim = SimRoom("douyin-01", "douyin", 5, START, SimConfig(session_s=3000, anomalies=False))
    for i, kind in enumerate(ANOMALY_KINDS):
        sim.inject(kind, START + 300 + 300 * i)
    return sim, sim.step(START + 3000)


def test_every_event_passes_the_contract(hour):
    _, events = hour
    for e in events:
        judge(e)   # raises Invalid with the reason
        assert all(round(e[f], 2) == e[f] for f in ("amount", "price", "cost") if f in e)
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert events[0]["type"] == "session_start" and events[-1]["type"] == "session_end"
    assert events[-1]["ts"] == START + 3600


def test_an_hour_has_every_type_at_a_lively_rate(hour):
    _, events = hour
    c = counts(events)
    assert set(c) == set(TYPES)
    assert 10 <= len(events) / 3600 <= 40
    assert set(counts([e for e in events if e["type"] == "enter"], "source")) == set(SOURCES)
    assert 8 <= len({e["sku"] for e in events if e["type"] == "product_on"}) <= 15
    vs = visits(events)
    assert all(v[3] is not None for v in vs)   # everyone has left by session_end
    bounce = sum(v[3] - v[2] < 2 for v in vs) / len(vs)
    assert 0.15 <= bounce <= 0.35
    assert any(("还有吗" in e["text"] or "返场" in e["text"]) for e in events if e["type"] == "comment")
    assert not any(t in e["text"] for e in events if e["type"] == "comment" for t in simulator.BANNED_TERMS)


def test_orders_pays_and_refunds_are_consistent(hour):
    sim, events = hour
    # list prices (products in the shopping bag sell off stage too) and flash-sale prices
    prices = collections.defaultdict(set, {sku: {p["price"]} for sku, p in sim.truth()["products"].items()})
    orders = {}
    for e in events:
        if e["type"] == "product_on":
            prices[e["sku"]].add(e["price"])
        elif e["type"] == "order":
            orders[e["order_id"]] = e
            assert any(abs(e["amount"] - p * e["qty"]) < 0.005 for p in prices[e["sku"]])
        elif e["type"] == "pay":
            o = orders[e["order_id"]]
            assert (o["user"], o["sku"], o["amount"], o["qty"]) == (e["user"], e["sku"], e["amount"], e["qty"])
            assert o["ts"] < e["ts"]
    paid = {e["order_id"] for e in events if e["type"] == "pay"}
    refunded = [e["order_id"] for e in events if e["type"] == "refund"]
    assert len(set(refunded)) == len(refunded) and set(refunded) <= paid
    assert len(paid) < len(orders)   # some orders are never paid


def test_the_same_seed_gives_the_same_session():
    a = simulate_session("taobao-03", 5, 900, START)
    assert a == simulate_session("taobao-03", 5, 900, START)
    assert a != simulate_session("taobao-03", 6, 900, START)
    assert a[0]["platform"] == "taobao"


def test_output_does_not_depend_on_how_often_step_is_called():
    whole = SimRoom("douyin-04", "douyin", 9, START, SimConfig(session_s=400)).step(START + 400)
    sim = SimRoom("douyin-04", "douyin", 9, START, SimConfig(session_s=400))
    pieces = []
    for i in range(1, 1601):
        pieces += sim.step(START + i * 0.25)
    assert pieces == whole


def test_sessions_follow_each_other_after_a_break():
    sim = SimRoom("kuaishou-05", "kuaishou", 2, START, SimConfig(session_s=300, break_s=30))
    events = sim.step(START + 700)
    marks = [(e["type"], e["ts"]) for e in events if e["type"] in ("session_start", "session_end")]
    assert marks == [("session_start", START), ("session_end", START + 300), ("session_start", START + 330),
                     ("session_end", START + 630), ("session_start", START + 660)]
    assert not [e for e in events if START + 300 < e["ts"] < START + 330]
    assert len({e["id"] for e in events}) == len(events)


def test_forced_anomalies_are_recorded_with_their_evidence(injected):
    sim, events = injected
    recs = {a["kind"]: a for a in sim.anomalies}
    assert set(recs) == set(ANOMALY_KINDS)
    for a in sim.anomalies:
        assert START <= a["start"] < a["end"] <= START + 3000
    vs = visits(events)

    a = recs["bounce_storm"]
    storm = [v for v in vs if a["start"] <= v[2] < a["end"]]
    assert len(storm) > 30 and sum(v[3] - v[2] < 1.05 for v in storm) / len(storm) > 0.7

    a = recs["viewer_drop"]
    online = [v for v in vs if v[2] < a["start"] and (v[3] is None or v[3] > a["start"])]
    dropped = [v for v in online if v[3] <= a["end"]]
    assert len(online) > 50 and len(dropped) / len(online) > 0.5

    a = recs["order_burst"]
    assert len([e for e in between(events, a["start"], a["end"], "pay") if e["user"] == a["user"]]) >= 10

    a = recs["comment_flood"]
    assert len([e for e in between(events, a["start"], a["end"], "comment") if e["text"] == a["text"]]) >= 50

    a = recs["banned_words"]
    banned = [e for e in events if e["type"] == "comment" and any(t in e["text"] for t in simulator.BANNED_TERMS)]
    assert len(banned) >= 3 and all(a["start"] <= e["ts"] <= a["end"] and a["term"] in e["text"] for e in banned)

    a = recs["stockout"]
    zero = [e for e in events if e["type"] == "stock" and e["sku"] == a["sku"] and e["stock"] == 0]
    assert zero and zero[0]["ts"] == a["start"]
    stage = [e for e in events if e["type"] in ("product_on", "product_off") and e["ts"] <= a["end"]]
    on, off = stage[-2], stage[-1]   # on stage from before the sell-out until the record's end
    assert (on["type"], on["sku"]) == ("product_on", a["sku"]) and on["ts"] < a["start"]
    assert (off["type"], off["sku"], off["ts"]) == ("product_off", a["sku"], a["end"])

    a = recs["refund_spike"]
    spike = between(events, a["start"], a["end"], "refund")
    normal = [e for e in events if e["type"] == "refund" and not a["start"] <= e["ts"] <= a["end"]]
    assert len(spike) >= 5 and len(spike) / (a["end"] - a["start"]) > 5 * len(normal) / 3000

    a = recs["roi_crash"]
    paid_in_crash = {v[0] for v in vs if v[1] == "paid" and a["start"] <= v[2] <= a["end"]}
    assert len(paid_in_crash) > 50
    assert not [e for e in between(events, a["start"], a["end"], "pay") if e["user"] in paid_in_crash]
    assert sum(e["amount"] for e in between(events, a["start"], a["end"], "ad_spend")) > 0
    # the crash's last clicks still lose their orders that long after it
    assert a["shows_until"] == round(a["end"] + simulator.ORDER_DELAY_S[1], 3)
    # what it took away: at most one order per paid click of the crash, and some
    paid_clicks = [e for e in between(events, a["start"], a["end"], "product_click") if e["user"] in paid_in_crash]
    assert 0 < a["orders_lost"] <= len(paid_clicks)


def test_anomalies_come_on_their_own_unless_turned_off(hour):
    sim, _ = hour
    assert sim.anomalies == []
    busy = SimRoom("douyin-01", "douyin", 1, START, SimConfig(session_s=1800, anomaly_per_hour=20))
    busy.step(START + 1800)
    assert len(busy.anomalies) >= 3 and {a["kind"] for a in busy.anomalies} <= set(ANOMALY_KINDS)
    with pytest.raises(ValueError):
        busy.inject("meteor", START)


def paid_counts(events):
    return (len([e for e in events if e["type"] == "enter" and e["source"] == "paid"]),
            sum(e["amount"] for e in events if e["type"] == "ad_spend"))


def test_budget_and_roi_target_move_paid_traffic_the_expected_way():
    def room(session_s=1200):
        return SimRoom("douyin-01", "douyin", 4, START, SimConfig(session_s=session_s, anomalies=False))

    base = room()
    base_enters, base_spend = paid_counts(base.step(START + 1200))
    richer = room()
    for c in ("qc-1", "qc-2"):
        richer.set_budget(c, 4 * base.get_budget(c))
    rich_enters, rich_spend = paid_counts(richer.step(START + 1200))
    pickier = room()
    for c in ("qc-1", "qc-2"):
        pickier.set_roi_target(c, 5.0)
    picky_enters, _ = paid_counts(pickier.step(START + 1200))
    assert rich_enters > 1.8 * base_enters and rich_spend > 3 * base_spend
    assert picky_enters < 0.7 * base_enters
    assert richer.get_budget("qc-1") == 4 * base.get_budget("qc-1")
    assert richer.truth()["controls"][0]["action"] == "set_budget"

    # Diminishing returns: more budget buys more visitors at a lower ROI.
    low, high = base.paid_model(3000.0), base.paid_model(12000.0)
    assert high["arrivals_per_min"] > low["arrivals_per_min"] and high["expected_roi"] < low["expected_roi"]
    assert base.paid_model(3000.0, 4.0)["conversion_multiplier"] > low["conversion_multiplier"]

    paused = room(1500)
    early = paused.step(START + 600)
    for c in ("qc-1", "qc-2"):
        paused.pause(c)
    late = paused.step(START + 1200)
    assert paid_counts(early)[1] > 0
    assert not [e for e in late if e["type"] == "impression" and e["source"] == "paid" and e["ts"] > START + 602]
    assert not [e for e in late if e["type"] == "ad_spend" and e["ts"] > START + 640]
    paused.set_budget("qc-1", 5000)
    resumed = paused.step(START + 1400)
    assert paid_counts(resumed)[0] > 0


def test_ad_settings_change_paid_traffic_only():
    """Common random numbers: the same seed under other ad settings meets the same products on stage and the
    same organic crowd at the same moments; only what paid viewers do differs."""
    def run(factor):
        sim = SimRoom("douyin-01", "douyin", 7, START, SimConfig(session_s=1800, anomalies=False))
        events = sim.step(START + 600)
        if factor is not None:
            for c in list(sim.campaigns):
                sim.set_budget(c, sim.get_budget(c) * factor)
        return events + sim.step(START + 1800)

    def organic(events):
        return [(e["type"], e["ts"], e.get("source"), e.get("sku")) for e in events
                if e["type"] in ("product_on", "product_off") or (e["type"] == "enter" and e["source"] != "paid")]

    base, richer, poorer = run(None), run(2.0), run(0.5)
    assert organic(richer) == organic(base) == organic(poorer)
    paid = [sum(e["type"] == "enter" and e["source"] == "paid" and e["ts"] > START + 700 for e in ev)
            for ev in (poorer, base, richer)]
    assert paid[0] < paid[1] < paid[2]


def test_truth_has_the_hidden_model(hour):
    sim, events = hour
    truth = orjson.loads(orjson.dumps(sim.truth()))
    skus = {e["sku"] for e in events if e["type"] == "product_on"}
    assert set(truth["products"]) >= skus
    for p in truth["products"].values():
        assert 0 < p["conversion"] < 1 and p["demand"] > 0 and 0 < p["ctr"] < 1 and p["price"] > p["cost"] > 0
    camp = truth["paid"]["campaigns"]["jn-1"]
    assert camp["visitors"] > 0 and camp["spend"] == round(paid_counts(events)[1], 2)
    assert camp["model"]["expected_roi"] > 0 and camp["model"]["marginal_roi"] < camp["model"]["expected_roi"]
    assert set(truth["sources"]) == set(SOURCES)


def test_run_stores_rooms_takes_controls_and_survives_a_redis_restart(tmp_path):
    port = free_port()
    server = embedded.start(tmp_path / "redis", port=port)
    client = redis.Redis.from_url(server.url)
    stop = threading.Event()
    started = time.time()
    runner = threading.Thread(target=simulator.run, args=(server.url, 2, stop),
                              kwargs={"speed": 20.0, "seed": 3, "preroll_s": 120}, daemon=True)
    runner.start()
    rooms = ("douyin-01", "kuaishou-02")
    try:
        wait_until(lambda: all(client.xlen(keys.events(r)) > 100 for r in rooms), what="events in both rooms")
        sim = simulator.room_controls("douyin-01")
        assert sim is not None and simulator.room_controls("nowhere") is None

        simulator.send_control(client, "douyin-01", "set_budget", "qc-1", 1234)
        wait_until(lambda: sim.get_budget("qc-1") == 1234.0, what="the control to arrive")
        def published():
            truth = simulator.read_truth(client, "douyin-01")
            return truth and truth["paid"]["campaigns"]["qc-1"]["budget_per_hour"] == 1234.0
        wait_until(published, what="the truth published with the new budget")

        client.close()
        failures = simulator.status["failures"]
        server.stop()
        wait_until(lambda: simulator.status["failures"] > failures, timeout=30, what="a batch failing to store")
        down_at = sim.clock
        server = embedded.start(tmp_path / "redis", port=port)
        client = redis.Redis.from_url(server.url)
        wait_until(lambda: simulator.status["pending"] == 0 and
                   client.xlen(keys.events("douyin-01")) > 0 and sim.clock > down_at + 5, what="storing again")
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive() and simulator.registry == {}
    for room in rooms:
        events = [orjson.loads(fields[b"e"]) for _, fields in client.xrange(keys.events(room))]
        numbers = sorted(int(e["id"].rsplit("-", 1)[1]) for e in events)
        assert numbers == list(range(1, len(numbers) + 1))   # nothing lost across the restart
        assert events[0]["type"] == "session_start"
    first = {r: orjson.loads(client.xrange(keys.events(r), count=1)[0][1][b"e"])["ts"] for r in rooms}
    assert first["douyin-01"] == pytest.approx(started - 120, abs=1)   # the preroll, staggered by room
    assert first["kuaishou-02"] == pytest.approx(started - 60, abs=1)
    client.close()
    server.stop()


def test_a_resumed_room_returns_what_it_would_have_returned():
    # A resume record is the whole SimRoom: stepping it on gives the very events (ids too) the room would
    # have given, so what a crash between two saves makes it send again is only duplicates.
    import pickle
    t0 = 1_790_000_000.0
    a = SimRoom("douyin-01", "douyin", 5, t0, SimConfig(session_s=600))
    a.step(t0 + 300)
    b = pickle.loads(pickle.dumps(a))
    assert b.step(t0 + 900) == a.step(t0 + 900)


def _log(client, room: str) -> list[dict]:
    return [orjson.loads(fields[b"e"]) for _, fields in client.xrange(keys.events(room))]


def _one_on_stage(events: list[dict]) -> bool:
    on: set = set()
    for e in events:
        if e["type"] in ("session_start", "session_end"):
            on.clear()
        elif e["type"] == "product_on":
            if on - {e["sku"]}:
                return False
            on.add(e["sku"])
        elif e["type"] == "product_off":
            on.discard(e["sku"])
    return True


def test_a_restarted_run_continues_its_sessions_or_ends_them_where_they_stopped(tmp_path):
    server = embedded.start(tmp_path / "redis", port=free_port())
    client = redis.Redis.from_url(server.url)
    rooms = ("douyin-01", "kuaishou-02")

    def run_for(seed, more: int = 200):
        counts = {r: client.xlen(keys.events(r)) for r in rooms}
        stop = threading.Event()
        runner = threading.Thread(target=simulator.run, args=(server.url, 2, stop),
                                  kwargs={"speed": 20.0, "seed": seed, "preroll_s": 120}, daemon=True)
        runner.start()
        try:
            wait_until(lambda: all(client.xlen(keys.events(r)) > counts[r] + more for r in rooms),
                       what="events in both rooms")
        finally:
            stop.set()
            runner.join(30)
        assert not runner.is_alive()

    try:
        run_for(3)
        first = {r: _log(client, r) for r in rooms}
        run_for(4)   # another seed: a resumed room keeps its own
        for room in rooms:
            events = _log(client, room)
            assert events[:len(first[room])] == first[room]
            # one run of the room: one id prefix, numbers without a gap, one session, the clock never back
            prefixes = {e["id"].rsplit("-", 1)[0] for e in events}
            assert len(prefixes) == 1, prefixes
            numbers = [int(e["id"].rsplit("-", 1)[1]) for e in events]
            assert numbers == list(range(1, len(events) + 1))
            assert [e["type"] for e in events].count("session_start") == 1
            assert all(x["ts"] <= y["ts"] for x, y in zip(events, events[1:]))
            assert _one_on_stage(events)

        # no usable record (lost, or from another version): the running session ends at the last event
        client.delete(*[keys.sim_resume(r) for r in rooms])
        before = {r: _log(client, r) for r in rooms}
        run_for(5)
        for room in rooms:
            events = _log(client, room)
            last_ts = max(e["ts"] for e in before[room])
            new = events[len(before[room]):]
            i = next(i for i, e in enumerate(new) if e["type"] == "session_end")
            assert {e["type"] for e in new[:i]} <= {"product_off"} and new[i]["ts"] == last_ts
            assert new[i + 1]["type"] == "session_start" and new[i + 1]["ts"] >= last_ts   # never backdated
            assert [e["type"] for e in new].count("session_start") == 1
            assert _one_on_stage(events)
    finally:
        client.close()
        server.stop()


def test_a_rooms_first_session_can_end_early_and_the_next_ones_run_full_length():
    start = 1_700_000_000.0
    sim = SimRoom("douyin-early", "douyin", 3, start, SimConfig(session_s=3600, first_session_s=240, break_s=60))
    bounds = [(e["type"], e["ts"] - start) for e in sim.step(start + 3600)
              if e["type"] in ("session_start", "session_end")]
    assert bounds == [("session_start", 0.0), ("session_end", 240.0), ("session_start", 300.0)]


def test_first_session_minutes_option():
    import argparse
    p = argparse.ArgumentParser()
    assert simulator._minutes_span(p, "3,8") == (180.0, 480.0) and simulator._minutes_span(p, "0") is None
    with pytest.raises(SystemExit):
        simulator._minutes_span(p, "8,3")
