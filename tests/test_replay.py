"""Replay: NDJSON and CSV give back the events exactly; the Taobao UserBehavior mapping; the command end to end."""
from __future__ import annotations

import collections
import csv
import time
from pathlib import Path

import orjson
import pytest

from feeds import replay
from feeds.replay import item_price, read_events
from feeds.schema import judge
from feeds.simulator import simulate_session
from tests.conftest import free_port
from tests.test_publisher import serving, stored

START = float(int(time.time()) - 3600)
TAOBAO = Path("/work/shared/data/taobao_userbehavior_sample/UserBehavior.csv")
T0 = 1511658000


@pytest.fixture(scope="module")
def events():
    return simulate_session("kuaishou-08", 3, 300, START)


def write_ndjson(path: Path, events) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def write_csv(path: Path, events) -> Path:
    fields = list(dict.fromkeys(k for e in events for k in e))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(events)
    return path


def test_ndjson_and_csv_give_back_identical_events(tmp_path, events):
    nd = write_ndjson(tmp_path / "session.ndjson", events)
    assert list(read_events(nd)) == events
    plain = write_ndjson(tmp_path / "session.txt", events)
    assert replay.detect_format(plain) == "ndjson" and list(read_events(plain)) == events
    table = write_csv(tmp_path / "session.csv", events)
    assert replay.detect_format(table) == "csv"
    assert list(read_events(table)) == events


def test_csv_cells_are_typed_and_empty_cells_absent(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("id,room,ts,type,user,sku,qty,amount,order_id,text\n"
                    f"a1,r,{T0}.5,pay,007,s1,2,19.9,o1,\n"
                    f"a2,r,{T0},comment,8,,,,,\"12,多少钱\"\n"
                    f"a3,r,{T0},like,8,,2.5,,,\n", encoding="utf-8")
    assert list(read_events(path)) == [
        {"id": "a1", "room": "r", "ts": T0 + 0.5, "type": "pay", "user": "007", "sku": "s1", "qty": 2,
         "amount": 19.9, "order_id": "o1"},
        {"id": "a2", "room": "r", "ts": float(T0), "type": "comment", "user": "8", "text": "12,多少钱"},
        # a cell that is not of its type stays text, for the server to reject with a reason
        {"id": "a3", "room": "r", "ts": float(T0), "type": "like", "user": "8", "qty": "2.5"},
    ]


def test_csv_audience_fields(tmp_path):
    path = tmp_path / "aud.csv"
    path.write_text("id,room,ts,type,user,source,channel,fan,visit,age\n"
                    f"b1,r,{T0},enter,u,paid,suixintui,TRUE,returning,50+\n"
                    f"b2,r,{T0},enter,v,,,false,,\n"
                    f"b3,r,{T0},enter,w,,,yes,,\n", encoding="utf-8")
    assert list(read_events(path)) == [
        {"id": "b1", "room": "r", "ts": float(T0), "type": "enter", "user": "u", "source": "paid",
         "channel": "suixintui", "fan": True, "visit": "returning", "age": "50+"},
        {"id": "b2", "room": "r", "ts": float(T0), "type": "enter", "user": "v", "fan": False},
        {"id": "b3", "room": "r", "ts": float(T0), "type": "enter", "user": "w", "fan": "yes"},   # rejected later
    ]


def test_room_and_platform_can_be_replaced(tmp_path, events):
    out = list(read_events(write_ndjson(tmp_path / "s.ndjson", events), room="elsewhere", platform="wechat"))
    assert {(e["room"], e["platform"]) for e in out} == {("elsewhere", "wechat")}
    assert [e["id"] for e in out] == [e["id"] for e in events]


SAMPLE = f"""\
1,100,10,pv,{T0}
2,200,20,pv,{T0 + 3}
1,100,10,cart,{T0 + 5}
1,100,10,buy,{T0 + 20}
2,300,20,fav,{T0 + 30}
3,300,20,buy,{T0 + 400}
"""


def test_taobao_mapping(tmp_path):
    path = tmp_path / "UserBehavior.csv"
    path.write_text(SAMPLE)
    assert replay.detect_format(path) == "taobao"
    out = list(read_events(path))
    got = [(e["type"], e.get("user"), e.get("sku"), e["ts"] - T0) for e in out]
    leave1 = [e["ts"] - T0 for e in out if e["type"] == "leave" and e["user"] == "1"][0]
    leave2 = [e["ts"] - T0 for e in out if e["type"] == "leave" and e["user"] == "2"][0]
    assert 23 <= leave1 <= 140 and 33 <= leave2 <= 150
    expected = [
        ("session_start", None, None, 0), ("enter", "1", None, 0), ("product_view", "1", "100", 0),
        ("product_click", "1", "100", 0), ("enter", "2", None, 3), ("product_view", "2", "200", 3),
        ("product_click", "2", "200", 3), ("cart_add", "1", "100", 5), ("order", "1", "100", 20),
        ("pay", "1", "100", 20), ("like", "2", "300", 30),
        ("leave", "1", None, leave1), ("leave", "2", None, leave2),
        ("enter", "3", None, 400), ("order", "3", "300", 400), ("pay", "3", "300", 400),
    ]
    assert got[:len(expected)] == sorted(expected, key=lambda g: (g[3], expected.index(g)))
    assert [g[0] for g in got[len(expected):]] == ["leave", "session_end"]
    assert out[-1]["ts"] == out[-2]["ts"] > T0 + 400

    assert {e["room"] for e in out} == {"taobao-replay"} and {e["platform"] for e in out} == {"taobao"}
    enters = [e for e in out if e["type"] == "enter"]
    assert {e["source"] for e in enters} == {"recommend"}
    pays = [e for e in out if e["type"] == "pay"]
    assert [p["amount"] for p in pays] == [item_price("100"), item_price("300")]
    assert all(9.9 <= p["amount"] <= 398.9 and p["qty"] == 1 for p in pays)
    assert {e["order_id"] for e in out if e["type"] == "order"} == {p["order_id"] for p in pays}
    for e in out:
        judge(e, now=T0)
    assert len({e["id"] for e in out}) == len(out)
    assert list(read_events(path)) == out   # deterministic: a re-run is deduplicated

    other = tmp_path / "other.csv"
    other.write_text(SAMPLE.replace(f"{T0}\n", f"{T0 + 1}\n", 1))
    assert not {e["id"] for e in read_events(other)} & {e["id"] for e in out}


def test_shift_to_now_and_pacing(tmp_path):
    path = tmp_path / "UserBehavior.csv"
    path.write_text(SAMPLE)
    now = time.time()
    original = list(read_events(path))
    shifted = list(replay.shift_to(original, now))
    assert shifted[0]["ts"] == round(now, 3)
    assert all(abs((s["ts"] - shifted[0]["ts"]) - (o["ts"] - T0)) < 0.002 for s, o in zip(shifted, original))
    assert replay.parse_speed("max") == 0 and replay.parse_speed("10") == 10
    first_three = [{"ts": T0}, {"ts": T0 + 0.1}, {"ts": T0 + 0.2}]
    started = time.monotonic()
    assert list(replay.paced(first_three, speed=2)) == first_three
    assert time.monotonic() - started >= 0.1   # 0.2 s of event time at twice real time


@pytest.mark.skipif(not TAOBAO.exists(), reason="the Taobao UserBehavior sample is not on this machine")
def test_taobao_sample_file():
    rows = list(csv.reader(open(TAOBAO)))
    behaviors = collections.Counter(r[3] for r in rows)
    out = list(read_events(TAOBAO))
    types = collections.Counter(e["type"] for e in out)
    assert types["pay"] == types["order"] == behaviors["buy"]
    assert types["product_click"] == types["product_view"] == behaviors["pv"]
    assert types["cart_add"] == behaviors["cart"] and types["like"] == behaviors["fav"]
    assert types["enter"] == types["leave"] == len({r[0] for r in rows})
    assert (types["session_start"], types["session_end"]) == (1, 1)
    ts = [e["ts"] for e in out]
    assert ts == sorted(ts)
    assert len({e["id"] for e in out}) == len(out)
    now = time.time()
    for e in replay.shift_to(out[::20], now):
        judge(e, now=now)


def test_replay_command_end_to_end(tmp_path, events, redis_url, capsys):
    path = write_csv(tmp_path / "session.csv", events)
    with serving(redis_url, free_port(), token="t") as url:
        assert replay.main([str(path), "--url", url, "--token", "t", "--speed", "max"]) == 0
        assert f"{len(events)} accepted, 0 duplicates, 0 rejected" in capsys.readouterr().out
        assert replay.main([str(path), "--url", url, "--token", "t", "--speed", "0", "--limit", "100"]) == 0
        assert "0 accepted, 100 duplicates" in capsys.readouterr().out
        assert replay.main([str(path), "--url", url, "--token", "t", "--speed", "max", "--id-prefix", "again-",
                            "--room", "kuaishou-09"]) == 0
        assert f"{len(events)} accepted" in capsys.readouterr().out
        assert replay.main([str(path), "--url", url, "--speed", "max"]) == 1
        assert "401" in capsys.readouterr().err
    assert stored(redis_url, "kuaishou-08") == stored(redis_url, "kuaishou-09") == len(events)
