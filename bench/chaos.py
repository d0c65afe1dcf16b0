"""Chaos: livewall under steady load while its parts are killed and its Redis stalls, counted independently.

    python -m bench.chaos [--minutes 10] [--rate 5000] [--faults 20] [--seed 1]

`python app.py` runs for real (embedded Redis in a temporary data dir, its supervisor, no simulator) while
sender threads post events at `--rate` events/s. At random times a fault strikes: SIGKILL of the engine, of
the insight jobs or of the embedded Redis; a 10 s SIGSTOP of Redis; or a SIGKILL of the whole app, started
again at once on the same data dir. Every batch is sent again, with the same ids, until it is answered 200:
what was acknowledged is then known outside livewall. Each fault's traffic goes to a room of its own, so
that at the end each room's counted figures (visits, paid orders, GMV, comments, likes from GET
/api/rooms/<room>/metrics) can be set against what was acknowledged for it: lost where fewer were counted,
double counted where more. The table sums them per fault kind, with the longest POST answer during the
fault and the seconds until /healthz was 200 again. Only loopback traffic; it stops by itself.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIGURES = ("visits", "paid_orders", "gmv", "comments", "likes")   # what a sender counts as it is acknowledged


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RoomFeed:
    """A plausible room's events, with the figures they add up to kept beside them."""

    def __init__(self, room: str, seed: int):
        self.room = room
        self.rng = random.Random(seed)
        self.k = 0
        self.inside: list[str] = []
        self.started = False

    def _ev(self, type: str, **fields) -> dict:
        self.k += 1
        return {"id": f"{self.room}-{self.k}", "room": self.room, "ts": round(time.time(), 3), "type": type,
                **fields}

    def batch(self, n: int) -> list[dict]:
        out = []
        if not self.started:
            self.started = True
            out.append(self._ev("session_start", platform="douyin", title="chaos"))
            out.append(self._ev("product_on", sku="sku0", name="商品", price=99.0, cost=40.0, stock=10 ** 9))
        while len(out) < n:
            x = self.rng.random()
            if x < 0.35 or not self.inside:
                user = f"{self.room}-u{self.k}"
                self.inside.append(user)
                out.append(self._ev("enter", user=user, source=self.rng.choice(("recommend", "paid", "follow"))))
            elif x < 0.55:
                out.append(self._ev("leave", user=self.inside.pop(self.rng.randrange(len(self.inside)))))
            elif x < 0.75:
                out.append(self._ev("pay", user=self.rng.choice(self.inside), sku="sku0", order_id=f"o{self.k}",
                                    amount=self.rng.randrange(100, 100000) / 100))
            elif x < 0.9:
                out.append(self._ev("comment", user=self.rng.choice(self.inside), text="还有吗"))
            else:
                out.append(self._ev("like", user=self.rng.choice(self.inside), count=self.rng.randrange(1, 5)))
        return out


def figures_of(events: list[dict]) -> Counter:
    """What these events add to a room's figures, counted here, not by livewall (GMV in cents)."""
    c = Counter()
    for e in events:
        t = e["type"]
        if t == "enter":
            c["visits"] += 1
        elif t == "pay":
            c["paid_orders"] += 1
            c["gmv"] += round(e["amount"] * 100)
        elif t == "comment":
            c["comments"] += 1
        elif t == "like":
            c["likes"] += e["count"]
    return c


def counted(metrics: dict) -> Counter:
    return Counter({"visits": metrics["visits"], "paid_orders": metrics["paid_orders"],
                    "gmv": round(metrics["gmv"] * 100), "comments": metrics["comments"], "likes": metrics["likes"]})


class Load:
    """Sender threads posting at `rate` events/s in all, each batch sent again (same ids) until answered
    200. `acked[room]` is what the 200s acknowledged; `posts` is every answer as (monotonic start, seconds,
    status or the error's name). `switch(prefix)` sends later batches to new rooms (one per sender)."""

    def __init__(self, url: str, rate: float, senders: int = 2, batch: int = 100, prefix: str = "load",
                 headers: dict | None = None):
        self.url = url
        self.rate = rate
        self.senders = senders
        self.size = batch
        self.headers = headers or {}
        self.acked: dict[str, Counter] = defaultdict(Counter)
        self.posts: list[tuple[float, float, object]] = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.prefix = prefix
        self.threads: list[threading.Thread] = []

    def rooms(self, prefix: str | None = None) -> list[str]:
        return [f"{prefix or self.prefix}-{i}" for i in range(self.senders)]

    def switch(self, prefix: str) -> None:
        self.prefix = prefix

    def start(self) -> "Load":
        for i in range(self.senders):
            t = threading.Thread(target=self._send, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self) -> None:
        """Stop sending new batches; the ones on their way are sent until acknowledged."""
        self.halt.set()
        for t in self.threads:
            t.join()

    def _send(self, i: int) -> None:
        every = self.size * self.senders / self.rate
        feeds: dict[str, RoomFeed] = {}
        http = httpx.Client(base_url=self.url, timeout=10.0, headers=self.headers)
        due = time.monotonic()
        while not self.halt.is_set():
            room = f"{self.prefix}-{i}"
            feed = feeds.setdefault(room, RoomFeed(room, hash(room) & 0xFFFF))
            events = feed.batch(self.size)
            while True:   # the same batch until it is acknowledged
                began = time.monotonic()
                try:
                    resp = http.post("/api/events", json=events)
                    status: object = resp.status_code
                except httpx.HTTPError as e:
                    status = type(e).__name__
                with self.lock:
                    self.posts.append((began, time.monotonic() - began, status))
                if status == 200:
                    assert not resp.json()["rejected"], resp.text
                    with self.lock:
                        self.acked[room] += figures_of(events)
                    break
                time.sleep(0.2)
            due += every
            time.sleep(max(0.0, due - time.monotonic()))
            due = max(due, time.monotonic() - 1.0)   # behind after a fault: catch up, but not all at once
        http.close()

    def longest(self, since: float = 0.0, until: float = float("inf")) -> float:
        with self.lock:
            return max((s for t, s, _ in self.posts if since <= t < until), default=0.0)
