"""The publisher against a real ingest server (uvicorn + POST /api/events + a real redis-server)."""
from __future__ import annotations

import contextlib
import threading
import time

import orjson
import pytest
import redis
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from feeds import ingest
from feeds.publisher import Publisher, PublishError
from feeds.simulator import simulate_session
from server import guard
from settings import LOOPBACK_HOSTS
from store import keys
from store.connect import async_client
from tests.conftest import free_port, wait_until

START = float(int(time.time()) - 3600)


@contextlib.contextmanager
def serving(redis_url: str, port: int, token: str | None = None, app: FastAPI | None = None):
    """An ingest server on 127.0.0.1:port, in a thread, until the block ends; behind the app's checks
    (server/guard.py), which resolve the bearer token."""
    app = app or FastAPI()
    r = async_client(redis_url)
    ingest.add_routes(app, r, token)
    app.add_middleware(guard.Guard, r=r, allowed_hosts=frozenset(LOOPBACK_HOSTS), ingest_token=token)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what="the ingest server")
        assert server.started
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def stored(redis_url: str, room: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return client.xlen(keys.events(room))
    finally:
        client.close()


@pytest.fixture(scope="module")
def events():
    return simulate_session("douyin-07", 1, 120, START)


def test_batches_duplicates_and_rejections(redis_url, events):
    bad = {"id": "bad-1", "room": "douyin-07", "ts": START, "type": "teleport"}
    with serving(redis_url, free_port()) as url, Publisher(url, batch_size=400) as pub:
        pub.send_many(events[:1000])
        pub.send(bad)
        pub.send_many(events[1000:])
        first = pub.flush()
        assert (first["accepted"], first["duplicates"]) == (len(events), 0)
        assert [(r["index"], r["id"]) for r in first["rejected"]] == [(1000, "bad-1")]
        assert "teleport" in first["rejected"][0]["error"] or "type" in first["rejected"][0]["error"]
        pub.send_many(events)
        assert pub.flush() == {"accepted": 0, "duplicates": len(events), "rejected": []}
    assert stored(redis_url, "douyin-07") == len(events)


def test_a_lone_event_goes_out_after_max_wait(redis_url, events):
    with serving(redis_url, free_port()) as url, Publisher(url, max_wait_s=0.05) as pub:
        for ev in events[:7]:
            pub.send(ev)
        wait_until(lambda: stored(redis_url, "douyin-07") == 7, what="the timer's flush")
        assert pub.flush()["accepted"] == 7   # what the background flush got back, reported here


def test_token(redis_url, events):
    with serving(redis_url, free_port(), token="s3cret") as url:
        with Publisher(url) as pub:
            pub.send_many(events[:10])
            with pytest.raises(PublishError) as refused:
                pub.flush()
            assert refused.value.status == 401 and "token" in str(refused.value)
            assert pub.flush()["accepted"] == 0   # the refused batch was dropped, not retried forever
        assert stored(redis_url, "douyin-07") == 0
        with Publisher(url, token="s3cret") as pub:
            pub.send_many(events[:10])
            assert pub.flush()["accepted"] == 10


def test_retries_until_the_server_comes_up(redis_url, events):
    port = free_port()
    pub = Publisher(f"http://127.0.0.1:{port}", retry_for_s=0.3)
    pub.send_many(events[:50])
    with pytest.raises(PublishError) as down:
        pub.flush()
    assert down.value.status is None   # unreachable, and the events are still buffered

    pub.retry_for_s = 30
    result = {}
    sender = threading.Thread(target=lambda: result.update(pub.flush()))
    sender.start()
    with serving(redis_url, port):
        sender.join(30)
        pub.close()
    assert result["accepted"] == 50 and stored(redis_url, "douyin-07") == 50


def test_server_errors_are_retried(redis_url, events):
    app = FastAPI()
    failures = {"left": 2}

    @app.middleware("http")
    async def unavailable_twice(request: Request, call_next):
        if failures["left"]:
            failures["left"] -= 1
            return JSONResponse({"error": "warming up"}, status_code=503)
        return await call_next(request)

    with serving(redis_url, free_port(), app=app) as url, Publisher(url) as pub:
        pub.send_many(events[:20])
        assert pub.flush()["accepted"] == 20
    assert failures["left"] == 0


def test_large_batches_are_split_below_the_body_limit(redis_url, events):
    padded = [{**ev, "id": f"pad-{i}", "note": "x" * 6000} for i, ev in enumerate(events[:1200])]
    assert len(orjson.dumps(padded)) > 6 * 1024 * 1024
    with serving(redis_url, free_port()) as url, Publisher(url, batch_size=5000) as pub:
        pub.send_many(padded)
        assert pub.flush()["accepted"] == len(padded)


def test_batches_over_the_event_limit_or_refused_with_413_are_halved(redis_url):
    app = FastAPI()
    seen = []

    @app.middleware("http")
    async def tighter_limit(request: Request, call_next):
        body = await request.body()
        seen.append(body.count(b'"id"'))
        if seen[-1] > 3000:   # a server with a tighter limit than ours; it stores nothing
            return JSONResponse({"error": "too many events"}, status_code=413)
        return await call_next(request)

    many = [{"id": f"many-{i}", "room": "many", "ts": START + i / 100, "type": "enter", "user": f"u{i}"}
            for i in range(10_500)]
    with serving(redis_url, free_port(), app=app) as url, Publisher(url, batch_size=20_000) as pub:
        pub.send_many(many)
        assert pub.flush() == {"accepted": 10_500, "duplicates": 0, "rejected": []}
    assert max(seen) <= 10_000 and any(n > 3000 for n in seen)   # split by count first, then on the 413
    assert stored(redis_url, "many") == 10_500
