"""Nothing lost, nothing counted twice: SIGKILL the engine mid-replay, restart Redis, kill the whole app.

Totals afterwards are compared with the independent pandas computation of tests/reference.py.
"""
from __future__ import annotations

import math
import os
import signal
import time
from collections import Counter

import httpx
import pytest
import redis

from bench.chaos import Load, counted
from store import embedded, keys
from tests.conftest import ADMIN_PASSWORD, Part, System, admin_client, free_port, sign_in, wait_until
from tests.events import arrive_late, random_session
from tests.reference import reference
from tests.test_wall import ev, gmv, live_room, open_wall

ROOM = "r1"  # the room tests/events.py generates


def session_events(seed: int) -> list[dict]:
    evs = random_session(seed, span=1800.0, users=400, skus=8, prior="none", end=False)
    return arrive_late(evs, seed)


def same(expected, got, path="") -> list[str]:
    """Differences between the reference and the API: exact for ints and money, 1e-9 relative for floats."""
    if isinstance(expected, dict):
        return [d for k in expected for d in same(expected[k], got.get(k), f"{path}.{k}")]
    if isinstance(expected, list):
        if len(expected) != len(got):
            return [f"{path}: {len(expected)} rows expected, got {len(got)}"]
        return [d for i, (a, b) in enumerate(zip(expected, got)) for d in same(a, b, f"{path}[{i}]")]
    if isinstance(expected, float) and isinstance(got, (int, float)):
        return [] if math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-9) else [f"{path}: {expected} != {got}"]
    return [] if expected == got else [f"{path}: {expected!r} != {got!r}"]


def assert_matches_reference(http: httpx.Client, events: list[dict]) -> None:
    ref = reference(events)
    want = ref["metrics"]

    def caught_up():
        r = http.get(f"/api/rooms/{ROOM}/metrics")
        return r.status_code == 200 and r.json()["as_of"] == want["as_of"] and r.json()["visits"] == want["visits"] \
            and r.json()["gmv"] == want["gmv"] and r.json()
    got = wait_until(caught_up, timeout=30, what="the engine to catch up with every event")
    problems = same(want, got)
    products = http.get(f"/api/rooms/{ROOM}/products", params={"limit": 100000}).json()["products"]
    problems += same(ref["products"], products, ".products")
    problems += same(ref["series"], http.get(f"/api/rooms/{ROOM}/series").json()["series"], ".series")
    assert not problems, "\n".join(problems[:30])


def post_all(http: httpx.Client, events: list[dict], size: int = 250) -> None:
    for i in range(0, len(events), size):
        resp = http.post("/api/events", json=events[i:i + size])
        assert resp.status_code == 200, resp.text
        assert not resp.json()["rejected"]


@pytest.fixture
def redis_dir(tmp_path):
    port = free_port()
    server = embedded.start(tmp_path / "redis", port=port)
    yield server, port
    server.stop()


def test_engine_killed_mid_replay_resumes_exactly(tmp_path, redis_dir):
    server, _port = redis_dir
    events = session_events(7)
    web_port = free_port()
    web = Part(["-m", "server", "--redis-url", server.url, "--port", str(web_port)], log=tmp_path / "web.log").start()
    engine = Part(["-m", "engine", "--redis-url", server.url], log=tmp_path / "engine.log").start()
    http = httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=30)
    r = redis.Redis.from_url(server.url)
    try:
        wait_until(lambda: http.get("/healthz").status_code == 200, timeout=60, what="web and engine up")
        http.close()
        http = admin_client(f"http://127.0.0.1:{web_port}", server.url)
        half = len(events) // 2
        post_all(http, events[:half])
        # kill while the engine holds applied-but-unacknowledged entries: the hard case
        wait_until(lambda: r.exists(keys.snapshot(ROOM)) and r.xpending(keys.events(ROOM), keys.GROUP)["pending"] > 0,
                   timeout=20, what="entries applied but not yet checkpointed")
        engine.kill()
        post_all(http, events[half:])
        engine.start()
        assert_matches_reference(http, events)
        # and once more after a clean restart, from the checkpoint alone
        engine.stop()
        engine.start()
        post_all(http, events)  # all duplicates now: nothing may change
        assert_matches_reference(http, events)
    finally:
        http.close()
        engine.stop()
        web.stop()


def test_redis_restart_loses_nothing(tmp_path, redis_dir):
    server, port = redis_dir
    events = session_events(11)
    s = System(server.url, free_port(), tmp_path / "app.log").start()
    try:
        half = len(events) // 2
        post_all(s.http, events[:half])
        server.kill()  # SIGKILL: only what appendfsync-always made durable survives
        server = embedded.start(server.directory, port=port)
        post_all(s.http, events[half:])
        assert_matches_reference(s.http, events)
    finally:
        s.stop()
        server.stop()


def test_app_killed_with_sigkill_restarts_on_its_embedded_redis(tmp_path):
    events = session_events(13)[:600]
    port = free_port()
    args = ["app.py", "--feed", "none", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    admin = {"LIVEWALL_ADMIN_PASSWORD": ADMIN_PASSWORD}
    app = Part(args, env=admin, log=tmp_path / "app.log").start()
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        wait_until(lambda: http.get("/healthz").status_code == 200, timeout=60, what="app up")
        http.close()
        http = sign_in(f"http://127.0.0.1:{port}")   # the session outlives the restart below
        post_all(http, events)
        assert_matches_reference(http, events)
        app.kill()
        # the embedded redis-server follows its parent down (PR_SET_PDEATHSIG) and a new start is not stuck
        app = Part(args, env=admin, log=tmp_path / "app.log").start()
        wait_until(lambda: http.get("/healthz").status_code == 200, timeout=60, what="app up again")
        assert_matches_reference(http, events)
    finally:
        http.close()
        app.stop()


def test_lost_checkpoint_replays_the_whole_log(tmp_path, redis_dir):
    server, _port = redis_dir
    events = session_events(17)
    s = System(server.url, free_port(), tmp_path / "app.log").start()
    try:
        post_all(s.http, events)
        assert_matches_reference(s.http, events)
    finally:
        s.stop()
    r = redis.Redis.from_url(server.url)
    r.delete(keys.state(ROOM), keys.snapshot(ROOM))   # e.g. a checkpoint from an older version, discarded
    s = System(server.url, free_port(), tmp_path / "app.log").start()
    try:
        assert_matches_reference(s.http, events)
    finally:
        s.stop()


def test_parts_stop_promptly_when_redis_is_gone(tmp_path):
    """Stopping livewall while its Redis is down must not hang behind connection retries (nor leave the
    engine and the jobs spinning as orphans)."""
    server = embedded.start(tmp_path / "redis", port=free_port())
    parts = [Part(["-m", "engine", "--redis-url", server.url]).start(),
             Part(["-m", "insights", "--redis-url", server.url, "--every", "1", "--data-dir", str(tmp_path / "data")]).start()]
    wait_until(lambda: redis.Redis.from_url(server.url).hlen(keys.worker_beats("engine")), timeout=20,
               what="the engine's first heartbeat")
    server.proc.kill()
    server.proc.wait()
    for part in parts:
        # twice at once, as when the app dies: its death signal and its own stop request
        part.proc.terminate()
        part.proc.terminate()
    wait_until(lambda: all(p.proc.poll() is not None for p in parts), timeout=8,
               what="engine and insight jobs to exit after SIGTERM with Redis down")


def test_redis_stalls_under_load_lose_nothing(tmp_path, redis_dir):
    """SIGSTOP of Redis for 10 s, three times, under 2,000 events/s: every POST answers within 2 s (503 or
    200), /healthz says 503 within 1 s, all recovers within 10 s, and the rooms' figures equal what the 200s
    acknowledged. A read of new entries that timed out used to be sent again by redis-py's retries, skipping
    the entries the first one had delivered when Redis woke up: counted never, acknowledged later."""
    server, _port = redis_dir
    s = System(server.url, free_port(), tmp_path / "app.log").start()
    load = Load(s.url, rate=2000, senders=2, batch=100, prefix="stall").start()
    try:
        for _ in range(3):
            time.sleep(3)
            stopped = time.monotonic()
            os.kill(server.proc.pid, signal.SIGSTOP)
            try:
                wait_until(lambda: timed_health(s) == 503, timeout=3, what="/healthz 503 while Redis stalls")
                time.sleep(max(0.0, stopped + 10 - time.monotonic()))
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            back = time.monotonic()
            wait_until(lambda: timed_health(s) == 200, timeout=10, what="/healthz 200 after the stall")
            assert time.monotonic() - back < 10
        load.stop()
        assert load.longest() < 2.0, f"a POST took {load.longest():.2f} s"
        statuses = Counter(st for _t, _s, st in load.posts)
        assert statuses[503] > 0 and set(statuses) <= {200, 503}, statuses
        for room in load.rooms():
            assert_counted(s, room, load.expected(room))
    finally:
        load.halt.set()
        os.kill(server.proc.pid, signal.SIGCONT)
        s.stop()


def timed_health(s: System) -> int:
    """/healthz's status, asserting it came within a second."""
    began = time.monotonic()
    status = s.http.get("/healthz", timeout=5).status_code
    assert time.monotonic() - began < 1.0, f"/healthz took {time.monotonic() - began:.2f} s"
    return status


def assert_counted(s: System, room: str, want: Counter, timeout: float = 30) -> None:
    """The room's figures come to equal what was acknowledged (and stay there: nothing counted twice)."""
    seen = []

    def equal():
        r = s.http.get(f"/api/rooms/{room}/metrics")
        seen[:] = [counted(r.json())] if r.status_code == 200 else []
        return seen and seen[0] == want
    try:
        wait_until(equal, timeout=timeout, what=f"{room}'s figures to equal what was acknowledged")
    except AssertionError:
        raise AssertionError(f"{room}: acknowledged {dict(want)}, counted {dict(seen[0]) if seen else None}")
    time.sleep(1.0)
    assert equal(), f"{room}: acknowledged {dict(want)}, counted {dict(seen[0])} a second later"


def test_screens_and_api_say_when_redis_is_away(tmp_path, redis_dir, page):
    """A stalled Redis: the wall's banner says the data source is unavailable, API routes answer 503 JSON
    with Retry-After; when Redis wakes up the banner goes and the wall is live again."""
    server, _port = redis_dir
    s = System(server.url, free_port(), tmp_path / "app.log").start()
    try:
        s.post(live_room("src-a"))
        open_wall(page, s, "room=src-a&lang=en", "src-a")
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            banner = page.wait_for_function(
                "(() => { const w = document.getElementById('wall');"
                " return w?.dataset.conn === 'unavailable' && w.querySelector('.lw-banner').textContent; })()",
                timeout=5000).json_value()
            assert banner == "Data source unavailable — updates resume by themselves"
            for path in ("/api/rooms", "/api/rooms/src-a/metrics", "/api/alerts"):
                began = time.monotonic()
                r = s.http.get(path)
                assert time.monotonic() - began < 2.0, path
                assert r.status_code == 503 and r.headers["retry-after"] == "2", (path, r.status_code, r.text)
                assert r.json()["error"].startswith("data store unavailable"), r.text
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        page.wait_for_function("document.getElementById('wall')?.dataset.conn === 'open'", timeout=10000)
        s.post([ev("src-a", "pay", user="u9", sku="k1", order_id="o9", amount=3.0)])
        page.wait_for_function(f"document.querySelector('{gmv('src-a')}').textContent === '¥600.00'")
        # fresh data, source back: no banner (a room quiet for 10 s would show its age there)
        page.locator(".lw-banner").wait_for(state="hidden", timeout=3000)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        s.stop()
