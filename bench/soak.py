"""Soak: livewall under steady load for a long time, with many screens watching.

    python -m bench.soak [--minutes 30] [--rate 20000] [--rooms 50] [--clients 200] [--workers 2]

`python app.py --feed none --engine-workers W` on its own redis-server (AOF, appendfsync always), a loader
process posting --rate events/s across --rooms rooms (each event stamped with the wall clock as it is sent),
and --clients websocket screens (one process, asyncio) signed in with a share link's cookie, each watching one
room. It prints:
  - RSS of every process (web, each engine worker, insight jobs, redis-server, loader, screens) at the start
    (screens connected, load running) and at the end;
  - per minute: events posted, frames received, latency percentiles of event -> screen (the moment a frame
    reaches a screen minus its `as_of`, the stamp of the newest event in it; one machine, one clock);
  - frames dropped: frames the engine published for a screen's room (counted by a subscriber of our own)
    that the screen never received (a slow screen skips to the latest frame by design).
Bounded by its arguments: it stops after --minutes whatever happens.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port  # noqa: E402
from bench.scale import rss_mb  # noqa: E402
from store import embedded, keys  # noqa: E402

BATCH = 500
PASSWORD = "soak-" + "x" * 20


def events_for(rooms: list[str], start: int, n: int, rng: random.Random, inside: dict) -> list[dict]:
    """n plausible events across the rooms, stamped now."""
    now = time.time()
    out = []
    for i in range(start, start + n):
        r = rooms[i % len(rooms)]
        x = rng.random()
        e = {"id": f"{r}-{i}", "room": r, "ts": now}
        if x < 0.25 or not inside[r]:
            user = f"u{i}"
            inside[r].append(user)
            e.update(type="enter", user=user, source=rng.choice(("recommend", "paid", "follow", "search")))
        elif x < 0.45:
            e.update(type="leave", user=inside[r].pop(rng.randrange(len(inside[r]))))
        elif x < 0.70:
            e.update(type="product_view", user=rng.choice(inside[r]), sku=f"s{rng.randrange(8)}")
        elif x < 0.80:
            e.update(type="product_click", user=rng.choice(inside[r]), sku=f"s{rng.randrange(8)}")
        elif x < 0.85:
            e.update(type="pay", user=rng.choice(inside[r]), sku=f"s{rng.randrange(8)}", order_id=f"o{i}",
                     amount=99.0)
        elif x < 0.95:
            e.update(type="comment", user=rng.choice(inside[r]), text="主播好，这个还有吗")
        else:
            e.update(type="like", user=rng.choice(inside[r]), count=rng.randint(1, 20))
        out.append(e)
    return out


def loader(url: str, cookie: str, rooms: list[str], rate: int, seconds: float, posted, late) -> None:
    """Posts `rate` events/s for `seconds`, in batches on a fixed schedule (behind schedule: no sleep)."""
    rng = random.Random(1)
    inside = {r: [] for r in rooms}
    client = httpx.Client(base_url=url, timeout=60, headers={"Content-Type": "application/json"},
                          cookies={"lw_session": cookie})
    now = time.time()
    opening = [{"id": f"{r}-start", "room": r, "ts": now, "type": "session_start", "platform": "douyin",
                "title": "soak"} for r in rooms]
    opening += [{"id": f"{r}-on{k}", "room": r, "ts": now, "type": "product_on", "sku": f"s{k}", "name": f"商品{k}",
                 "price": 99.0, "stock": 10 ** 9} for r in rooms for k in range(8)]
    client.post("/api/events", content=orjson.dumps(opening)).raise_for_status()
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < seconds:
        delay = start + k * BATCH / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:
            late.value += 1
        body = orjson.dumps(events_for(rooms, k * BATCH, BATCH, rng, inside))
        while True:
            resp = client.post("/api/events", content=body)
            if resp.status_code != 503:
                break
            time.sleep(0.2)   # sent again: the ids make a second copy a duplicate
        resp.raise_for_status()
        posted.value += BATCH
        k += 1


async def screens(url: str, cookie: str, rooms: list[str], n: int, seconds: float, ready, out) -> None:
    import websockets
    minute0 = [0.0]
    samples: dict[int, list[float]] = {}
    received: dict[str, int] = {}
    counting = {"on": False}
    gate = asyncio.Semaphore(50)
    connected = [0]
    all_in = asyncio.Event()

    async def screen(i: int):
        room = rooms[i % len(rooms)]
        async with gate:
            ws = await websockets.connect(f"{url}/ws?rooms={room}", max_size=None, open_timeout=60,
                                          ping_interval=None, additional_headers={"Cookie": f"lw_session={cookie}"},
                                          origin=url.replace("ws://", "http://"))
        connected[0] += 1
        if connected[0] == n:
            all_in.set()
        key = f"{i}"
        try:
            async for msg in ws:
                if not counting["on"] or not msg.startswith('{"kind":"frame"'):
                    continue
                now = time.time()
                frame = orjson.loads(msg)
                received[key] = received.get(key, 0) + 1
                as_of = (frame.get("metrics") or {}).get("as_of")
                if as_of:
                    samples.setdefault(int((now - minute0[0]) // 60), []).append(now - as_of)
        except websockets.ConnectionClosed:
            pass

    tasks = [asyncio.create_task(screen(i)) for i in range(n)]
    await asyncio.wait_for(all_in.wait(), 180)
    minute0[0] = time.time()
    counting["on"] = True
    ready.set()
    await asyncio.sleep(seconds)
    counting["on"] = False
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out.put((samples, received))


def run_screens(*args) -> None:
    asyncio.run(screens(*args))


def count_published(redis_url: str, stop: threading.Event, counts: dict, counting: threading.Event) -> None:
    """Frames the engine workers publish, per room, while `counting`."""
    r = redis.Redis.from_url(redis_url)
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.psubscribe(keys.FRAMES_PATTERN)
    while not stop.is_set():
        msg = ps.get_message(timeout=0.2)
        if msg and counting.is_set():
            room = msg["channel"].decode().rsplit(":", 1)[-1]
            counts[room] = counts.get(room, 0) + 1
    ps.close()


def processes(app: psutil.Process, others: dict[str, int]) -> dict[str, int]:
    """name -> pid of every process of the run."""
    out = {"web (app.py)": app.pid}
    engines = 0
    for child in app.children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "-m engine" in cmd:
            engines += 1
            out[f"engine worker {engines}"] = child.pid
        elif "-m insights" in cmd:
            out["insight jobs"] = child.pid
    return {**out, **others}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=int, default=20_000, help="events per second")
    p.add_argument("--rooms", type=int, default=50)
    p.add_argument("--clients", type=int, default=200, help="websocket screens")
    p.add_argument("--workers", type=int, default=2, help="engine workers")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lw-soak-"))
    server = embedded.start(tmp / "redis", port=free_port())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LIVEWALL_ADMIN_PASSWORD": PASSWORD}
    app = subprocess.Popen([sys.executable, "app.py", "--feed", "none", "--port", str(port), "--redis-url",
                            server.url, "--engine-workers", str(a.workers)], cwd=ROOT, env=env,
                           stdout=open(tmp / "app.log", "ab"), stderr=subprocess.STDOUT)
    rooms = [f"soak-{i:02d}" for i in range(a.rooms)]
    seconds = a.minutes * 60
    ctx = mp.get_context("spawn")
    stop = threading.Event()
    loading = screening = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        login = httpx.post(f"{url}/api/login", json={"user": "admin", "password": PASSWORD})
        login.raise_for_status()
        cookie = login.cookies["lw_session"]
        posted, late = ctx.Value("q", 0), ctx.Value("q", 0)
        loading = ctx.Process(target=loader, args=(url, cookie, rooms, a.rate, seconds + 30, posted, late),
                              daemon=True)
        loading.start()
        # the rooms exist once the loader's first batch is in: then the screens connect
        r = redis.Redis.from_url(server.url)
        while r.scard(keys.ROOMS) < a.rooms and time.monotonic() < deadline + 60:
            time.sleep(0.1)
        counts: dict[str, int] = {}
        counting = threading.Event()
        sub = threading.Thread(target=count_published, args=(server.url, stop, counts, counting), daemon=True)
        sub.start()
        ready, out = ctx.Event(), ctx.Queue()
        screening = ctx.Process(target=run_screens, args=(url.replace("http://", "ws://"), cookie, rooms,
                                                          a.clients, seconds, ready, out), daemon=True)
        screening.start()
        if not ready.wait(240):
            raise RuntimeError("the screens did not connect")
        counting.set()
        began, posted0 = time.monotonic(), posted.value
        procs = processes(psutil.Process(app.pid), {"redis-server": server.proc.pid, "loader": loading.pid,
                                                    "screens": screening.pid})
        rss0 = {name: rss_mb(pid) for name, pid in procs.items()}
        print(f"soak: {a.minutes:g} min at {a.rate:,} events/s over {a.rooms} rooms, {a.clients} screens, "
              f"{a.workers} engine workers", flush=True)
        marks = []
        while time.monotonic() - began < seconds:
            time.sleep(min(60.0, seconds - (time.monotonic() - began)))
            marks.append(posted.value)
            print(f"  minute {len(marks)}: {(marks[-1] - (marks[-2] if len(marks) > 1 else posted0)) / 60:,.0f} "
                  f"events/s posted", flush=True)
        counting.clear()
        samples, received = out.get(timeout=120)
        rss1 = {name: rss_mb(pid) for name, pid in procs.items()}
        health = httpx.get(f"{url}/healthz", timeout=5).json()
    finally:
        stop.set()
        for proc in (loading, screening):
            if proc is not None and proc.is_alive():
                proc.terminate()
                proc.join(5)
        app.terminate()
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - began
    print()
    print(f"events posted: {posted.value - posted0:,} in {elapsed:.0f} s ({(posted.value - posted0) / elapsed:,.0f}/s; "
          f"{late.value} batches over a second behind schedule)")
    published = sum(counts.get(rooms[i % len(rooms)], 0) for i in range(a.clients))
    got = sum(received.values())
    print(f"frames: {published:,} published for the screens' rooms, {got:,} received, "
          f"{max(0, published - got):,} dropped ({max(0, published - got) / max(published, 1):.2%})")
    print()
    print("| minute | frames received | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for m in sorted(samples):
        xs = samples[m]
        print(f"| {m + 1} | {len(xs):,} | {pct(xs, .5) * 1000:.0f} | {pct(xs, .95) * 1000:.0f} | "
              f"{pct(xs, .99) * 1000:.0f} | {max(xs) * 1000:.0f} |")
    print()
    print("| process | RSS start MB | RSS end MB |")
    print("|---|---|---|")
    for name in procs:
        print(f"| {name} | {rss0[name]:.0f} | {rss1[name]:.0f} |")
    print()
    print(f"/healthz at the end: ok={health.get('ok')}, lag_s={health.get('lag_s')}, "
          f"workers={ {w: v['rooms'] for w, v in (health.get('engine_workers') or {}).items()} }")


if __name__ == "__main__":
    main()
