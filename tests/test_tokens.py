"""Bearer tokens for programs, against the real app: an admin makes, lists and revokes them; the store keeps
no token; an ingest token limited to rooms stores only their events; a read token reads only its rooms; a
revoked, wrong or read-only token gets nothing it should not; no token can do a person's work; and the
programs that send events take their token from a file or the environment.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from store import embedded
from tests.conftest import ADMIN_PASSWORD, ROOT, Part, System, free_port, sign_in, wait_until

PASSWORDS = {"admin": ADMIN_PASSWORD, "mia": "mia's long password", "ada": "ada's long password",
             "tom": "tom's long password"}
_n = iter(range(10 ** 9))


class App(System):
    """The whole app (conftest's System: admin's password set, `http` signed in as admin) with two managers and
    an assistant, a client signed in as each, and clients for a bearer token or nothing at all."""

    def start(self) -> "App":
        super().start()
        self.users_cli("add", "mia", "--role", "manager", password=PASSWORDS["mia"])
        self.users_cli("add", "ada", "--role", "manager", password=PASSWORDS["ada"])
        self.users_cli("add", "tom", "--role", "assistant", "--rooms", "tok-a", password=PASSWORDS["tom"])
        self.clients = {name: sign_in(self.url, name, PASSWORDS[name]) for name in PASSWORDS}
        self.anon = httpx.Client(base_url=self.url, timeout=30)
        return self

    def users_cli(self, *args, password: str) -> None:
        subprocess.run([sys.executable, "app.py", "users", *args, "--redis-url", self.redis_url], cwd=ROOT,
                       input=password + "\n", text=True, check=True, capture_output=True)

    def __getattr__(self, name):    # app.admin, app.mia, ...: that user's signed-in client
        if name in PASSWORDS:
            return self.__dict__["clients"][name]
        raise AttributeError(name)

    def bearer(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {token}"})

    def make_token(self, scopes, rooms=None, label=None) -> dict:
        resp = self.admin.post("/api/tokens", json={"label": label or f"prog-{next(_n)}", "scopes": scopes,
                                                    "rooms": rooms})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def stop(self) -> None:
        for c in [self.anon, *self.clients.values()]:
            c.close()
        super().stop()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    d = tmp_path_factory.mktemp("app")
    server = embedded.start(d / "redis", port=free_port())
    # an ingest token configured, as beyond loopback: sending events then needs an ingest-scoped credential
    a = App(server.url, free_port(), d / "app.log", token="the-configured-ingest-token").start()
    yield a
    a.stop()
    server.stop()


def ev(room: str, type_: str = "enter", **fields) -> dict:
    return {"id": f"tok-{room}-{next(_n)}", "room": room, "ts": time.time(), "type": type_, "user": "u1",
            **fields}


def test_admin_makes_lists_and_revokes_a_token_and_the_store_keeps_no_token(app):
    made = app.make_token(["read"], ["tok-a"], label="dashboard-tv")
    assert made["token"].startswith("lwt_") and made["scopes"] == ["read"] and made["rooms"] == ["tok-a"]
    assert made["created_by"] == "admin"
    listed = app.admin.get("/api/tokens").json()["tokens"]
    mine = [t for t in listed if t["id"] == made["id"]]
    assert mine and "token" not in mine[0] and "hash" not in mine[0] and mine[0]["label"] == "dashboard-tv"
    # nothing in Redis holds the token itself
    client = redis.Redis.from_url(app.redis_url)
    try:
        for key in client.scan_iter("lw:tok*"):
            kind = client.type(key)
            blob = repr(client.hgetall(key) if kind == b"hash" else client.dump(key))
            assert made["token"] not in blob and made["token"][4:] not in blob
    finally:
        client.close()
    # a label names the token in the audit log: two alike would be one name
    assert app.admin.post("/api/tokens", json={"label": "dashboard-tv", "scopes": ["read"]}).status_code == 400
    assert app.admin.delete(f"/api/tokens/{made['id']}").status_code == 200
    assert made["id"] not in [t["id"] for t in app.admin.get("/api/tokens").json()["tokens"]]
    assert app.admin.delete(f"/api/tokens/{made['id']}").status_code == 404


def test_bad_token_requests_are_refused_with_a_reason(app):
    for body in ({"label": "x", "scopes": ["write"]}, {"label": "", "scopes": ["read"]},
                 {"label": "x", "scopes": []}, {"label": "x", "scopes": ["read"], "rooms": ["bad room!"]},
                 {"label": "x", "scopes": ["read"], "rooms": []}):
        resp = app.admin.post("/api/tokens", json=body)
        assert resp.status_code == 400 and resp.json()["error"], body


def test_only_a_signed_in_admin_manages_tokens(app):
    made = app.make_token(["ingest", "read"])
    for client, status in ((app.anon, 401), (app.mia, 403), (app.tom, 403), (app.bearer(made["token"]), 403)):
        assert client.get("/api/tokens").status_code == status
        assert client.post("/api/tokens", json={"label": f"t{next(_n)}", "scopes": ["read"]}).status_code == status
        assert client.delete(f"/api/tokens/{made['id']}").status_code == status
    assert made["id"] in [t["id"] for t in app.admin.get("/api/tokens").json()["tokens"]]
    # another site's page, with the admin's cookie: refused, nothing made
    before = len(app.admin.get("/api/tokens").json()["tokens"])
    resp = app.admin.post("/api/tokens", json={"label": "csrf", "scopes": ["read"]},
                          headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403
    resp = app.admin.post("/api/tokens", content=b'{"label": "csrf2", "scopes": ["read"]}',
                          headers={"Content-Type": "text/plain"})
    assert resp.status_code in (400, 415)
    assert len(app.admin.get("/api/tokens").json()["tokens"]) == before


def test_ingest_token_stores_events_only_for_its_rooms(app):
    made = app.make_token(["ingest"], ["tok-a", "tok-b"])
    with app.bearer(made["token"]) as prog:
        resp = prog.post("/api/events", json=[ev("tok-a"), ev("tok-c"), {"room": "tok-a"}, ev("tok-b")])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert "tok-c" in body["rejected"][0]["error"]
    app.metrics_when("tok-a", lambda m: m["visits"] >= 1)
    app.metrics_when("tok-b", lambda m: m["visits"] >= 1)
    assert app.admin.get("/api/rooms/tok-c/metrics").status_code == 404   # nothing of it was stored
    # an ingest-only token reads nothing
    with app.bearer(made["token"]) as prog:
        assert prog.get("/api/rooms/tok-a/metrics").status_code == 403


def test_read_token_reads_only_its_rooms_and_sends_nothing(app):
    with app.bearer(app.make_token(["ingest"])["token"]) as feeder:
        assert feeder.post("/api/events", json=[ev("tok-a"), ev("tok-d")]).json()["accepted"] == 2
    app.metrics_when("tok-d", lambda m: m["visits"] >= 1)
    made = app.make_token(["read"], ["tok-a"])
    with app.bearer(made["token"]) as reader:
        assert reader.get("/api/rooms/tok-a/metrics").status_code == 200
        assert reader.get("/api/rooms/tok-d/metrics").status_code == 403
        assert [x["room"] for x in reader.get("/api/rooms").json()["rooms"]] == ["tok-a"]
        assert reader.post("/api/events", json=[ev("tok-a")]).status_code == 403


def test_revoked_and_wrong_tokens_get_401(app):
    made = app.make_token(["ingest", "read"], ["tok-a"])
    ws = connect(f"ws://127.0.0.1:{app.port}/ws", additional_headers={"Authorization": f"Bearer {made['token']}"},
                 open_timeout=10)
    with ws, app.bearer(made["token"]) as prog:
        assert json.loads(ws.recv(timeout=10))["kind"] == "hello"
        assert prog.get("/api/rooms/tok-a/metrics").status_code == 200
        app.admin.delete(f"/api/tokens/{made['id']}")
        # its open socket is closed at once, not at its next keepalive
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1008
        assert prog.get("/api/rooms/tok-a/metrics").status_code == 401
        assert prog.post("/api/events", json=[ev("tok-a")]).status_code == 401
    for wrong in (made["token"][:-1] + ("A" if made["token"][-1] != "A" else "B"), "lwt_nothing", "x" * 300):
        with app.bearer(wrong) as prog:
            assert prog.get("/api/rooms/tok-a/metrics").status_code == 401
            assert prog.post("/api/events", json=[ev("tok-a")]).status_code == 401


def test_a_token_cannot_do_a_persons_work(app):
    made = app.make_token(["ingest", "read"])
    with app.bearer(made["token"]) as prog:
        for method, path, body in (("POST", "/api/suggestions/s-1/approve", {}),
                                   ("POST", "/api/suggestions/s-1/reject", {}),
                                   ("POST", "/api/alerts/a-1/ack", {}),
                                   ("PUT", "/api/rooms/tok-a/ads/config", {"auto_apply": True}),
                                   ("POST", "/api/links", {"label": "l", "screen": "/wall"}),
                                   ("POST", "/api/tokens", {"label": "t", "scopes": ["read"]})):
            resp = prog.request(method, path, json=body)
            assert resp.status_code == 403, (path, resp.status_code, resp.text)
        assert prog.get("/api/audit").status_code == 403


def test_programs_take_the_token_from_a_file_or_the_environment(app, tmp_path):
    made = app.make_token(["ingest"])
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(f'{{"id": "tok-file-{i}", "room": "tok-f", "ts": {time.time()}, "type": "enter", '
                                f'"user": "f{i}"}}' for i in range(5)) + "\n")
    secret_file = tmp_path / "token"
    secret_file.write_text(made["token"] + "\n")
    secret_file.chmod(0o600)
    cmd = [sys.executable, "-m", "feeds.replay", str(events), "--url", app.url, "--speed", "max"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEWALL_")}
    subprocess.run(cmd + ["--token-file", str(secret_file)], cwd=ROOT, check=True, capture_output=True)
    app.metrics_when("tok-f", lambda m: m["visits"] == 5)
    events.write_text(events.read_text().replace("tok-file-", "tok-env-").replace('"f', '"g'))
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env={**env, "LIVEWALL_TOKEN": made["token"]})
    app.metrics_when("tok-f", lambda m: m["visits"] == 10)
    # the simulator over HTTP, with the same file
    sim = Part(["-m", "feeds.simulator", "--url", app.url, "--token-file", str(secret_file), "--rooms", "1",
                "--seed", "7"], log=tmp_path / "sim.log").start()
    try:
        wait_until(lambda: [r for r in app.admin.get("/api/rooms").json()["rooms"] if not r["room"].startswith("tok")],
                   timeout=30, what="the simulator's room")
    finally:
        sim.stop()
    # without a token the server refuses, and replay says so
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "401" in out.stderr


def test_tokens_command_line(app):
    def cli(*args):
        return subprocess.run([sys.executable, "app.py", "tokens", *args, "--redis-url", app.redis_url], cwd=ROOT,
                              capture_output=True, text=True)
    out = cli("add", "shop-feed", "--scope", "ingest", "--rooms", "tok-a,tok-b")
    assert out.returncode == 0, out.stderr
    token = next(line.split()[-1] for line in out.stdout.splitlines() if "lwt_" in line)
    with app.bearer(token) as prog:
        assert prog.post("/api/events", json=[ev("tok-a")]).json()["accepted"] == 1
    listed = cli("list")
    assert "shop-feed" in listed.stdout and token not in listed.stdout
    token_id = next(t["id"] for t in app.admin.get("/api/tokens").json()["tokens"] if t["label"] == "shop-feed")
    assert cli("remove", token_id).returncode == 0
    with app.bearer(token) as prog:
        assert prog.post("/api/events", json=[ev("tok-a")]).status_code == 401
    assert cli("remove", token_id).returncode == 1


def test_where_a_program_finds_its_token(tmp_path, monkeypatch):
    from feeds.publisher import token_from
    monkeypatch.delenv("LIVEWALL_TOKEN", raising=False)
    monkeypatch.delenv("LIVEWALL_INGEST_TOKEN", raising=False)
    assert token_from() is None
    monkeypatch.setenv("LIVEWALL_INGEST_TOKEN", "from-ingest-env")
    assert token_from() == "from-ingest-env"
    monkeypatch.setenv("LIVEWALL_TOKEN", "from-env")
    assert token_from() == "from-env"
    f = tmp_path / "t"
    f.write_text("from-file\n")
    assert token_from(token_file=f) == "from-file"
    assert token_from("given", f) == "given"
