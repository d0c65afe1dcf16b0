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


# ---- poison input (issue #12): limits, nesting, bytes, sizes --------------------------------------------------

def pay(i, room, amount, **fields):
    return ev(i, room=room, type="pay", user="u1", sku="s", order_id=f"o{i}", amount=amount, **fields)


def nested(levels: int):
    """A value that makes an event `levels` deep (the event object itself is level 1)."""
    value = 0
    for _ in range(levels - 1):
        value = [value]
    return value


def test_limits_are_checked_as_sent(system):
    room = "limits"
    batch = [
        pay(100, room, 1e307),                                 # finite and >= 0, but no sum survives it
        pay(101, room, 100_000_000.001),                       # beyond the limit before rounding
        pay(102, room, 100_000_000),                           # the limit itself
        pay(103, room, 5, qty=100_001),
        pay(104, room, 5, qty=100_000),
        ev(105, room=room, type="like", count=1_000_001),
        ev(106, room=room, type="like", count=1_000_000),
        ev(107, room=room, type="stock", sku="s", stock=1_000_000_001),
        ev(108, room=room, type="product_on", sku="s", price=1e8 + 1),
        ev(109, room=room, type="ad_spend", campaign="c", amount=1, impressions=10 ** 12 + 1),
        ev(110, room=room, type="ad_spend", campaign="c", amount=1, clicks=10 ** 12, impressions=10 ** 12),
        ev(111, room=room, type="product_on", sku="s", cost=2e8),
        ev(112, room=room, type="refund", order_id="o102", amount=1e9),
    ]
    out = system.post(batch)
    bad = {r["index"]: r["error"] for r in out["rejected"]}
    assert set(bad) == {0, 1, 3, 5, 7, 8, 9, 11, 12} and out["accepted"] == 4
    for i, field in [(0, "amount"), (1, "amount"), (3, "qty"), (5, "count"), (7, "stock"), (8, "price"),
                     (9, "impressions"), (11, "cost"), (12, "amount")]:
        assert field in bad[i] and "<=" in bad[i], bad[i]
    m = system.metrics_when(room, lambda m: m["paid_orders"] == 2)
    assert m["gmv"] == 100_000_005 and m["units"] == 100_001 and m["likes"] == 1_000_000
    assert m["ad_spend"] == 1


def test_deep_events_and_bad_bytes_are_rejected_alone(system):
    room = "deep"
    events = [ev(200, room=room), ev(201, room=room, x=nested(16)), ev(202, room=room, x=nested(17)),
              ev(203, room=room), pay(204, room, 3.5)]
    body = b"[" + b",".join(orjson.dumps(e) if i != 3 else _deep_text(e, 5000) for i, e in enumerate(events)) + b"]"
    resp = system.http.post("/api/events", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["accepted"] == 3 and [r["index"] for r in out["rejected"]] == [2, 3]
    assert all("nested deeper than 16" in r["error"] for r in out["rejected"])
    # NDJSON: a line nested 5,000 deep, a line with invalid UTF-8, a line cut short, among good ones
    lines = [orjson.dumps(ev(210, room=room, type="leave")),
             _deep_text(ev(211, room=room), 5000),
             orjson.dumps(ev(212, room=room, type="comment", text="OK")).replace(b'"OK"', b'"O\xffK"'),
             orjson.dumps(pay(213, room, 1.25)),
             b"",
             orjson.dumps(ev(214, room=room, type="enter", user="u2"))[:-9],
             orjson.dumps(ev(215, room=room, type="enter", user="\u732b\U0001f431"))]
    resp = system.http.post("/api/events", content=b"\n".join(lines), headers={"Content-Type": "application/x-ndjson"})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    bad = {r["index"]: r["error"] for r in out["rejected"]}
    assert out["accepted"] == 3 and set(bad) == {1, 2, 4}   # indexes count non-blank lines
    assert "nested" in bad[1] and "UTF-8" in bad[2] and "malformed JSON" in bad[4]
    m = system.metrics_when(room, lambda m: m["paid_orders"] == 2)
    assert m["gmv"] == 4.75 and m["viewers"] == 2 and m["online"] == 1
    assert stored_ids(system, room) == ["ing-200", "ing-201", "ing-204", "ing-210", "ing-213", "ing-215"]


def _deep_text(event: dict, levels: int) -> bytes:
    """The event with an extra field `levels` deep, written directly (json.dumps recurses too)."""
    return orjson.dumps(event)[:-1] + b',"x":' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


def test_bodies_that_are_not_json_get_400(system):
    good = orjson.dumps(ev(300, room="notjson"))
    for body in [b"[" + good + b',{"id":"\xff"}]',           # not UTF-8
                 b"[" * 1200 + b"]" * 1200,                    # nested 1,200 deep: no event in it
                 b'{"a":' * 1200 + b"1" + b"}" * 1200,         # ...and not an array
                 b"[" + good + b",{oops}]",                    # one element is not JSON
                 b"[" + good + b",]",
                 b"[" + good + b"] []"]:
        resp = system.http.post("/api/events", content=body, headers={"Content-Type": "application/json"})
        assert resp.status_code == 400 and resp.json()["error"], (body[:40], resp.text)
    assert stored_ids(system, "notjson") == []


def _peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def test_too_many_events_get_413_at_once(system):
    pid = system.part.proc.pid   # the web server runs in app.py's own process
    before = _peak_rss_kb(pid)
    zeros = b"[" + b"0," * (4 * 1024 * 1024 - 2) + b"0]"   # 8 MiB less 2 bytes: 4.19 M "events"
    began = time.monotonic()
    resp = system.http.post("/api/events", content=zeros, headers={"Content-Type": "application/json"})
    took = time.monotonic() - began
    assert resp.status_code == 413 and "10000" in resp.json()["error"] and len(resp.content) < 200
    grown_mb = (_peak_rss_kb(pid) - before) / 1024
    print(f"8 MiB of [0,0,...]: {took:.2f} s, peak RSS of the web process +{grown_mb:.0f} MB")
    assert grown_mb < 150   # it was +1,700 MB (and 12 s) when every element was judged
    lines = [orjson.dumps(ev(400 + i, room="many")) for i in range(10_001)]
    resp = system.http.post("/api/events", content=b"\n".join(lines), headers={"Content-Type": "application/x-ndjson"})
    assert resp.status_code == 413 and "10000" in resp.json()["error"]
    resp = system.http.post("/api/events", content=b"[" + b",".join(lines) + b"]",
                            headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert stored_ids(system, "many") == []
    # 10,000 events with blank lines between them are not too many
    resp = system.http.post("/api/events", content=b"\n\n \n".join(lines[:10_000]),
                            headers={"Content-Type": "application/x-ndjson"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 10_000
