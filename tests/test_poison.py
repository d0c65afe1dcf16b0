"""Poison never stops anything (issue #12): an event stored before the limits existed, replayed on every
restart, is set aside once as a dead letter while the engine and the insight jobs go on with the rest."""
from __future__ import annotations

import time

import orjson
import redis

from store import embedded, keys
from tests.conftest import System, free_port, wait_until

ROOM = "poison"
NOW = time.time()


def pay(n: int, amount, t: float = 0.0) -> dict:
    return {"id": f"pz-{n}", "room": ROOM, "ts": NOW + t, "type": "pay", "user": f"u{n}", "sku": "s1",
            "order_id": f"o{n}", "amount": amount}


def dead_letters(s: System, **params) -> dict:
    return s.get("/api/deadletters", params=params)


def test_a_poison_event_in_the_log_is_set_aside_once_and_the_room_goes_on(tmp_path):
    server = embedded.start(tmp_path / "redis", port=free_port())
    s = System(server.url, free_port(), tmp_path / "app.log").start()
    r = redis.Redis.from_url(server.url)
    try:
        enter = {"id": "pz-enter", "room": ROOM, "ts": NOW, "type": "enter", "user": "u1"}
        assert s.post([enter, pay(1, 10.5)])["accepted"] == 2
        # rejected at ingest with a reason...
        out = s.post([pay(2, 1e307)])
        assert out["accepted"] == 0 and "amount" in out["rejected"][0]["error"]
        # ...but stored before the limits existed: straight into the room's log, as ingest then stored it
        poison = pay(3, 1e307, t=1)
        sid = r.xadd(keys.events(ROOM), {"e": orjson.dumps(poison)}).decode()
        r.sadd(keys.IDS, poison["id"])
        assert s.post([pay(4, 2.25, t=2), pay(5, 0.01, t=3)])["accepted"] == 2
        m = s.metrics_when(ROOM, lambda m: m["paid_orders"] == 3)
        assert m["gmv"] == 12.76 and m["units"] == 3 and m["buyers"] == 3

        got = wait_until(lambda: dead_letters(s, room=ROOM)["dead_letters"], what="the dead letter")
        assert len(got) == 1
        d = got[0]
        assert d["room"] == ROOM and d["stream_id"] == sid and "amount" in d["error"]
        assert orjson.loads(d["event"])["amount"] == 1e307 and d["source"] in ("engine", "risk")
        assert s.get("/healthz")["dead_letters"] == 1
        assert dead_letters(s)["total"] == 1 and dead_letters(s, room="elsewhere")["dead_letters"] == []

        def alert():
            alerts = s.get("/api/alerts", params={"room": ROOM})["alerts"]
            return [a for a in alerts if a["rule"] == "dead_letter"]
        a = wait_until(alert, what="the dead_letter alert")[0]
        assert a["severity"] == "warning" and a["audience"] == ["manager"] and a["state"] == "firing"

        # a restart replays the whole log (no checkpoint): the poison is met again, not set aside again
        s.stop()
        r.delete(keys.state(ROOM))
        s = System(server.url, free_port(), tmp_path / "app2.log").start()
        assert s.post([pay(6, 100, t=4)])["accepted"] == 1
        m = s.metrics_when(ROOM, lambda m: m["paid_orders"] == 4)
        assert m["gmv"] == 112.76
        assert s.get("/healthz")["dead_letters"] == 1
        assert len(dead_letters(s, room=ROOM)["dead_letters"]) == 1
        assert len(alert()) == 1
    finally:
        s.stop()
        server.stop()


def test_unreadable_entries_never_stop_the_engine(system):
    """Whatever sits in a log: not JSON, not UTF-8, a wrong type, no payload at all."""
    r = redis.Redis.from_url(system.redis_url)
    room = "junk"
    r.sadd(keys.ROOMS, room)
    stream = keys.events(room)
    junk = [b"{not json", b'{"id":"j1","room":"junk","ts":1,"type":"pay","user":"\xff"}',
            orjson.dumps({"id": "j2", "room": room, "ts": NOW, "type": "like", "user": "u", "count": "many"}),
            orjson.dumps({"id": "j3", "room": room, "ts": NOW, "type": "enter"}), b""]
    ids = [r.xadd(stream, {"e": j}).decode() for j in junk]
    ids.append(r.xadd(stream, {"other": b"field"}).decode())
    good = [{"id": "j4", "room": room, "ts": NOW, "type": "enter", "user": "u1"},
            {"id": "j5", "room": room, "ts": NOW + 1, "type": "like", "user": "u1", "count": 3}]
    assert system.post(good)["accepted"] == 2
    m = system.metrics_when(room, lambda m: m["likes"] == 3)
    assert m["viewers"] == 1 and m["online"] == 1
    got = wait_until(lambda: len(dead_letters(system, room=room)["dead_letters"]) == len(ids) and
                     dead_letters(system, room=room)["dead_letters"], what="every junk entry set aside")
    assert sorted(d["stream_id"] for d in got) == sorted(ids) and all(d["error"] for d in got)
    assert system.get("/healthz")["ok"]
    # newest first, paged by `limit`; a bad parameter is a 400 with a reason
    assert [d["id"] for d in got] == sorted((d["id"] for d in got), key=lambda i: tuple(map(int, i.split("-"))),
                                            reverse=True)
    assert dead_letters(system, room=room, limit=2)["dead_letters"] == got[:2]
    for bad in ({"limit": "0"}, {"limit": "x"}, {"room": "no such/room"}):
        resp = system.http.get("/api/deadletters", params=bad)
        assert resp.status_code == 400 and resp.json()["error"]


def test_a_room_whose_job_run_fails_is_set_aside_and_the_other_rooms_go_on(system):
    from store.keys import ads_state
    r = redis.Redis.from_url(system.redis_url)
    for room in ("a-broken", "b-fine"):   # the broken room comes first in every run
        assert system.post([
            {"id": f"{room}-start", "room": room, "ts": NOW, "type": "session_start"},
            {"id": f"{room}-enter", "room": room, "ts": NOW + 1, "type": "enter", "user": "u1", "source": "paid"},
            {"id": f"{room}-spend", "room": room, "ts": NOW + 2, "type": "ad_spend", "campaign": "c1", "amount": 50},
        ])["accepted"] == 3
    system.metrics_when("a-broken", lambda m: m["ad_spend"] == 50)
    r.set(ads_state("a-broken"), b"{corrupt")   # the ads job's own state of that room, now unreadable
    got = wait_until(lambda: dead_letters(system, room="a-broken")["dead_letters"], timeout=15,
                     what="the failed run set aside")
    assert got[0]["source"] == "ads" and got[0]["stream_id"] is None and got[0]["error"]
    # the other room goes on: runs after the failure (every second) write its state again each time (its
    # suggestion is a snapshot that stays still, so the state is what shows a run)...
    for _ in range(2):
        r.delete(ads_state("b-fine"))
        wait_until(lambda: r.exists(ads_state("b-fine")), timeout=15, what="a later run for the other room")
    # ...while the broken room, failing the same way in each of them, is still one dead letter
    assert len(dead_letters(system, room="a-broken")["dead_letters"]) == 1


def test_a_room_the_risk_job_cannot_evaluate_does_not_silence_the_others(system):
    r = redis.Redis.from_url(system.redis_url)
    r.sadd(keys.ROOMS, "c-junk")
    r.set(keys.snapshot("c-junk"), b'{"metrics": {}}')   # a snapshot no rule can read
    got = wait_until(lambda: [d for d in dead_letters(system, room="c-junk")["dead_letters"]
                              if d["source"] == "risk"], what="the room set aside")
    assert "as_of" in got[0]["error"]
    assert system.post([{"id": "d-ok-1", "room": "d-ok", "ts": time.time(), "type": "comment", "user": "u9",
                         "text": "加 微 信 便宜"}])["accepted"] == 1

    def banned():
        return [a for a in system.get("/api/alerts", params={"room": "d-ok"})["alerts"] if a["rule"] == "banned_words"]
    wait_until(banned, what="the other room's alert")
    # the ads and re-run jobs cannot read it either: each part sets the room aside once, however often it runs
    sources = [d["source"] for d in dead_letters(system, room="c-junk")["dead_letters"]]
    assert sorted(set(sources)) == sorted(sources) and set(sources) <= {"risk", "ads", "rerun"}
    r.delete(keys.snapshot("c-junk"))
