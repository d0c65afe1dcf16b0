"""Who may do what (CONTRACT section 3): every write route and /ws against every role, no credentials, a wrong
token, a tampered session, a bad link cookie and a foreign Origin; what must be refused is refused and changes
nothing. Also: the audit log names the signed-in user, the users CLI against a running app, the one-time
sign-in link, the data dir's modes, and refusing to listen beyond loopback without secrets."""
from __future__ import annotations

import itertools
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest
import redis
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from insights.alerts import Store
from store import keys
from settings import RETRY_AFTER_S
from tests.conftest import ADMIN_PASSWORD, ROOT, Part, System, free_port, sign_in, wait_until

_ids = itertools.count()
A, B, ENDED = "acc-a", "acc-b", "acc-end"
PASSWORD = "a long enough password"


def ev(room: str, type_: str, **fields) -> dict:
    return {"id": f"acc-{room}-{next(_ids)}", "room": room, "ts": fields.pop("ts", time.time()), "type": type_,
            **fields}


def alert(room: str) -> dict:
    now = time.time()
    return {"id": uuid.uuid4().hex[:16], "rule": "test_access", "room": room, "subject": None, "severity": "warning",
            "state": "firing", "started": now, "updated": now, "figures": {}, "title": {"zh": "测试", "en": "test"},
            "message": {"zh": "测试", "en": "test"}, "session": None, "as_of": now, "audience": ["manager"],
            "acknowledged_by": None, "acknowledged_at": None, "resolved_at": None, "count": 1}


@pytest.fixture(scope="module")
def world(system):
    """Two live rooms, an ended one holding a proposal (the ads job leaves an ended session's list alone), a
    firing alert in each live room, and a user of every role (`viewer`, `assistant` of room A only)."""
    system.post([ev(A, "session_start", platform="douyin"), ev(B, "session_start", platform="douyin"),
                 ev(ENDED, "session_start", platform="douyin"), ev(ENDED, "session_end")])
    for room in (A, B):
        system.metrics_when(room, lambda m: True)
    system.metrics_when(ENDED, lambda m: m.get("ended") is not None)
    r = redis.Redis.from_url(system.redis_url)
    session = system.get(f"/api/rooms/{ENDED}/metrics")["session"]
    sug = {"id": f"{ENDED}~acc1", "room": ENDED, "campaign": "c1", "action": "raise_budget", "state": "proposed",
           "reason": "test", "confidence": 0.9, "session": session, "new_budget": 200.0, "step_pct": 20,
           "figures": {}}
    r.set(keys.suggestions(ENDED), orjson.dumps([sug]))
    alerts = {room: alert(room) for room in (A, B)}
    Store(r).save([("fired", a) for a in alerts.values()])
    clients = {"admin": system.http,
               "manager": system.add_user("mgr", "manager", password=PASSWORD),
               "assistant": system.add_user("asst", "assistant", rooms=A, password=PASSWORD),
               "viewer": system.add_user("view", "viewer", rooms=A, password=PASSWORD)}
    yield {"r": r, "sug": sug, "alerts": alerts, "clients": clients}
    for name, c in clients.items():
        if name != "admin":
            c.close()
    r.close()


def stranger(system, **headers) -> httpx.Client:
    return httpx.Client(base_url=system.url, timeout=30, headers=headers)


def bad_callers(system) -> dict[str, httpx.Client]:
    """Callers that must be refused everything: no credentials, a wrong token, a session signed with another
    key (admin's, tampered), a link cookie that is no link, and admin's own session from another site."""
    session = system.session()
    tampered = session[:-4] + ("AAAA" if not session.endswith("AAAA") else "BBBB")
    return {"nobody": stranger(system),
            "wrong token": stranger(system, Authorization="Bearer not-a-token"),
            "tampered session": stranger(system, Cookie=f"lw_session={tampered}"),
            "bad link": stranger(system, Cookie="lw_link=forged.link.value"),
            "foreign origin": stranger(system, Cookie=f"lw_session={session}", Origin="http://127.0.0.1:1"),
            "form post": stranger(system, Cookie=f"lw_session={session}")}


def writes(world) -> dict[str, tuple[str, str, dict]]:
    sug, alerts = world["sug"], world["alerts"]
    return {"approve": ("POST", f"/api/suggestions/{sug['id']}/approve", {"by": "ceo"}),
            "reject": ("POST", f"/api/suggestions/{sug['id']}/reject", {"by": "ceo"}),
            "config": ("PUT", f"/api/rooms/{A}/ads/config", {"auto_apply": True, "max_step_pct": 100, "by": "ceo"}),
            "ack A": ("POST", f"/api/alerts/{alerts[A]['id']}/ack", {"by": "evil"}),
            "ack B": ("POST", f"/api/alerts/{alerts[B]['id']}/ack", {"by": "evil"})}


# Who may do each write: everyone else gets 403 (signed in) or 401/403/415 (bad callers).
MAY = {"approve": {"manager", "admin"}, "reject": {"manager", "admin"}, "config": {"admin"},
       "ack A": {"assistant", "manager", "admin"}, "ack B": {"manager", "admin"}}


def send(client: httpx.Client, method: str, path: str, body: dict, form: bool = False) -> httpx.Response:
    if form:   # what a page on another site can send without asking: a text/plain body shaped like JSON
        return client.request(method, path, content=orjson.dumps(body), headers={"Content-Type": "text/plain"})
    return client.request(method, path, json=body)


def state_of(world, system) -> dict:
    """Everything a write could change: the proposal, both alerts, the ads config, the audit log, the controls."""
    r = world["r"]
    alerts = [orjson.loads(b) for b in r.hmget(keys.ALERTS_BY_ID, [a["id"] for a in world["alerts"].values()])]
    return {"suggestions": r.get(keys.suggestions(ENDED)),
            "alerts": [(a["state"], a["acknowledged_by"]) for a in alerts],
            "config": system.get(f"/api/rooms/{A}/ads/config"),
            "audit": r.xlen("lw:audit"), "controls": r.exists("lw:sim:controls")}


def test_every_write_refused_to_whoever_may_not_and_nothing_changes(system, world):
    before = state_of(world, system)
    bad = bad_callers(system)
    for what, (method, path, body) in writes(world).items():
        for name, client in bad.items():
            resp = send(client, method, path, body, form=name == "form post")
            expected = {"foreign origin": 403, "form post": 415}.get(name, 401)
            assert resp.status_code == expected, f"{what} by {name}: {resp.status_code} {resp.text}"
            assert "error" in resp.json()
        for role, client in world["clients"].items():
            if role in MAY[what]:
                continue
            resp = send(client, method, path, body)
            assert resp.status_code == 403, f"{what} by a {role}: {resp.status_code} {resp.text}"
    assert state_of(world, system) == before, "a refused request changed something"
    for c in bad.values():
        c.close()


def test_credentials_come_before_existence(system, world):
    """An unknown id or room without credentials is 401, not 404; a room the caller may not read is 403."""
    nobody = stranger(system)
    for path in ("/api/rooms/no-such-room/metrics", "/api/sessions/nope/review", "/api/alerts", "/api/rooms",
                 "/api/audit", "/openapi.json", "/api/no/such/endpoint", "/_dash-layout"):
        resp = nobody.get(path)
        assert resp.status_code == 401 and "error" in resp.json(), path
    for path in ("/api/suggestions/nope~1/approve", "/api/alerts/nope/ack"):
        assert nobody.post(path, json={}).status_code == 401, path
    # pages send whoever is not signed in to the sign-in page, and come back after
    for path in ("/wall?room=acc-a", "/manager", "/docs", f"/assistant/{A}"):
        resp = nobody.get(path)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login?next="), path
    assert nobody.get("/healthz").status_code == 200 and nobody.get("/login").status_code == 200
    nobody.close()

    viewer = world["clients"]["viewer"]
    assert [x["room"] for x in viewer.get("/api/rooms").json()["rooms"]] == [A]
    assert viewer.get(f"/api/rooms/{B}/metrics").status_code == 403
    assert viewer.get("/api/rooms/no-such-room/metrics").status_code == 403
    assert viewer.get(f"/api/rooms/{A}/metrics").status_code == 200
    assert {a["room"] for a in viewer.get("/api/alerts").json()["alerts"]} == {A}
    assert viewer.get("/api/audit").status_code == 403
    assert world["clients"]["manager"].get("/api/audit").status_code == 200
    assert {x["room"] for x in system.get("/api/rooms")["rooms"]} >= {A, B, ENDED}


def test_dead_letters_are_for_managers(system, world):
    """A dead letter holds a whole event of any room: only managers (and admins) read them."""
    assert stranger(system).get("/api/deadletters").status_code == 401
    for role in ("viewer", "assistant"):
        for path in ("/api/deadletters", f"/api/deadletters?room={A}"):
            assert world["clients"][role].get(path).status_code == 403, (role, path)
    assert world["clients"]["manager"].get("/api/deadletters").status_code == 200
    assert system.get(f"/api/deadletters?room={B}")["dead_letters"] == []


def test_a_forged_host_is_refused(system):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends Host: evil.example."""
    with stranger(system, Host="evil.example") as c:
        assert c.get("/healthz").status_code == 400
        assert c.post("/api/login", json={"user": "admin", "password": ADMIN_PASSWORD}).status_code == 400
    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{system.port}/ws", additional_headers={"Host": "evil.example"}, open_timeout=10)


def test_who_acted_is_the_signed_in_user_whatever_the_body_says(system, world):
    r = world["r"]
    manager, assistant = world["clients"]["manager"], world["clients"]["assistant"]
    resp = assistant.post(f"/api/alerts/{world['alerts'][A]['id']}/ack", json={"by": "evil"})
    assert resp.status_code == 200 and resp.json()["alert"]["acknowledged_by"] == "asst"
    resp = manager.post(f"/api/suggestions/{world['sug']['id']}/reject", json={"by": "ceo"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["suggestion"]["state"] == "rejected" and resp.json()["suggestion"]["decided_by"] == "mgr"
    resp = system.http.put(f"/api/rooms/{A}/ads/config", json={"max_step_pct": 10, "by": "ceo"})
    assert resp.status_code == 200
    trail = manager.get("/api/audit", params={"room": ENDED}).json()["audit"]
    assert [(e["kind"], e["by"]) for e in trail if e.get("suggestion") == world["sug"]["id"]] == [("rejected", "mgr")]
    assert [(e["kind"], e["by"]) for e in system.get("/api/audit", params={"room": A})["audit"]] == [("config", "admin")]
    assert r.exists("lw:sim:controls") == 0, "a rejection applies nothing"


def _ws(system, cookie: str | None = None, origin: str | None = None, query: str = ""):
    headers = {"Cookie": cookie} if cookie else {}
    return connect(f"ws://127.0.0.1:{system.port}/ws{query}", additional_headers=headers, open_timeout=10,
                   origin=origin or f"http://127.0.0.1:{system.port}", max_size=None, ping_interval=None)


def _greeting(ws) -> list[dict]:
    """The messages of the greeting: hello, snapshots, insights, and last the recent alerts."""
    out = []
    while not out or out[-1].get("kind") != "alerts":
        out.append(orjson.loads(ws.recv(timeout=10)))
    return out


def _rooms_in(msg: dict) -> set[str]:
    if msg.get("kind") == "alerts":
        return {a["room"] for a in msg["alerts"]}
    room = msg.get("room") or (msg.get("alert") or {}).get("room")
    return {room} if room else set()


def test_the_websocket_refuses_strangers_and_sends_only_readable_rooms(system, world):
    session = system.session()
    for cookie, origin in ((None, None), (f"lw_session={session[:-3]}xyz", None), ("lw_link=forged", None),
                           (f"lw_session={session}", "http://127.0.0.1:1"), (f"lw_session={session}", "null")):
        with pytest.raises(InvalidStatus) as refused:
            _ws(system, cookie, origin)
        assert refused.value.response.status_code == 403, (cookie, origin)
    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{system.port}/ws", additional_headers={"Authorization": "Bearer nope"},
                open_timeout=10)

    viewer = f"lw_session={world['clients']['viewer'].cookies['lw_session']}"
    with _ws(system, viewer) as ws, _ws(system, viewer, query=f"?rooms={A},{B}") as asked:
        for sock in (ws, asked):
            greeting = _greeting(sock)
            assert set().union(*map(_rooms_in, greeting)) == {A}, greeting
        # an alert of room B, then one of room A, on the same channel (so in this order): only A's arrives
        store = Store(world["r"])
        store.save([("fired", alert(B))])
        a_alert = alert(A)
        store.save([("fired", a_alert)])
        for sock in (ws, asked):
            while True:
                msg = orjson.loads(sock.recv(timeout=10))
                assert _rooms_in(msg) <= {A}, msg
                if msg.get("kind") == "alert" and msg["alert"]["id"] == a_alert["id"]:
                    break


def test_removing_a_user_ends_their_session_and_their_socket(system):
    client = system.add_user("leaving", "viewer", password=PASSWORD)
    cookie = f"lw_session={client.cookies['lw_session']}"
    with _ws(system, cookie) as ws:
        _greeting(ws)
        out = subprocess.run([sys.executable, "app.py", "users", "remove", "leaving", "--redis-url", system.redis_url],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert client.get("/api/rooms").status_code == 401
        ws.send("ping")   # the screens' keepalive: the server checks the credentials again
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=10)
    client.close()


def test_users_cli_against_a_running_app(system):
    def users(*args, password: str | None = None):
        return subprocess.run([sys.executable, "app.py", "users", *args, "--redis-url", system.redis_url],
                              cwd=ROOT, input=(password + "\n") if password else "", capture_output=True, text=True,
                              timeout=60)
    out = users("add", "carol", "--role", "assistant", "--rooms", f"{A},{B}", password="carol's secret")
    assert out.returncode == 0 and "carol" in out.stdout, out.stderr
    carol = sign_in(system.url, "carol", "carol's secret")
    assert sorted(x["room"] for x in carol.get("/api/rooms").json()["rooms"]) == [A, B]
    # a new password ends the old sessions at once; the same one again keeps them
    assert users("add", "carol", "--role", "assistant", "--rooms", A, password="carol's secret").returncode == 0
    assert [x["room"] for x in carol.get("/api/rooms").json()["rooms"]] == [A]
    assert users("add", "carol", "--role", "assistant", password="another secret").returncode == 0
    assert carol.get("/api/rooms").status_code == 401
    assert users("add", "bad name!", "--role", "viewer", password="x").returncode == 2
    assert users("add", "dave", "--role", "viewer").returncode == 2, "no password on stdin"
    assert users("remove", "nobody-here").returncode == 1
    carol.close()


def test_failed_sign_ins_are_limited(system):
    system.add_user("eve", "viewer", password=PASSWORD).close()
    with stranger(system) as c:
        for _ in range(5):
            assert c.post("/api/login", json={"user": "eve", "password": "guess"}).status_code == 401
        resp = c.post("/api/login", json={"user": "eve", "password": PASSWORD})
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0 and "error" in resp.json()
        assert c.post("/api/login", content=b"user=eve", headers={"Content-Type": "text/plain"}).status_code == 415
        assert c.post("/api/login", json=["eve"]).status_code == 400


def test_ingest_takes_its_token_or_an_admin(tmp_path):
    from store import embedded
    server = embedded.start(tmp_path / "redis", port=free_port())
    s = System(server.url, free_port(), tmp_path / "app.log", token="ingest-secret").start()
    try:
        event = ev("acc-ing", "session_start")
        viewer = s.add_user("v", "viewer", password=PASSWORD)
        assert viewer.post("/api/events", json=[event]).status_code == 403
        with stranger(s, Authorization="Bearer ingest-secret", Origin="http://127.0.0.1:1") as foreign:
            assert foreign.post("/api/events", json=[event]).status_code == 403
        with stranger(s, Authorization="Bearer ingest-secret") as c:
            assert c.get("/api/rooms").status_code == 403, "the ingest token only sends events"
            assert c.post("/api/events", json=[event]).json()["accepted"] == 1
        assert s.http.post("/api/events", json=[ev("acc-ing", "enter", user="u")]).json()["accepted"] == 1
        viewer.close()
    finally:
        s.stop()
        server.stop()


def test_the_embedded_store_one_time_link_cli_and_modes(tmp_path):
    """`python app.py` with no admin password and no Redis URL: its startup line carries a one-time link that
    signs in once; the users CLI reaches the running app's embedded Redis through the data dir; the data dir
    and its files are the owner's only."""
    data, port, log = tmp_path / "data", free_port(), tmp_path / "app.log"
    env = {k: v for k, v in os.environ.items() if k not in ("LIVEWALL_ADMIN_PASSWORD", "LIVEWALL_REDIS_URL")}
    app = Part(["app.py", "--feed", "none", "--port", str(port), "--data-dir", str(data)], log=log)
    app.env = env
    app.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, timeout=60, what="the app up")
        line = wait_until(lambda: next((x for x in log.read_text().splitlines() if "/login/once/" in x), None),
                          timeout=60, what="the startup line")
        link = re.search(r"http://\S+/login/once/\S+", line).group(0)
        with httpx.Client(timeout=30) as c:
            resp = c.get(link)
            assert resp.status_code == 303 and resp.headers["location"] == "/"
            assert c.get(f"{url}/api/rooms").status_code == 200, "signed in as admin"
        with httpx.Client(timeout=30) as c:
            resp = c.get(link)
            assert resp.headers["location"].startswith("/login?why=once-used"), "one use only"
            assert c.get(f"{url}/api/rooms").status_code == 401
        out = subprocess.run([sys.executable, "app.py", "users", "add", "frank", "--role", "manager",
                              "--data-dir", str(data)], cwd=ROOT, input="frank's secret\n", env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        sign_in(url, "frank", "frank's secret").close()
        for root, dirs, files in os.walk(data):
            assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
            for f in files:
                path = os.path.join(root, f)
                if not stat.S_ISSOCK(os.stat(path).st_mode):
                    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, path
    finally:
        app.stop()


def test_listening_beyond_loopback_needs_an_ingest_token_and_an_admin_password(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEWALL_")}
    out = subprocess.run([sys.executable, "app.py", "--host", "0.0.0.0", "--feed", "none", "--data-dir",
                          str(tmp_path)], cwd=ROOT, env={**env, "LIVEWALL_INGEST_TOKEN": "t"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "LIVEWALL_ADMIN_PASSWORD" in out.stderr and "LIVEWALL_INGEST_TOKEN" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, "one line saying what to set"


EVIL_PAGE = """<!doctype html><html><body>
<form id="f" method="POST" action="TARGET/api/alerts/ALERT/ack" enctype="text/plain" target="sink">
  <input name='{"by": "csrf-form", "x": "' value='"}'></form>
<iframe name="sink" id="sink"></iframe>
<script>
  var T = "TARGET", done = window.done = {};
  function note(k) { return function (v) { done[k] = v && v.status !== undefined ? "status " + v.status : String(v); }; }
  // a simple request (no preflight): it reaches the server with the manager's cookie and this page's Origin
  fetch(T + "/api/suggestions/SUG/approve", {method: "POST", credentials: "include", mode: "no-cors",
    headers: {"Content-Type": "text/plain"}, body: '{"by": "evil"}'}).then(note("approve"), note("approve"));
  // JSON needs a preflight, which carries no cookie
  fetch(T + "/api/alerts/ALERT/ack", {method: "POST", credentials: "include",
    headers: {"Content-Type": "application/json"}, body: "{}"}).then(note("ack"), note("ack"));
  var ws = new WebSocket(T.replace("http", "ws") + "/ws");
  ws.onmessage = function () { done.ws_data = true; };
  ws.onopen = function () { done.ws = "open"; };
  ws.onclose = function () { done.ws = done.ws || "refused"; };
  document.getElementById("sink").onload = function () { done.form = "sent"; };
  document.getElementById("f").submit();
</script></body></html>"""


def test_a_page_on_another_origin_cannot_act_for_a_signed_in_manager(system, world, browser):
    """In real Chromium: the manager is signed in; a page from another origin of the same site (so even
    SameSite=Lax cookies go along) tries to approve, to acknowledge (fetch and a form) and to open /ws."""
    room = "acc-end2"
    system.post([ev(room, "session_start", platform="douyin"), ev(room, "session_end")])
    system.metrics_when(room, lambda m: m.get("ended") is not None)
    r = world["r"]
    sug = {**world["sug"], "id": f"{room}~evil1", "room": room, "state": "proposed",
           "session": system.get(f"/api/rooms/{room}/metrics")["session"]}
    r.set(keys.suggestions(room), orjson.dumps([sug]))
    target = alert(room)
    Store(r).save([("fired", target)])
    audit_before = r.xlen("lw:audit")

    html = (EVIL_PAGE.replace("TARGET", system.url).replace("ALERT", target["id"]).replace("SUG", sug["id"])
            .encode())

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def do_POST(self):   # the form's iframe may land here on a redirect; nothing to do
            self.do_GET()

        def log_message(self, *args):
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", free_port()), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    ctx = browser.new_context()
    try:
        system.sign_in(ctx, world["clients"]["manager"].cookies["lw_session"])
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{evil.server_port}/")
        page.wait_for_function("() => done.approve && done.ack && done.ws && done.form", timeout=15000)
        result = page.evaluate("done")
        assert result["ws"] == "refused" and "ws_data" not in result, result
        [stored] = orjson.loads(r.get(keys.suggestions(room)))
        assert stored["state"] == "proposed", stored
        record = orjson.loads(r.hget(keys.ALERTS_BY_ID, target["id"]))
        assert (record["state"], record["acknowledged_by"]) == ("firing", None), record
        assert r.xlen("lw:audit") == audit_before
        # the same browser, on livewall's own page, may: the session was good all along
        page.goto(f"{system.url}/manager?lang=en")
        page.wait_for_function("document.getElementById('manager')?.dataset.conn === 'open'", timeout=15000)
        status = page.evaluate("""(id) => fetch('/api/alerts/' + id + '/ack', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: '{"by": "someone"}'}).then(r => r.status)""",
                               target["id"])
        assert status == 200
        assert orjson.loads(r.hget(keys.ALERTS_BY_ID, target["id"]))["acknowledged_by"] == "mgr"
    finally:
        ctx.close()
        evil.shutdown()


def test_while_redis_is_away_credentials_get_a_quick_503(tmp_path):
    """A session lives in Redis: with Redis stopped (SIGSTOP) a signed-in request gets 503 and Retry-After
    within two seconds, never a 500 or a hang behind the client's retries."""
    from store import embedded
    server = embedded.start(tmp_path / "redis", port=free_port())
    s = System(server.url, free_port(), tmp_path / "app.log").start()
    try:
        os.kill(server.proc.pid, signal.SIGSTOP)
        t0 = time.monotonic()
        resp = s.http.get("/api/rooms")
        took = time.monotonic() - t0
        assert resp.status_code == 503 and resp.headers["Retry-After"] == str(RETRY_AFTER_S)
        assert "error" in resp.json()
        assert took < 2.5, f"answered after {took:.2f} s"
        os.kill(server.proc.pid, signal.SIGCONT)
        wait_until(lambda: s.http.get("/api/rooms").status_code == 200, timeout=20, what="back by itself")
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        s.stop()
        server.stop()
