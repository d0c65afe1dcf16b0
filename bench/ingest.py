"""Ingest throughput end to end, against raw Redis in the same run; engine memory per distinct viewer.

    python -m bench.ingest [--events 200000] [--rooms 20] [--clients 4] [--batch 2000]

1. End to end: POST /api/events (pre-encoded JSON arrays, several clients at once) until every event is
   visible in GET /api/rooms/<room>/metrics, with the web process and the engine as real processes on an
   embedded redis-server configured as the app's (AOF, appendfsync always).
2. Baseline: the same payloads through raw Redis on the same server: pipelined XADD, then XREADGROUP COUNT
   1000 with orjson decoding — the floor any Redis-stream design pays.
3. Engine memory: RSS growth of the in-process engine per distinct viewer, for a room with many viewers.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import socket
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

from bench.live import admin_client  # noqa: E402
from store import embedded  # noqa: E402

T0 = float(int(time.time()) - 3600)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def room_events(room: str, n: int, seed: int) -> list[dict]:
    """A plausible room: viewers arrive, leave, look at and buy products, comment and like."""
    rng = random.Random(seed)
    out: list[dict] = []
    t = T0
    inside: list[str] = []
    k = 0
    out.append({"id": f"{room}-start", "room": room, "ts": t, "type": "session_start", "platform": "douyin",
                "title": "bench"})
    for sku in range(8):
        out.append({"id": f"{room}-p{sku}", "room": room, "ts": t, "type": "product_on", "sku": f"sku{sku}",
                    "name": f"商品{sku}", "price": 99.0, "cost": 40.0, "stock": 100000})
    while len(out) < n:
        t += rng.expovariate(50.0)
        k += 1
        x = rng.random()
        eid = f"{room}-{k}"
        if x < 0.30 or not inside:
            user = f"{room}-u{k}"
            inside.append(user)
            out.append({"id": eid, "room": room, "ts": t, "type": "enter", "user": user,
                        "source": rng.choice(("recommend", "paid", "follow", "search"))})
        elif x < 0.55:
            user = inside.pop(rng.randrange(len(inside)))
            out.append({"id": eid, "room": room, "ts": t, "type": "leave", "user": user})
        elif x < 0.75:
            out.append({"id": eid, "room": room, "ts": t, "type": "product_view", "user": rng.choice(inside),
                        "sku": f"sku{rng.randrange(8)}"})
        elif x < 0.85:
            out.append({"id": eid, "room": room, "ts": t, "type": "product_click", "user": rng.choice(inside),
                        "sku": f"sku{rng.randrange(8)}"})
        elif x < 0.90:
            out.append({"id": eid, "room": room, "ts": t, "type": "pay", "user": rng.choice(inside),
                        "sku": f"sku{rng.randrange(8)}", "order_id": f"{room}-o{k}", "amount": 99.0})
        elif x < 0.95:
            out.append({"id": eid, "room": room, "ts": t, "type": "comment", "user": rng.choice(inside),
                        "text": "主播好，这个还有吗"})
        else:
            out.append({"id": eid, "room": room, "ts": t, "type": "like", "user": rng.choice(inside), "count": 3})
    return out[:n]


def workload(total: int, rooms: int) -> list[dict]:
    per = total // rooms
    by_room = [room_events(f"bench-{i:02d}", per, i) for i in range(rooms)]
    # interleave rooms the way a live feed would
    return [ev for group in zip(*by_room) for ev in group]


def end_to_end(events: list[dict], clients: int, batch: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="lw-bench-"))
    server = embedded.start(tmp / "redis", port=free_port())
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    web = subprocess.Popen([sys.executable, "-m", "server", "--redis-url", server.url, "--port", str(port)],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = subprocess.Popen([sys.executable, "-m", "engine", "--redis-url", server.url], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        reader = admin_client(url, server.url)   # signed in before the clock starts
        bodies = [orjson.dumps(events[i:i + batch]) for i in range(0, len(events), batch)]
        final = {}
        for ev in events:
            final[ev["room"]] = max(final.get(ev["room"], 0.0), ev["ts"])
        accepted = [0]
        lock = threading.Lock()

        def poster(part: list[bytes]) -> None:
            with httpx.Client(base_url=url, timeout=120) as c:
                for body in part:
                    resp = c.post("/api/events", content=body, headers={"Content-Type": "application/json"})
                    resp.raise_for_status()
                    with lock:
                        accepted[0] += resp.json()["accepted"]

        start = time.perf_counter()
        threads = [threading.Thread(target=poster, args=(bodies[i::clients],)) for i in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        posted = time.perf_counter() - start
        pending = dict(final)
        while pending:
            for room in list(pending):
                resp = reader.get(f"/api/rooms/{room}/metrics")
                if resp.status_code == 200 and resp.json()["as_of"] >= pending[room]:
                    del pending[room]
            if pending:
                time.sleep(0.01)
        reader.close()
        visible = time.perf_counter() - start
        assert accepted[0] == len(events), f"accepted {accepted[0]} of {len(events)}"
        return {"posted_s": posted, "visible_s": visible, "redis": server, "tmp": tmp}
    finally:
        web.terminate()
        engine.terminate()
        web.wait()
        engine.wait()


def raw_baseline(server, events: list[dict]) -> float:
    """Pipelined XADD of the same payloads, then XREADGROUP COUNT 1000 with decoding; seconds."""
    r = redis.Redis.from_url(server.url)
    payloads = [(f"raw:{{{ev['room']}}}", orjson.dumps(ev)) for ev in events]
    streams = sorted({k for k, _ in payloads})
    start = time.perf_counter()
    pipe = r.pipeline(transaction=False)
    for i, (key, blob) in enumerate(payloads, 1):
        pipe.xadd(key, {"e": blob})
        if i % 1000 == 0:
            pipe.execute()
    pipe.execute()
    for key in streams:
        r.xgroup_create(key, "g", id="0")
    n = 0
    while True:
        got = r.xreadgroup("g", "c", {k: ">" for k in streams}, count=1000)
        if not got:
            break
        for _key, entries in got:
            for _id, fields in entries:
                orjson.loads(fields[b"e"])
                n += 1
    elapsed = time.perf_counter() - start
    assert n == len(events)
    return elapsed


def memory_per_viewer(viewers: int) -> tuple[float, int]:
    """RSS growth of the engine's state per distinct viewer: each one sees the room, enters, looks at a
    product, and (mostly) leaves — the common shape of a live-room visit."""
    from engine.room import Room
    rng = random.Random(1)
    gc.collect()
    proc = psutil.Process()
    before = proc.memory_info().rss
    room = Room("mem")
    seq = 0
    room.apply({"id": "s", "room": "mem", "ts": T0, "type": "session_start"}, seq)
    t = T0
    for i in range(viewers):
        t += 0.01
        user = f"user-{i:08d}"
        for ev in ({"type": "impression", "user": user}, {"type": "enter", "user": user, "source": "recommend"},
                   {"type": "product_view", "user": user, "sku": f"sku{i % 10}"}):
            seq += 1
            room.apply({"id": str(seq), "room": "mem", "ts": t, **ev}, seq)
        if rng.random() < 0.9:
            seq += 1
            room.apply({"id": str(seq), "room": "mem", "ts": t + rng.uniform(0.5, 300), "type": "leave",
                        "user": user}, seq)
        if i % 1000 == 0:
            room.current.metrics()  # the engine takes a snapshot several times a second
    room.current.metrics()
    gc.collect()
    grown = proc.memory_info().rss - before
    return grown / viewers, viewers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--rooms", type=int, default=20)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--viewers", type=int, default=200_000, help="distinct viewers for the memory figure")
    a = p.parse_args()
    # first, in a fresh heap: later runs reuse freed memory and would hide the engine's growth
    per_viewer, n = memory_per_viewer(a.viewers)
    events = workload(a.events, a.rooms)
    viewers = len({e["user"] for e in events if e["type"] == "enter"})
    print(f"workload: {len(events):,} events over {a.rooms} rooms, {viewers:,} distinct viewers; "
          f"{a.clients} clients posting batches of {a.batch}")
    e2e = end_to_end(events, a.clients, a.batch)
    raw = raw_baseline(e2e["redis"], events)
    e2e["redis"].stop()
    e2e_rate = len(events) / e2e["visible_s"]
    raw_rate = len(events) / raw
    print()
    print("| figure | livewall | raw Redis baseline | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| events/s, POST to visible in GET /metrics | {e2e_rate:,.0f} | {raw_rate:,.0f} "
          f"(XADD pipelined + XREADGROUP) | {e2e_rate / raw_rate:.2f} | ≥ 50,000/s, ratio ≥ 0.5 |")
    print(f"| seconds for {len(events):,} events (all POSTs answered / all visible) | "
          f"{e2e['posted_s']:.2f} / {e2e['visible_s']:.2f} | {raw:.2f} | | |")
    print(f"| engine memory per distinct viewer ({n:,} viewers) | {per_viewer:.0f} B | | | ≤ 200 B |")


if __name__ == "__main__":
    main()
