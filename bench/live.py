"""livewall running for real, for the wall's benchmark and screenshots: the app as its own process on an
embedded redis-server, and simulated rooms fed in real time.

    with Livewall(insights_every=2) as lw:
        feed = Feeder(lw, simulated_rooms(["douyin-01", "taobao-02"], history_s=2700))
        feed.catch_up()      # everything up to now, as fast as the API takes it
        feed.start()         # then each event when its time comes
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.simulator import simulate_session  # noqa: E402
from server import users  # noqa: E402
from store import embedded  # noqa: E402
from store.connect import sync_client  # noqa: E402

CHUNK = 5000          # events per POST while catching up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_client(url: str, redis_url: str, password: str | None = None) -> httpx.Client:
    """A client signed in as admin; the user admin is set up first (with a random password, when none is
    given) for a web process started alone, whose store has none."""
    if password is None:
        password = secrets.token_urlsafe(16)
        client = sync_client(redis_url)
        users.put(client, users.ADMIN, "admin", None, password)
        client.close()
    http = httpx.Client(base_url=url, timeout=60)
    http.post("/api/login", json={"user": users.ADMIN, "password": password}).raise_for_status()
    return http


class Livewall:
    """`python app.py --feed none` on its own redis-server; `pid` is the web process (uvicorn runs in it).
    `http` is signed in as admin, and so is a browser page given to `sign_in`."""

    def __init__(self, insights_every: float = 10.0, args: tuple[str, ...] = (), env: dict | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="livewall-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.insights_every = insights_every
        self.log = self.dir / "app.log"
        self.redis = None
        self.proc = None
        self.password = secrets.token_urlsafe(16)
        self.args, self.env = args, env or {}

    def __enter__(self) -> "Livewall":
        self.redis = embedded.start(self.dir / "redis", port=free_port(), fsync="everysec")
        self.redis_url = self.redis.url
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "--feed", "none", "--port", str(self.port), "--redis-url", self.redis.url,
             "--insights-every", str(self.insights_every),
             "--data-dir", str(self.dir / "data"), *self.args],   # the archive of ended sessions too: never ~/.livewall
            cwd=ROOT, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
            env={**os.environ, "LIVEWALL_ADMIN_PASSWORD": self.password, **self.env})
        self.pid = self.proc.pid
        self.http = httpx.Client(base_url=self.url, timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.http.get("/healthz").status_code == 200:
                    self.http.close()
                    self.http = admin_client(self.url, self.redis_url, self.password)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:]
        self.__exit__()
        raise RuntimeError(f"livewall did not become healthy:\n{tail}")

    def sign_in(self, page):
        """Give a Playwright page (or context) admin's session; returns it."""
        context = getattr(page, "context", page)
        context.add_cookies([{"name": "lw_session", "value": self.http.cookies["lw_session"], "url": self.url,
                              "httpOnly": True, "sameSite": "Lax"}])
        return page

    def post(self, events: list[dict]) -> None:
        for k in range(0, len(events), CHUNK):
            self.http.post("/api/events", json=events[k:k + CHUNK]).raise_for_status()

    def __exit__(self, *_exc) -> None:
        if self.proc is not None:
            self.http.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.redis:
            self.redis.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def simulated_rooms(names: list[str], history_s: float, seed: int = 7) -> list[dict]:
    """Sessions that started `history_s` ago and run for two more hours, merged in time order."""
    start = time.time() - history_s
    events = []
    for i, name in enumerate(names):
        events += simulate_session(name, seed + i, history_s + 7200, start)
    events.sort(key=lambda e: e["ts"])
    return events


class Feeder(threading.Thread):
    """Posts events as their `ts` comes due, a few times a second, like a live platform feed."""

    def __init__(self, lw: Livewall, events: list[dict], tick_s: float = 0.25):
        super().__init__(daemon=True)
        self.lw, self.events, self.tick_s = lw, events, tick_s
        self.i = 0
        self.stopped = threading.Event()

    def _due(self) -> list[dict]:
        now, j = time.time(), self.i
        while j < len(self.events) and self.events[j]["ts"] <= now:
            j += 1
        due, self.i = self.events[self.i:j], j
        return due

    def catch_up(self) -> int:
        due = self._due()
        self.lw.post(due)
        return len(due)

    def run(self) -> None:
        while not self.stopped.wait(self.tick_s):
            due = self._due()
            if due:
                self.lw.post(due)

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
