"""Fixtures with real parts: a redis-server the tests start themselves, the app as a real process."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store import embedded  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    """Poll until predicate() is truthy; return its value. Fails the test with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - the condition may not be checkable yet
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = embedded.start(tmp_path_factory.mktemp("redis"), port=free_port())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A real three-master Redis Cluster (store/cluster.py), started once for the session."""
    from store import cluster
    c = cluster.start(tmp_path_factory.mktemp("cluster"), masters=3)
    yield c
    c.stop()


@pytest.fixture
def cluster_url(redis_cluster):
    """A clean cluster: every master flushed. The URL is `redis-cluster://host:port,...`."""
    from tests.cluster import flush
    flush(redis_cluster)
    return redis_cluster.url


@pytest.fixture
def redis_url(redis_server):
    """A clean database on the session's real redis-server."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


class Part:
    """A part of livewall started as its own process (`python -m engine`, `python app.py`, ...)."""

    def __init__(self, args: list[str], env: dict | None = None, log: Path | None = None):
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Part":
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, *self.args], cwd=ROOT, env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        """SIGKILL: the crash a part must survive."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


ADMIN_PASSWORD = "correct horse battery staple"


def sign_in(url: str, user: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
    """An HTTP client signed in as `user` (its session cookie in the client's jar)."""
    client = httpx.Client(base_url=url, timeout=30)
    resp = client.post("/api/login", json={"user": user, "password": password})
    assert resp.status_code == 200, f"sign in as {user}: {resp.status_code} {resp.text}"
    return client


def admin_client(url: str, redis_url: str) -> httpx.Client:
    """Signed in as admin on a web process started alone (`python -m server`), whose store has no admin yet."""
    from server import users
    client = redis.Redis.from_url(redis_url)
    try:
        users.put(client, "admin", "admin", None, ADMIN_PASSWORD)
    finally:
        client.close()
    return sign_in(url)


class System:
    """livewall running for real: `python app.py --feed none` against a test redis-server, with the user admin's
    password in its environment. `http` is signed in as admin; so are browsers given to `sign_in`."""

    def __init__(self, redis_url: str, port: int, log: Path, token: str | None = None, feed: str = "none",
                 args: tuple[str, ...] = (), env: dict | None = None):
        self.redis_url = redis_url
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        argv = ["app.py", "--feed", feed, "--port", str(port), "--redis-url", redis_url, "--insights-every", "1",
                *args]
        self.part = Part(argv, env={"LIVEWALL_ADMIN_PASSWORD": ADMIN_PASSWORD,
                                    **({"LIVEWALL_INGEST_TOKEN": token} if token else {}), **(env or {})}, log=log)
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self.token = token

    def start(self) -> "System":
        self.part.start()
        wait_until(lambda: self.http.get("/healthz").status_code == 200, timeout=60, what="livewall healthy")
        self.http.close()
        self.http = sign_in(self.url)
        return self

    def add_user(self, name: str, role: str, rooms: str | None = None, password: str = "pw-" + "x" * 12
                 ) -> httpx.Client:
        """Create (or update) a user in the app's store and return a client signed in as that user."""
        from server import users
        client = redis.Redis.from_url(self.redis_url)
        try:
            users.put(client, name, role, users.parse_rooms(rooms), password)
        finally:
            client.close()
        return sign_in(self.url, name, password)

    def session(self) -> str:
        return self.http.cookies["lw_session"]

    def sign_in(self, target, session: str | None = None):
        """Give a Playwright page or browser context admin's session (or `session`); returns `target`."""
        context = getattr(target, "context", target)
        context.add_cookies([{"name": "lw_session", "value": session or self.session(), "url": self.url,
                              "httpOnly": True, "sameSite": "Lax"}])
        return target

    def stop(self) -> None:
        self.http.close()
        self.part.stop()

    def _send(self, method: str, path: str, **kw) -> httpx.Response:
        # The server may close an idle keep-alive connection just as the next request goes out on it; like the
        # publisher, send again (events are safe to resend: their ids make a second copy a duplicate).
        try:
            return self.http.request(method, path, **kw)
        except httpx.RemoteProtocolError:
            return self.http.request(method, path, **kw)

    def post(self, events, **kw) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        resp = self._send("POST", "/api/events", json=events, headers=headers, **kw)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def get(self, path: str, **kw):
        resp = self._send("GET", path, **kw)
        assert resp.status_code == 200, f"GET {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def metrics_when(self, room: str, predicate, timeout: float = 10.0) -> dict:
        """The room's metrics once predicate(metrics) holds."""
        def check():
            r = self.http.get(f"/api/rooms/{room}/metrics")
            return r.status_code == 200 and predicate(r.json()) and r.json()
        return wait_until(check, timeout=timeout, what=f"metrics of {room}")


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """The whole app (engine, insight jobs, web) on its own redis-server, shared by a test module."""
    d = tmp_path_factory.mktemp("system")
    server = embedded.start(d / "redis", port=free_port())
    s = System(server.url, free_port(), d / "app.log").start()
    yield s
    s.stop()
    server.stop()


CHROMIUM = os.environ.get("LIVEWALL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian's), driven by Playwright."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    pg = ctx.new_page()
    yield pg
    ctx.close()
