"""The connectors inside `python app.py --connectors FILE`: the push route (signed pushes stored through the one
ingest path and shown in the metrics; a bad or replayed signature refused with 401 and nothing stored; only
that route open without credentials), a Qianchuan connector started as its own supervised part with its state
on /healthz and /api/connectors, and a Compass export imported (route and CLI) beside a session's figures."""
from __future__ import annotations

import base64
import subprocess
import sys
import time

import orjson
import pytest
import redis
import yaml

from feeds.connectors.push import signature
from store import embedded, keys
from tests.conftest import ROOT, System, free_port, wait_until
from tests.platforms import Qianchuan

ROOM = "douyin-push"
SECRET = "push-secret-" + "x" * 20


@pytest.fixture(scope="module")
def qc():
    p = Qianchuan(app_id=42, app_secret="qc-app-secret", refresh_token="rt-first", advertiser_id=99).start()
    p.ads = {111: {"kind": "standard"}}
    yield p
    p.stop()


@pytest.fixture(scope="module")
def app(tmp_path_factory, qc):
    d = tmp_path_factory.mktemp("connectors")
    (d / "rt").write_text("rt-first\n")
    (d / "connectors.yaml").write_text(yaml.safe_dump({"connectors": {
        "live": {"kind": "push", "platform": "douyin", "secret_env": "PUSH_TEST_SECRET",
                 "rooms": {ROOM: {"room_id": "7301"}}},
        "qc": {"kind": "qianchuan", "base_url": qc.url + "/", "app_id": 42, "app_secret_env": "QC_TEST_SECRET",
               "refresh_token_file": str(d / "rt"), "advertiser_id": 99, "poll_s": 0.5,
               "rooms": {ROOM: {"campaigns": {"feed": {"ad_id": 111}}}}}}}))
    server = embedded.start(d / "redis", port=free_port())
    r = redis.Redis.from_url(server.url)
    r.hset(keys.CONNECTORS_STATUS, "gone", b'{"kind": "doudian", "ok": false}')   # configured once, no more
    r.close()
    # the ads job stays away (its first run is 1000 s off): the test puts a proposal in the list itself
    s = System(server.url, free_port(), d / "app.log", args=("--connectors", str(d / "connectors.yaml"),
                                                             "--insights-every", "1000"),
               env={"PUSH_TEST_SECRET": SECRET, "QC_TEST_SECRET": "qc-app-secret"}).start()
    s.dir = d
    yield s
    s.stop()
    server.stop()


def push(app, body: dict, secret: str = SECRET, ts: float | None = None, name: str = "live"):
    raw = orjson.dumps(body)
    stamp = str(int(ts if ts is not None else time.time()))
    # a platform's server: no cookie, no bearer token; the signature is the credential
    return app.http.__class__(base_url=app.url).post(
        f"/api/connectors/{name}/push", content=raw,
        headers={"Content-Type": "application/json", "X-Livewall-Timestamp": stamp,
                 "X-Livewall-Signature": signature(secret, stamp, raw)})


def room_events(app) -> list[dict]:
    r = redis.Redis.from_url(app.redis_url)
    try:
        return [orjson.loads(f[b"e"]) for _, f in r.xrange(keys.events(ROOM))]
    finally:
        r.close()


def test_signed_pushes_are_stored_and_counted(app):
    now = time.time()
    app.post([{"id": "p-start", "room": ROOM, "ts": now - 5, "type": "session_start"}])
    body = {"room_id": "7301", "messages": [
        {"msg_id": "m1", "msg_type": "live_comment", "sec_openid": "u1", "content": "<b>好</b>", "timestamp": int(now * 1000)},
        {"msg_id": "m2", "msg_type": "like", "user": "u2", "like_num": 7, "timestamp": now},
        {"msg_id": "m3", "msg_type": "live_fansclub", "user": "u3", "timestamp": now},
        {"msg_id": "m4", "msg_type": "follow", "user": "u4", "timestamp": now},
        {"msg_id": "m5", "msg_type": "gift", "user": "u5", "timestamp": now}]}
    resp = push(app, body)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"accepted": 4, "duplicates": 0, "rejected": [], "ignored": 1}
    again = push(app, body)   # the platform retries: duplicates, nothing counted twice
    assert again.json()["duplicates"] == 4
    m = app.metrics_when(ROOM, lambda m: m["comments"] == 1 and m["likes"] == 7 and m["follows"] == 1
                          and m["fan_club_joins"] == 1)
    assert m["shares"] == 0
    fan = next(e for e in room_events(app) if e["id"] == "push:live:m3")
    assert fan["type"] == "fan_club_join" and fan["raw_kind"] == "fansclub"


def test_bad_signatures_are_refused_and_nothing_is_stored(app):
    before = len(room_events(app))
    body = {"room_id": "7301", "messages": [{"msg_id": "bad1", "msg_type": "comment", "user": "x", "content": "hi"}]}
    for resp in (push(app, body, secret="wrong"),                          # wrong secret
                 push(app, body, ts=time.time() - 3600),                   # a replay from an hour ago
                 app.http.__class__(base_url=app.url).post(               # no signature at all
                     "/api/connectors/live/push", json=body)):
        assert resp.status_code == 401 and "error" in resp.json(), resp.text
    tampered = orjson.dumps(body)
    stamp = str(int(time.time()))
    sig = signature(SECRET, stamp, tampered)
    resp = app.http.__class__(base_url=app.url).post(
        "/api/connectors/live/push", content=tampered.replace(b"hi", b"ho"),
        headers={"Content-Type": "application/json", "X-Livewall-Timestamp": stamp, "X-Livewall-Signature": sig})
    assert resp.status_code == 401
    assert len(room_events(app)) == before
    assert push(app, body, name="nosuch").status_code == 404
    assert push(app, {"room_id": "9999", "messages": []}).status_code == 404
    # only the push route is open: the rest of /api/connectors needs credentials
    anon = app.http.__class__(base_url=app.url)
    assert anon.get("/api/connectors").status_code == 401
    assert anon.get("/api/connectors/live/push").status_code in (401, 405)


def test_qianchuan_part_reports_on_healthz(app, qc):
    qc.grow(111, 4321, show=10, click=1)
    wait_until(lambda: any(e["type"] == "ad_spend" for e in room_events(app)), timeout=20, what="ad_spend event")
    health = wait_until(lambda: (h := app.http.get("/healthz").json()).get("connectors", {}).get("qc", {})
                        .get("ok") and h, timeout=10, what="connector status on /healthz")
    assert health["parts"]["connector:qc"]["up"] and "gone" not in health["connectors"]
    status = health["connectors"]["qc"]
    assert status["kind"] == "qianchuan" and status["errors"] == 0 and status["next_poll"] > status["last_success"]
    assert app.get("/api/connectors")["connectors"]["qc"]["ok"]
    m = app.metrics_when(ROOM, lambda m: m["ad_spend"] == 43.21)
    assert m["ad_spend"] == 43.21
    assert "qc-app-secret" not in (app.dir / "app.log").read_text()


CSV = ("直播间成交金额,累计观看人数,最高在线人数,人均观看时长,商品点击率,评论次数,点赞次数,某个新指标\n"
       "\"¥1,234.50\",1.2万,35,1分30秒,12.5%,3,7,9\n")


def test_compass_import_beside_the_session(app):
    session = app.get(f"/api/rooms/{ROOM}/sessions")["sessions"][0]["session"]
    resp = app.http.post(f"/api/sessions/{session}/compass", json={
        "filename": "罗盘.csv", "content_base64": base64.b64encode(CSV.encode()).decode()})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    rows = {row["metric"]: row for row in out["rows"]}
    assert rows["gmv"]["platform"] == 1234.5 and rows["viewers"]["platform"] == 12000
    assert rows["avg_dwell_s"]["platform"] == 90 and rows["ctr"]["platform"] == pytest.approx(0.125)
    assert rows["comments"]["livewall"] == 1 and rows["comments"]["difference"] == -2
    assert rows["viewers"]["why_en"] and out["imported"]["ignored"] == ["某个新指标"]
    assert out["imported"]["by"] == "admin"
    assert app.get(f"/api/sessions/{session}/compass")["rows"] == out["rows"]
    bad = app.http.post(f"/api/sessions/{session}/compass", json={"filename": "x.csv", "content_base64": "!!"})
    assert bad.status_code == 400
    viewer = app.add_user("vi", "viewer", rooms="elsewhere")
    assert viewer.get(f"/api/sessions/{session}/compass").status_code == 403
    mine = app.add_user("vi2", "assistant", rooms=ROOM)
    assert mine.get(f"/api/sessions/{session}/compass").status_code == 200
    assert mine.post(f"/api/sessions/{session}/compass", json={"filename": "x.csv", "content_base64": "eA=="}
                     ).status_code == 403, "importing is for managers"
    anon = app.http.__class__(base_url=app.url)
    assert anon.get("/api/sessions/nope/compass").status_code == 401
    assert app.http.get("/api/sessions/nope/compass").status_code == 404
    # the command line does the same
    (app.dir / "two.csv").write_text("指标,数值\n最高在线人数,40\n退款金额,¥0\n")
    done = subprocess.run([sys.executable, "-m", "feeds.connectors.compass", str(app.dir / "two.csv"),
                           "--session", session, "--redis-url", app.redis_url], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = {row["metric"]: row for row in app.get(f"/api/sessions/{session}/compass")["rows"]}
    assert rows["peak_online"]["platform"] == 40 and set(rows) == {"peak_online", "refund_amount"}


def test_the_managers_page_shows_the_connectors(app, browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    try:
        app.sign_in(page)
        page.goto(f"{app.url}/manager?lang=en")
        row = page.locator('.lw-m-connectors [data-connector="qc"]')
        row.wait_for(timeout=20000)
        assert "qianchuan" in row.inner_text() and "OK" in row.inner_text()
        import os
        if os.environ.get("LIVEWALL_SHOTS"):
            page.locator(".lw-m-connectors").screenshot(path=os.path.join(os.environ["LIVEWALL_SHOTS"],
                                                                          "manager-connectors.png"))
            page.screenshot(path=os.path.join(os.environ["LIVEWALL_SHOTS"], "manager-with-connectors.png"))
        viewer = ctx.browser.new_context()
        vpage = viewer.new_page()
        app.add_user("vw", "viewer")
        vpage.context.add_cookies([{"name": "lw_session", "value": app.add_user("vw", "viewer").cookies["lw_session"],
                                    "url": app.url}])
        vpage.goto(f"{app.url}/manager?lang=en")
        vpage.locator(".lw-m-main").wait_for(timeout=20000)
        assert vpage.locator(".lw-m-connectors").is_hidden()
        viewer.close()
    finally:
        ctx.close()


def test_an_approved_suggestion_reaches_qianchuan(app, qc):
    app.metrics_when(ROOM, lambda m: True)
    sid = f"{ROOM}~e2e1"
    r = redis.Redis.from_url(app.redis_url)
    try:
        r.set(keys.suggestions(ROOM), orjson.dumps([{
            "id": sid, "room": ROOM, "campaign": "feed", "action": "raise_budget", "new_budget": 750.0,
            "reason": {"zh": "测试", "en": "test"}, "confidence": 0.9, "state": "proposed", "figures": {}}]))
    finally:
        r.close()
    resp = app.http.post(f"/api/suggestions/{sid}/approve", json={})
    assert resp.status_code == 200, resp.text
    wait_until(lambda: qc.ads[111].get("budget") == 18000.0, timeout=20, what="the budget on the platform")
    trail = wait_until(lambda: [e for e in app.get("/api/audit", params={"room": ROOM})["audit"]
                                if e["kind"] == "platform_applied"], timeout=10, what="the audit entry")
    assert trail[0]["suggestion"] == sid and trail[0]["approved_by"] == "admin" and trail[0]["by"] == "connector:qc"
