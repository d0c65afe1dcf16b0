"""The 抖店 order poller against a local stand-in of the shop's Open API (tests/platforms.py), which checks every
call's sign with its own implementation: a normal day of created, paid and refunded orders of a live room into
order, pay and refund events; an overlapping window and a second poller over the same orders counted once; a
rate limit then success; the poller killed (SIGKILL) again and again while orders change: nothing lost or
doubled; a wrong secret refused by the platform."""
from __future__ import annotations

import random
import time

import orjson
import pytest
import redis
import yaml

from feeds.connectors import config
from feeds.connectors.base import PlatformError
from feeds.connectors.doudian import Connector, sign, sorted_json
from store import keys
from tests.conftest import Part, wait_until
from tests.platforms import Doudian, doudian_sign

ROOM = "douyin-shop"
LIVE_ID = "7300000000000000001"


@pytest.fixture
def platform():
    p = Doudian(app_key="7000001", app_secret="dd-app-secret", access_token="dd-access").start()
    yield p
    p.stop()


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def secret_env(monkeypatch):
    monkeypatch.setenv("DD_TEST_SECRET", "dd-app-secret")
    monkeypatch.setenv("DD_TEST_TOKEN", "dd-access")


def write_config(tmp_path, platform, sign_method="hmac-sha256", **extra):
    doc = {"connectors": {"shop": {
        "kind": "doudian", "base_url": platform.url, "app_key": "7000001", "app_secret_env": "DD_TEST_SECRET",
        "access_token_env": "DD_TEST_TOKEN", "sign_method": sign_method, "poll_s": 0.2, "overlap_s": 60,
        "start_lookback_s": 3600, "rooms": {ROOM: {"room_id": LIVE_ID}}, **extra}}}
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def order(n: int, t: float, paid: bool = False, refunded: bool = False, room_id: str = LIVE_ID) -> dict:
    line = {"order_id": f"L{n}", "sku_id": f"sku-{n % 3}", "product_name": f"商品{n % 3}", "item_num": 1 + n % 2,
            "order_amount": 1990 + n, "pay_amount": 1990 + n, "room_id": room_id}
    if refunded:
        line["after_sale_info"] = {"refund_status": 3, "refund_amount": 1000}
    return {"order_id": f"S{n}", "create_time": int(t), "pay_time": int(t) + 5 if paid else 0,
            "update_time": int(t) + (9 if refunded else 5 if paid else 0), "doudian_open_id": f"buyer{n}",
            "order_status": 2 if paid else 1, "sku_order_list": [line]}


def stored(r) -> list[dict]:
    return [orjson.loads(f[b"e"]) for _, f in r.xrange(keys.events(ROOM))]


def test_sign_matches_the_platforms_rule():
    pj = sorted_json({"b": 1, "a": {"z": 1, "y": "中"}})
    assert pj == '{"a":{"y":"中","z":1},"b":1}'
    for method in ("md5", "hmac-sha256"):
        assert sign("k", "s", "order.searchList", pj, "1700000000", "2", method) == \
            doudian_sign("k", "s", "order.searchList", pj, "1700000000", "2", method)


@pytest.mark.parametrize("sign_method", ["hmac-sha256", "md5"])
def test_a_normal_day_of_orders(r, tmp_path, platform, sign_method):
    now = time.time()
    platform.put(order(1, now - 600))                          # created, not paid
    platform.put(order(2, now - 500, paid=True))
    platform.put(order(3, now - 400, paid=True, refunded=True))
    platform.put(order(4, now - 300, paid=True, room_id="another-live"))   # not our live room
    c = Connector(r, config.load(write_config(tmp_path, platform, sign_method))["shop"])
    c.step()
    assert platform.bad_signs == 0
    ids = sorted(e["id"] for e in stored(r))
    assert ids == ["dd:L1:order", "dd:L2:order", "dd:L2:pay", "dd:L3:order", "dd:L3:pay", "dd:L3:refund"]
    pay = next(e for e in stored(r) if e["id"] == "dd:L2:pay")
    assert pay["amount"] == 19.92 and pay["qty"] == 1 and pay["user"] == "buyer2" and pay["sku"] == "sku-2"
    assert next(e for e in stored(r) if e["type"] == "refund")["amount"] == 10.0
    # order 1 is paid later: the next poll (its window overlapping the last) adds only the pay
    platform.put(order(1, now - 600, paid=True) | {"update_time": int(now)})
    c.step()
    c.step()
    assert sorted(e["id"] for e in stored(r)) == sorted(ids + ["dd:L1:pay"])
    # a second poller over the same orders from scratch stores nothing new: the ids are the idempotency keys
    r.delete(keys.connector_cursor("shop"))
    Connector(r, config.load(write_config(tmp_path, platform, sign_method))["shop"]).step()
    assert len(stored(r)) == 7


def test_rate_limited_then_success(r, tmp_path, platform):
    platform.put(order(1, time.time() - 60, paid=True))
    c = Connector(r, config.load(write_config(tmp_path, platform))["shop"])
    platform.rate_limited = 1
    with pytest.raises(PlatformError) as e:
        c.step()
    assert e.value.code == 50002 and e.value.retry_after >= 1.0
    assert stored(r) == []
    c.step()
    assert len(stored(r)) == 2


def test_a_wrong_secret_is_refused_by_the_platform(r, tmp_path, platform, monkeypatch):
    monkeypatch.setenv("DD_TEST_SECRET", "not-the-secret")
    c = Connector(r, config.load(write_config(tmp_path, platform))["shop"])
    with pytest.raises(PlatformError) as e:
        c.step()
    assert e.value.code == 40003 and platform.bad_signs == 1


def test_killed_again_and_again_while_orders_change(r, tmp_path, platform, redis_url):
    path = write_config(tmp_path, platform)
    part = Part(["-m", "feeds.connectors", "shop", "--config", str(path), "--redis-url", redis_url],
                env={"DD_TEST_SECRET": "dd-app-secret", "DD_TEST_TOKEN": "dd-access"},
                log=tmp_path / "shop.log").start()
    rng = random.Random(3)
    expected: set[str] = set()
    try:
        for n in range(1, 121):
            t = time.time() - rng.uniform(0, 30)
            paid, refunded = rng.random() < 0.7, False
            paid_o = order(n, t, paid=paid)
            if paid and rng.random() < 0.2:
                paid_o = order(n, t, paid=True, refunded=True)
                refunded = True
            platform.put(paid_o)
            expected |= {f"dd:L{n}:order"} | ({f"dd:L{n}:pay"} if paid else set()) | \
                ({f"dd:L{n}:refund"} if refunded else set())
            if n % 15 == 0:
                part.kill()
                part.start()
            time.sleep(0.01)
        wait_until(lambda: {e["id"] for e in stored(r)} >= expected, timeout=30, what="every order's events")
    finally:
        part.stop()
    events = stored(r)
    assert len(events) == len({e["id"] for e in events}) == len(expected)
    assert round(sum(e["amount"] for e in events if e["type"] == "pay"), 2) == round(sum(
        (o["sku_order_list"][0]["pay_amount"]) / 100 for o in platform.orders.values() if o["pay_time"]), 2)


def test_the_shop_token_is_refreshed_and_kept(r, tmp_path, platform, monkeypatch):
    platform.refresh_token = "dd-rt-first"
    monkeypatch.setenv("DD_TEST_REFRESH", "dd-rt-first")
    monkeypatch.delenv("DD_TEST_TOKEN")
    path = write_config(tmp_path, platform, refresh_token_env="DD_TEST_REFRESH")
    doc = yaml.safe_load(path.read_text())
    del doc["connectors"]["shop"]["access_token_env"]
    path.write_text(yaml.safe_dump(doc))
    platform.put(order(1, time.time() - 60, paid=True))
    c = Connector(r, config.load(path)["shop"])
    c.step()
    assert platform.refreshes == 1 and len(stored(r)) == 2
    c.step()
    assert platform.refreshes == 1, "a fresh token is used until it nears its expiry"
    # a restart takes the rotated pair from Redis; the first refresh token was used up
    c2 = Connector(r, config.load(path)["shop"])
    c2.source.client.token["expires_at"] = time.time() + 5
    c2.step()
    assert platform.refreshes == 2
    assert orjson.loads(r.get(keys.connector_token("shop")))["refresh_token"] == platform.refresh_token
