"""Re-run recommendations: the keyword matcher, the comment tally, each part of the score and each guard of
insights.rerun, and the job against a real Redis (consumer group, tally kept between runs, notice)."""
from __future__ import annotations

import time

import orjson
import pytest
import redis

from insights import rerun
from insights.jobs import each_room
from store import keys
from tests.conftest import wait_until

T0 = 1_790_000_000.0


def row(sku, **over):
    """A product row as the engine writes it: 10 minutes on stage, 100 clickers, 10 buyers, ¥100 price."""
    r = {"sku": sku, "name": f"商品{sku}", "price": 100.0, "cost": 40.0, "stock": 500, "on_stage": False,
         "stage_seconds": 600.0, "viewers": 1000, "clickers": 100, "cart_adders": 20, "buyers": 10, "units": 10,
         "gmv": 1000.0, "ctr": 0.1, "cvr": 0.1, "orders": 12, "paid_orders": 10}
    r.update(over)
    return r


def tally_with(**left):
    t = rerun.new_tally()
    t["started"] = T0
    t["left_at"] = {sku: T0 + s for sku, s in left.items()}
    return t


def skus(ranked):
    return [x["sku"] for x in ranked]


def ev(type_, t, **f):
    return {"type": type_, "ts": T0 + t, **f}


# -- matching comments to products -------------------------------------------------------------------------

def test_keywords_are_the_name_pieces_no_other_product_shares():
    kw = rerun.keywords([row("a", name="爆款保温杯"), row("b", name="儿童保温水壶"), row("c", name="Blue Tee 2"),
                         row("d", name=None)])
    assert kw["保温杯"] == "a" and kw["水壶"] == "b" and kw["爆款保温杯"] == "a"
    assert "保温" not in kw          # in both names: says nothing about which one
    assert kw["blue"] == "c" and "2" not in kw and "tee" in kw


def test_tally_counts_asks_mentions_and_vague_asks_for_products_off_stage():
    rows = [row("a", name="爆款保温杯"), row("b", name="冰丝防晒衣")]
    t = rerun.tally([
        ev("session_start", 0),
        ev("product_on", 1, sku="a"),
        ev("comment", 2, text="保温杯多少钱"),            # about the product on stage: not a re-run signal
        ev("product_off", 100, sku="a"),
        ev("product_on", 110, sku="b"),
        ev("comment", 120, text="求返场保温杯！"),
        ev("comment", 121, text="保温杯还有吗"),
        ev("comment", 122, text="保温杯好看"),
        ev("comment", 123, text="刚才那个还有吗"),         # "the previous one": the last product off stage
        ev("comment", 124, text="防晒衣什么时候再上"),      # b is on stage: not counted
        ev("comment", 125, text="主播好"),
    ], rows, rerun.new_tally())
    assert t["asks"] == {"a": 2} and t["mentions"] == {"a": 1} and t["vague_asks"] == {"a": 1}
    assert t["on"] == "b" and t["left_at"] == {"a": T0 + 100} and t["started"] == T0


def test_a_new_session_starts_a_new_tally_and_late_comments_of_the_old_one_are_ignored():
    rows = [row("a", name="爆款保温杯")]
    t = rerun.tally([ev("session_start", 0), ev("product_off", 5, sku="a"), ev("comment", 6, text="求返场保温杯")],
                    rows, rerun.new_tally())
    t = rerun.tally([ev("session_start", 1000), ev("comment", 7, text="求返场保温杯")], rows, t)
    assert t["asks"] == {} and t["left_at"] == {} and t["started"] == T0 + 1000


# -- the score and its guards ------------------------------------------------------------------------------

def test_never_recommends_what_is_on_stage_sold_out_or_never_shown():
    rows = [row("on", on_stage=True, clickers=900), row("gone", stock=0, clickers=900),
            row("over", stock=-3, clickers=900), row("new", stage_seconds=0.0, clickers=900), row("ok")]
    assert skus(rerun.rank(rows, tally_with(), T0 + 3600)) == ["ok"]


def test_unknown_stock_is_not_sold_out_and_stock_caps_the_expected_units():
    rows = [row("unknown", stock=None), row("few", stock=2, clickers=400)]
    ranked = {x["sku"]: x for x in rerun.rank(rows, tally_with(), T0 + 3600)}
    assert set(ranked) == {"unknown", "few"}
    assert ranked["few"]["figures"]["expected_units"] == 2


def test_just_left_the_stage_ranks_lower_and_recovers_with_time():
    rows = [row("just"), row("earlier")]
    now = T0 + 1000
    assert skus(rerun.rank(rows, tally_with(just=990, earlier=400), now)) == ["earlier", "just"]
    later = rerun.rank(rows, tally_with(just=990, earlier=400), now + 3600)
    assert later[0]["score"] == pytest.approx(later[1]["score"], rel=1e-6)


def test_margin_counts_and_an_unknown_cost_takes_the_default_share():
    rows = [row("thin", cost=90.0), row("fat", cost=20.0), row("nocost", cost=None)]
    ranked = {x["sku"]: x for x in rerun.rank(rows, tally_with(), T0 + 3600)}
    assert skus(rerun.rank(rows, tally_with(), T0 + 3600)) == ["fat", "nocost", "thin"]
    assert ranked["nocost"]["figures"]["unit_margin"] == pytest.approx(100 * rerun.DEFAULT_MARGIN)


def test_a_product_sold_below_cost_is_not_recommended():
    assert rerun.rank([row("loss", price=30.0, cost=40.0)], tally_with(), T0 + 3600) == []


def test_conversion_is_shrunk_so_one_lucky_buyer_does_not_win():
    rows = [row("lucky", clickers=1, buyers=1, units=1, cart_adders=1, orders=1, paid_orders=1),
            row("proven", clickers=100, buyers=40, units=40)]
    assert skus(rerun.rank(rows, tally_with(), T0 + 3600))[0] == "proven"


def test_unmet_demand_and_asks_raise_the_score():
    base = rerun.rank([row("a")], tally_with(), T0 + 3600)[0]["score"]
    unpaid = rerun.rank([row("a", orders=40)], tally_with(), T0 + 3600)[0]["score"]
    t = tally_with()
    t["asks"] = {"a": 50}
    asked = rerun.rank([row("a")], t, T0 + 3600)[0]
    assert unpaid > base and asked["score"] > base
    assert asked["figures"]["asks"] == 50
    assert "50 comments ask for it back" in asked["reason"]["en"] and "50 条评论求返场" in asked["reason"]["zh"]


def test_the_shortlist_is_best_first_and_limited():
    rows = [row(f"s{i}", clickers=10 + i * 10) for i in range(15)]
    ranked = rerun.rank(rows, tally_with(), T0 + 3600)
    assert len(ranked) == rerun.SHORTLIST
    assert [x["score"] for x in ranked] == sorted((x["score"] for x in ranked), reverse=True)
    assert ranked[0]["sku"] == "s14"
    assert {"sku", "name", "score", "reason", "figures"} <= set(ranked[0])


# -- the job against a real Redis --------------------------------------------------------------------------

def test_run_reads_new_comments_once_and_keeps_the_ranking(redis_url):
    r = redis.Redis.from_url(redis_url)
    room = "rr1"
    rows = [row("a", name="爆款保温杯", clickers=50), row("b", name="冰丝防晒衣", clickers=60),
            row("c", name="无线蓝牙耳机", on_stage=True, clickers=500)]
    r.sadd(keys.ROOMS, room)
    r.set(keys.snapshot(room), orjson.dumps({"room": room, "metrics": {"as_of": T0 + 3600, "started": T0,
                                                                          "ended": None, "session": "s"}}))
    r.set(keys.products(room), orjson.dumps(rows))

    def add(*events):
        for e in events:
            r.xadd(keys.events(room), {"e": orjson.dumps({"room": room, **e})})
    add(ev("session_start", 0), ev("product_off", 100, sku="a"), ev("product_off", 200, sku="b"),
        *[ev("comment", 300 + i, text="求返场保温杯") for i in range(30)])
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.NOTICE_CHANNEL)
    each_room(r, rerun.run_room)
    got = orjson.loads(r.get(keys.recommendations(room)))
    assert skus(got) == ["a", "b"] and got[0]["figures"]["asks"] == 30
    notice = wait_until(lambda: pubsub.get_message(timeout=0.1), what="the insight notice")
    body = orjson.loads(notice["data"])
    assert body["kind"] == "insight" and body["room"] == room and skus(body["recommendations"]) == ["a", "b"]

    each_room(r, rerun.run_room)   # nothing new: the same counts, not double
    assert orjson.loads(r.get(keys.recommendations(room)))[0]["figures"]["asks"] == 30
    add(ev("comment", 400, text="防晒衣还有吗"))
    each_room(r, rerun.run_room)
    got = {x["sku"]: x for x in orjson.loads(r.get(keys.recommendations(room)))}
    assert got["a"]["figures"]["asks"] == 30 and got["b"]["figures"]["asks"] == 1
    pubsub.close()
    r.close()


def test_the_scheduled_jobs_each_read_streams_their_own_way(redis_url):
    """The risk job reads every event as raw replies; the re-run job, on the scheduler's other client, must
    still get its comments (a raw reply on a shared client once broke it)."""
    from engine.runner import Engine
    from feeds.ingest import ingest_sync
    from insights import jobs
    r = redis.Redis.from_url(redis_url)
    room, now = "rr-sched", time.time()

    def e(i, type_, **f):
        return {"id": f"rr-sched-{i}", "room": room, "ts": now - 100 + i, "type": type_, **f}
    events = [e(0, "session_start"), e(1, "product_on", sku="a", name="爆款保温杯", price=59.0, stock=100),
              e(2, "enter", user="u1", source="recommend"), e(3, "product_click", user="u1", sku="a"),
              e(4, "product_off", sku="a")]
    events += [e(10 + i, "comment", user="u1", text="求返场保温杯") for i in range(5)]
    assert ingest_sync(r, events)["accepted"] == len(events)
    engine = Engine(redis.Redis.from_url(redis_url))
    engine.step()
    engine.publish()
    sched = jobs.build(redis_url, 1.0)
    by_id = {job.id: job for job in sched.get_jobs()}
    for name in ("risk", "rerun"):
        by_id[name].func(*by_id[name].args)
    got = orjson.loads(r.get(keys.recommendations(room)))
    assert [x["sku"] for x in got] == ["a"] and got[0]["figures"]["asks"] == 5
