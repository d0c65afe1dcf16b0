"""POST /api/events as CONTRACT section 3 says: per-event judgement, duplicates, token, limits, durability."""
from __future__ import annotations

import time

import httpx
import orjson
import pytest
import redis

from store import keys
from tests.conftest import System, free_port

NOW = time.time()


def ev(i, room="ing", type="enter", **fields):
    base = {"id": f"ing-{i}", "room": room, "ts": NOW, "type": type}
    if type in ("enter", "leave", "impression", "like", "follow", "share") and "user" not in fields:
        base["user"] = "u1"
    return {**base, **fields}


def stored_ids(system: System, room: str) -> list[str]:
    r = redis.Redis.from_url(system.redis_url)
    return [orjson.loads(f[b"e"])["id"] for _id, f in r.xrange(keys.events(room))]


def test_good_events_around_bad_ones_are_all_stored(system):
    batch = [
        ev(1, room="mix"),
        {"id": "bad-type", "room": "mix", "ts": NOW, "type": "teleport", "user": "u"},
        ev(2, room="mix", type="pay", user="u1", sku="s", order_id="o1", amount="12"),   # amount as a string
        ev(3, room="mix", type="like", count=2.0),                                        # 2.0 is not an integer
        ev(4, room="mix", type="like", count=True),                                       # nor is true
        ev(5, room="bad room!"),
        ev(6, room="mix", type="enter", source="tv"),                                     # source outside its list
        ev(7, room="mix", type="enter", platform=None),                                   # null is a wrong type
        ev(8, room="mix", ts=NOW + 11 * 365.25 * 86400),
        ev(9, room="mix", type="comment", text="x" * 501),
        ev(10, room="mix", type="leave"),
        "not an object",
        ev(11, room="mix", type="product_on", sku="s1", extra_field={"kept": True}),
    ]
    out = system.post(batch)
    assert out["accepted"] == 3
    assert out["duplicates"] == 0
    bad = {r["index"]: r["error"] for r in out["rejected"]}
    assert set(bad) == {1, 2, 3, 4, 5, 6, 7, 8, 9, 11}
    assert "type" in bad[1] and "amount" in bad[2] and "count" in bad[3] and "room" in bad[5]
    assert "10 years" in bad[8] and "500" in bad[9] and "object" in bad[11]
    # durable before the reply: already in the log, extra fields kept
    assert stored_ids(system, "mix") == ["ing-1", "ing-10", "ing-11"]
    r = redis.Redis.from_url(system.redis_url)
    last = orjson.loads(r.xrange(keys.events("mix"))[-1][1][b"e"])
    assert last["extra_field"] == {"kept": True}


def test_non_finite_numbers_are_rejected_one_by_one():
    from feeds.ingest import judge_body
    body = (b'[{"id":"n1","room":"r","ts":NaN,"type":"enter","user":"u"},'
            b' {"id":"n2","room":"r","ts":1e999,"type":"enter","user":"u"},'
            b' {"id":"n3","room":"r","ts":%d,"type":"pay","user":"u","sku":"s","order_id":"o","amount":Infinity},'
            b' {"id":"n4","room":"r","ts":%d,"type":"enter","user":"u"}]') % (int(NOW), int(NOW))
    good, rejected = judge_body(body, ndjson=False)
    assert [eid for eid, _room, _raw in good] == ["n4"]
    assert [r["index"] for r in rejected] == [0, 1, 2]
    assert all("finite" in r["error"] for r in rejected)


def test_ndjson_with_a_broken_line(system):
    lines = [orjson.dumps(ev(20, room="nd")), b"{not json", orjson.dumps(ev(21, room="nd", type="leave"))]
    resp = system.http.post("/api/events", content=b"\n".join(lines),
                            headers={"Content-Type": "application/x-ndjson"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 2
    assert body["rejected"][0]["index"] == 1 and "malformed JSON" in body["rejected"][0]["error"]


def test_body_errors(system):
    resp = system.http.post("/api/events", content=b"{oops", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "JSON" in resp.json()["error"]
    resp = system.http.post("/api/events", json={"id": "x"})
    assert resp.status_code == 400 and "array" in resp.json()["error"]
    huge = b"[" + b" " * (9 * 1024 * 1024) + b"]"
    resp = system.http.post("/api/events", content=huge, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and "error" in resp.json()


def test_duplicates_are_counted_once_even_across_rooms(system):
    first = system.post([ev(30, room="dupA"), ev(31, room="dupA", type="leave")])
    assert first == {"accepted": 2, "duplicates": 0, "rejected": []}
    again = system.post([ev(30, room="dupA"), ev(31, room="dupB", type="leave"), ev(30, room="dupA")])
    assert again == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert stored_ids(system, "dupB") == []


def test_a_rejected_id_stays_free(system):
    out = system.post([ev(40, room="free", type="like", count=0)])
    assert out["accepted"] == 0 and out["rejected"]
    assert system.post([ev(40, room="free", type="like", count=1)])["accepted"] == 1


def test_money_is_rounded_half_even_to_the_cent(system):
    pays = [ev(50 + i, room="money", type="pay", user="u", sku="s", order_id=f"o{i}", amount=a)
            for i, a in enumerate([2.675, 0.125, 0.135, 1.005])]
    assert system.post(pays)["accepted"] == 4
    # 2.675 -> 2.68, 0.125 -> 0.12, 0.135 -> 0.14, 1.005 -> 1.00: on the decimal as written
    m = system.metrics_when("money", lambda m: m["paid_orders"] == 4)
    assert m["gmv"] == pytest.approx(3.94, abs=1e-9)


def test_event_over_8_kib_is_rejected(system):
    out = system.post([ev(60, room="big", type="enter", pad="x" * 8200), ev(61, room="big")])
    assert out["accepted"] == 1
    assert "8 KiB" in out["rejected"][0]["error"]


def test_ingest_token(tmp_path):
    from store import embedded
    server = embedded.start(tmp_path / "redis", port=free_port())
    s = System(server.url, free_port(), tmp_path / "app.log", token="s3cret").start()
    try:
        resp = httpx.post(f"{s.url}/api/events", json=[ev(70, room="tok")])
        assert resp.status_code == 401 and "token" in resp.json()["error"]
        resp = httpx.post(f"{s.url}/api/events", json=[ev(70, room="tok")], headers={"Authorization": "Bearer nope"})
        assert resp.status_code == 401
        assert redis.Redis.from_url(server.url).xlen(keys.events("tok")) == 0
        assert s.post([ev(70, room="tok")])["accepted"] == 1
    finally:
        s.stop()
        server.stop()
