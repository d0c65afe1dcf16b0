"""The Qianchuan connector against a local stand-in of the Open API (tests/platforms.py): a normal day of live
reports into ad_spend events, the token refreshed before expiry and on the expired code, rate limiting and
backoff, approved changes carried to the platform (standard and 全域 ads, a learning ad left alone), and the
connector killed (SIGKILL) again and again while spend grows: no spend lost, none counted twice."""
from __future__ import annotations

import random
import threading
import time

import orjson
import pytest
import redis
import yaml

from tests.conftest import Part, wait_until
from feeds.connectors import base, config
from feeds.connectors.qianchuan import Connector
from insights.adapter import SimulatedAdapter
from tests.platforms import Qianchuan
from store import keys

ADV = 1700000000001
ROOM = "douyin-qc"


@pytest.fixture
def platform():
    p = Qianchuan(app_id=42, app_secret="qc-app-secret", refresh_token="rt-first", advertiser_id=ADV).start()
    p.ads = {111: {"kind": "standard"}, 222: {"kind": "uni"}, 333: {"kind": "standard"}}
    yield p
    p.stop()


def write_config(tmp_path, platform, **extra) -> tuple:
    (tmp_path / "rt").write_text("rt-first\n")
    doc = {"connectors": {"qc": {
        "kind": "qianchuan", "base_url": platform.url + "/", "app_id": 42, "app_secret_env": "QC_TEST_SECRET",
        "refresh_token_file": str(tmp_path / "rt"), "advertiser_id": ADV, "poll_s": 0.2, "control_s": 0.1,
        "rooms": {ROOM: {"campaigns": {"feed": {"ad_id": 111}, "uni": {"ad_id": 222, "kind": "uni"},
                                      "new": {"ad_id": 333}}}}, **extra}}}
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def secret_env(monkeypatch):
    monkeypatch.setenv("QC_TEST_SECRET", "qc-app-secret")


def spend_events(r) -> list[dict]:
    return [orjson.loads(f[b"e"]) for _, f in r.xrange(keys.events(ROOM))]


def connector(r, tmp_path, platform) -> Connector:
    return Connector(r, config.load(write_config(tmp_path, platform))["qc"])


def test_a_normal_day_of_reports_becomes_ad_spend_events(r, tmp_path, platform):
    c = connector(r, tmp_path, platform)
    platform.grow(111, 1234, show=1000, click=40, gmv=88.0)
    c.step()
    assert platform.refreshes == 1 and platform.paths()[0] == "/oauth2/refresh_token/"
    platform.grow(111, 766, show=500, click=10)
    platform.grow(222, 5000, show=10)   # a 全域 ad's report rows are read like any other
    c.next_report = 0
    c.step()
    c.next_report = 0
    c.step()                            # nothing grew: no event
    events = spend_events(r)
    feed = [e for e in events if e["campaign"] == "feed"]
    assert [e["amount"] for e in feed] == [12.34, 7.66]
    assert [e["impressions"] for e in feed] == [1000, 500] and [e["clicks"] for e in feed] == [40, 10]
    assert feed[0]["id"].endswith(":0") and feed[1]["id"].endswith(":1234")
    assert all(e["type"] == "ad_spend" and e["room"] == ROOM for e in events)
    assert sum(e["amount"] for e in events) == pytest.approx(20.00 + 50.00)
    # the tokens live in Redis, never the app secret
    stored = orjson.loads(r.get(keys.connector_token("qc")))
    assert stored["refresh_token"] == platform.refresh_token and b"qc-app-secret" not in r.get(keys.connector_token("qc"))


def test_token_refreshed_before_expiry_and_on_the_expired_code(r, tmp_path, platform):
    c = connector(r, tmp_path, platform)
    c.step()
    assert platform.refreshes == 1
    platform.expire()                   # the platform ends the token early: 40102 on the next call
    platform.grow(111, 500)
    c.next_report = 0
    c.step()
    assert platform.refreshes == 2
    assert [e["amount"] for e in spend_events(r)] == [5.0]
    # a token about to expire is refreshed before the call
    c.client.token["expires_at"] = time.time() + 5
    c.next_report = 0
    c.step()
    assert platform.refreshes == 3
    # a restart takes the rotated refresh token from Redis (the one in the file was used up)
    c2 = connector(r, tmp_path, platform)
    c2.client.token["expires_at"] = 0
    c2.step()
    assert platform.refreshes == 4


def test_rate_limited_then_success_after_backoff(r, tmp_path, platform):
    c = connector(r, tmp_path, platform)
    c.step()
    platform.grow(111, 999)
    platform.rate_limited = 2
    c.next_report = 0
    stop = threading.Event()
    t = threading.Thread(target=base.run, args=(c, r, stop), daemon=True)
    t.start()
    try:
        status = wait_until(lambda: (s := base.read_status(r.hgetall(keys.CONNECTORS_STATUS)).get("qc"))
                            and s["ok"] and s["errors_total"] >= 2 and s, timeout=20, what="success after backoff")
    finally:
        stop.set()
        t.join(5)
    assert "40100" in status["last_error"]
    assert [e["amount"] for e in spend_events(r)] == [9.99]
    assert base.wait_after(1, 0.2, 0.3) == 0.3 and base.wait_after(3, 0.2, None) == pytest.approx(0.8)


def audit_entries(r) -> list[dict]:
    return [orjson.loads(f[b"a"]) for _, f in r.xrange(keys.AUDIT)]


def test_approved_changes_reach_the_platform(r, tmp_path, platform):
    c = connector(r, tmp_path, platform)
    sim = SimulatedAdapter(r)
    sim.set_budget(ROOM, "feed", 500, by="lin", suggestion="s1", action="raise_budget")
    sim.set_roi_target(ROOM, "uni", 2.456, by="lin", suggestion="s2", action="raise_roi_target")
    sim.set_budget(ROOM, "uni", 300, by="auto", action="lower_budget")
    sim.set_budget(ROOM, "other", 100)   # a campaign the config does not map: left to the simulator
    c.apply_controls()
    assert platform.ads[111]["budget"] == 12000.0            # ¥500/h × 24 h
    assert platform.ads[222] == {"kind": "uni", "roi_goal": 2.46, "budget": 7200.0}
    sim.pause(ROOM, "feed", by="lin", action="pause")
    c.apply_controls()
    assert platform.ads[111]["status"] == "DISABLE"
    sim.set_budget(ROOM, "feed", 600, by="lin", action="raise_budget")   # a budget change also resumes
    c.apply_controls()
    assert platform.ads[111]["status"] == "ENABLE" and platform.ads[111]["budget"] == 14400.0
    calls = len(platform.calls)
    c.apply_controls()                                       # nothing new: nothing sent
    assert len(platform.calls) == calls
    # an ad in its learning period is left alone, and the audit log says so
    platform.learning.add(333)
    sim.set_budget(ROOM, "new", 800, by="lin", action="raise_budget")
    c.apply_controls()
    assert "budget" not in platform.ads[333]
    kinds = [(e["kind"], e["campaign"]) for e in audit_entries(r)]
    assert ("platform_learning", "new") in kinds and ("platform_applied", "feed") in kinds
    learning = [e for e in audit_entries(r) if e["kind"] == "platform_learning"][0]
    assert "学习期" in learning["error"] and learning["by"] == "connector:qc" and learning["approved_by"] == "lin"
    # a change under ¥100 a day is refused by the platform's rules: not sent, and said so
    sim.set_budget(ROOM, "feed", 602, by="lin", action="raise_budget")
    c.apply_controls()
    assert platform.ads[111]["budget"] == 14400.0
    assert audit_entries(r)[-1]["kind"] == "platform_refused"


def test_killed_again_and_again_while_spend_grows(r, tmp_path, platform, redis_url):
    """A real connector process, SIGKILLed at random moments: the ad_spend events add up to the platform's
    cumulative spend exactly, and no id repeats."""
    path = write_config(tmp_path, platform)
    env = {"QC_TEST_SECRET": "qc-app-secret"}
    part = Part(["-m", "feeds.connectors", "qc", "--config", str(path), "--redis-url", redis_url], env=env,
                log=tmp_path / "qc.log").start()
    rng = random.Random(7)
    try:
        for _ in range(8):
            platform.grow(111, rng.randint(1, 5000), show=rng.randint(0, 100), click=rng.randint(0, 5))
            platform.grow(222, rng.randint(1, 3000))
            time.sleep(rng.uniform(0.05, 0.6))
            part.kill()
            part.start()
        total = lambda: round(sum(e["amount"] for e in spend_events(r)), 2)  # noqa: E731
        want = round(sum(fig["stat_cost"] for fig in platform.report.values()), 2)
        wait_until(lambda: total() == want, timeout=20, what=f"spend to add up to {want}")
    finally:
        part.stop()
    events = spend_events(r)
    assert len({e["id"] for e in events}) == len(events)
    assert sum(e["impressions"] for e in events if e["campaign"] == "feed") == platform.report[111]["show_cnt"]


def test_a_change_cut_by_a_rate_limit_is_finished_next_round(r, tmp_path, platform):
    c = connector(r, tmp_path, platform)
    c.step()
    sim = SimulatedAdapter(r)
    sim.set_budget(ROOM, "uni", 400, by="lin", action="raise_budget")
    sim.set_roi_target(ROOM, "uni", 3.0, by="lin", action="raise_roi_target")   # one entry, two settings
    platform.rate_limited = 0
    sent_before = len(platform.paths("/v1.0/qianchuan/uni_promotion/ad/budget"))
    # the budget goes through, then the ROI goal meets a rate limit
    original = c.adapter.set_roi_target

    def limited(*a, **k):
        platform.rate_limited = 1
        c.adapter.set_roi_target = original
        return original(*a, **k)
    c.adapter.set_roi_target = limited
    with pytest.raises(Exception) as e:
        c.apply_controls()
    assert getattr(e.value, "code", None) == 40100
    assert audit_entries(r)[-1]["kind"] == "platform_failed"
    c.apply_controls()
    assert platform.ads[222]["roi_goal"] == 3.0 and platform.ads[222]["budget"] == 9600.0
    assert len(platform.paths("/v1.0/qianchuan/uni_promotion/ad/budget")) == sent_before + 1, "budget sent once"
    assert audit_entries(r)[-1]["kind"] == "platform_applied"
