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
fault and the seconds until /healthz was 200 again (for a killed part: with that part back under a new pid).
"Figures" are the visits, paid orders, comments and like counts the events add up to. Only loopback
traffic; it stops by itself.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
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
    c = Counter(events=len(events))
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
            feed = feeds.setdefault(room, RoomFeed(room, zlib.crc32(room.encode())))
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

    def expected(self, room: str) -> Counter:
        """The figures livewall should count for the room: what the 200s acknowledged."""
        return Counter({k: self.acked[room][k] for k in FIGURES})

    def longest(self, since: float = 0.0, until: float = float("inf")) -> float:
        with self.lock:
            return max((s for t, s, _ in self.posts if since <= t < until), default=0.0)


KINDS = ("engine", "insights", "redis", "stall", "app")
STALL_S = 10.0


class App:
    """`python app.py --feed none` on a data dir of its own, started again after a SIGKILL."""

    def __init__(self, data: Path, port: int):
        self.args = [sys.executable, "app.py", "--feed", "none", "--port", str(port), "--data-dir", str(data),
                     "--insights-every", "1"]
        self.log = open(data.parent / "app.log", "ab")
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=2.0)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def health(self) -> tuple[int, dict | None]:
        try:
            r = self.http.get("/healthz")
        except httpx.HTTPError:
            return 0, None
        return r.status_code, r.json()

    def healthy(self) -> dict | None:
        status, body = self.health()
        return body if status == 200 else None

    def wait_healthy(self, timeout: float = 180.0, gone: tuple[str, int] | None = None) -> float:
        """Seconds until /healthz is 200 (and shows part `gone[0]` up with a pid other than `gone[1]`); inf
        when it was not within `timeout` (the run goes on, and says so)."""
        began = time.monotonic()
        while not ((h := self.healthy()) and (gone is None or h["parts"][gone[0]]["pid"] != gone[1])):
            if time.monotonic() - began > timeout:
                print(f"not healthy after {timeout:.0f} s: {self.health()}", flush=True)
                return float("inf")
            time.sleep(0.1)
        return time.monotonic() - began

    def pid(self, part: str) -> int:
        return self.health()[1]["parts"][part]["pid"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def strike(app: App, kind: str) -> tuple[str, int] | None:
    """One fault; returns when it is over (a stall once Redis goes on, a kill at once), with the part killed
    and its pid, to be seen back under another."""
    if kind == "app":
        app.proc.kill()
        app.proc.wait()
        app.start()
        return None
    if kind == "stall":
        pid = app.pid("redis")
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(STALL_S)
        finally:
            os.kill(pid, signal.SIGCONT)
        return None
    pid = app.pid(kind)
    os.kill(pid, signal.SIGKILL)
    return kind, pid


def settle(app: App, load: Load, rooms: list[str], quiet_s: float = 60.0) -> dict[str, Counter]:
    """Every room's counted figures, once they equal what was acknowledged or stop changing for quiet_s."""
    last: dict[str, Counter] = {}
    changed = time.monotonic()
    while True:
        now = {}
        for room in rooms:
            try:
                r = app.http.get(f"/api/rooms/{room}/metrics")
                now[room] = counted(r.json()) if r.status_code == 200 else Counter()
            except httpx.HTTPError:
                now[room] = last.get(room, Counter())
        if all(now[room] == load.expected(room) for room in rooms):
            return now
        if now != last:
            last, changed = now, time.monotonic()
        elif time.monotonic() - changed > quiet_s:
            return now
        time.sleep(1.0)


def table(faults: list[dict], load: Load, got: dict[str, Counter]) -> str:
    rows = ["| fault | times | events acknowledged | figures acknowledged | counted | lost | double counted "
            "| GMV off (¥) | longest POST (s) | recovery (s, max) |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in ("none", *KINDS):
        mine = [f for f in faults if f["kind"] == kind]
        if not mine:
            continue
        acked, figures, count, lost, double, gmv = 0, 0, 0, 0, 0, 0
        for f in mine:
            for room in f["rooms"]:
                want, have = load.expected(room), got[room]
                acked += load.acked[room]["events"]
                for k in FIGURES:
                    if k == "gmv":
                        gmv += have[k] - want[k]
                        continue
                    figures += want[k]
                    count += have[k]
                    lost += max(0, want[k] - have[k])
                    double += max(0, have[k] - want[k])
        longest = max(load.longest(f["began"], f["until"]) for f in mine)
        recovery = max(f["recovery_s"] for f in mine)
        rows.append(f"| {'(between faults)' if kind == 'none' else kind} | {len(mine) if kind != 'none' else '-'} "
                    f"| {acked:,} | {figures:,} | {count:,} | {lost} | {double} | {gmv / 100:,.2f} | {longest:.2f} "
                    f"| {recovery:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=5000.0, help="events per second, all senders together")
    p.add_argument("--faults", type=int, default=None, help="how many (default: 2 a minute, 20 in 10 minutes)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    n = a.faults or max(1, round(2 * a.minutes))
    kinds = []
    while len(kinds) < n:   # every kind as often as the others, in random order
        kinds += rng.sample(KINDS, len(KINDS))
    kinds = kinds[:n]
    tmp = Path(tempfile.mkdtemp(prefix="lw-chaos-"))
    app = App(tmp / "data", free_port())
    app.start()
    if app.wait_healthy() == float("inf"):
        raise SystemExit(f"livewall did not start: see {app.log.name}")
    print(f"livewall up ({app.url}, {tmp}); {a.rate:.0f} events/s for {a.minutes} min, {n} faults", flush=True)
    load = Load(app.url, a.rate, senders=4, batch=250, prefix="calm-0").start()
    began = time.monotonic()
    end = began + a.minutes * 60
    slot = (end - began) / (n + 1)
    faults = [{"kind": "none", "rooms": load.rooms(), "began": began, "recovery_s": 0.0}]
    try:
        for i, kind in enumerate(kinds):
            time.sleep(max(0.0, began + slot * (i + 1) + rng.uniform(0, slot / 3) - time.monotonic()))
            prefix = f"f{i:02d}-{kind}"
            load.switch(prefix)
            f = {"kind": kind, "rooms": load.rooms(prefix), "began": time.monotonic()}
            faults[-1]["until"] = f["began"]
            f["recovery_s"] = app.wait_healthy(gone=strike(app, kind))
            faults.append(f)
            print(f"{time.monotonic() - began:6.1f} s  {kind:8s} recovered in {f['recovery_s']:.1f} s", flush=True)
            if kind != "none" and time.monotonic() < end - slot / 2:
                load.switch(f"calm-{i + 1}")
                faults.append({"kind": "none", "rooms": load.rooms(), "began": time.monotonic(), "recovery_s": 0.0})
                faults[-2]["until"] = faults[-1]["began"]
        time.sleep(max(0.0, end - time.monotonic()))
        load.stop()
        faults[-1]["until"] = time.monotonic()
        rooms = [room for f in faults for room in f["rooms"]]
        got = settle(app, load, rooms)
        print()
        print(table(faults, load, got))
    finally:
        load.halt.set()
        app.stop()
        shutil.rmtree(tmp / "data", ignore_errors=True)   # the append-only file: hundreds of MB
        print(f"app log: {app.log.name}")


if __name__ == "__main__":
    main()
