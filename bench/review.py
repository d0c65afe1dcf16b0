"""A review of a session with 100,000 products: the response size and time of GET /api/sessions/<id>/review.

    python -m bench.review [--products 100000] [--runs 5]

Builds the session's review the way the archive job does (insights/review.py `build_review`, with synthetic
engine figures: 100,000 product rows, half of them with a known cost; no events, so no segments), archives it
(store/archive.py) in a temporary data dir, starts a real web process (`python -m server`) on an embedded Redis,
signs in, opens another session's review once (the process's first use of Parquet), then times the review's
first page (first: the archive is read and parsed; then: later reads), a search (?q=) and a sort on profit. The baseline is the review as it was before paging: every product row in
one JSON body (built and serialised in this process, not even sent), which is what the manager's page used
to fetch.
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from insights.review import build_review, records
from store import archive, embedded
from store.connect import sync_client

ROOM = "bench-review"
PASSWORD = "bench-review-" + "x" * 12


def figures(n: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    products, gmv_c, units_all = [], 0, 0
    for i in range(n):
        price = round(rng.uniform(9.9, 999.0), 1)
        units = rng.randint(0, 30) if rng.random() < 0.3 else 0
        viewers = rng.randint(units, 2000)
        clickers = rng.randint(units, max(units, viewers // 5))
        products.append({"sku": f"sku-{i:06d}", "name": f"商品 {i} {rng.choice(['保温杯', '茶叶', '面膜', '防晒衣'])}",
                         "price": price, "cost": round(price * 0.45, 2) if i % 2 else None, "stock": 1000 - units,
                         "on_stage": False, "stage_seconds": 0.0, "viewers": viewers, "clickers": clickers,
                         "cart_adders": units, "buyers": units, "units": units, "gmv": round(price * units, 2),
                         "ctr": clickers / viewers if viewers else None, "cvr": units / clickers if clickers else None,
                         "orders": units, "paid_orders": units})
        gmv_c += round(price * units * 100)
        units_all += units
    products.sort(key=lambda p: (p["gmv"], p["clickers"]), reverse=True)
    started = time.time() - 4 * 3600
    src = {s: {"visits": 0, "viewers": 0, "gmv": 0.0} for s in ("recommend", "paid", "short_video", "follow",
                                                                "search", "other")}
    metrics = {"session": f"{ROOM}@{int(started * 1000)}", "started": started, "ended": started + 3 * 3600,
               "as_of": started + 3 * 3600, "gmv": gmv_c / 100, "refund_amount": 0.0, "net_gmv": gmv_c / 100,
               "ad_spend": 10000.0, "roi": gmv_c / 100 / 10000.0, "units": units_all, "sources": src,
               "title": "bench"}
    series = [{"minute": int(started // 60 * 60) + 60 * m, "gmv": 0.0, "visits": 0, "paid_orders": 0, "online": 0}
              for m in range(180)]
    return {"room": ROOM, "platform": "taobao", "metrics": metrics, "products": products, "series": series}


def timed(client: httpx.Client, url: str, params: dict, runs: int) -> tuple[float, float, int]:
    """(first, median of the next `runs`) seconds, and the response's size in bytes."""
    def once():
        t = time.perf_counter()
        r = client.get(url, params=params)
        r.raise_for_status()
        return time.perf_counter() - t, len(r.content)
    first, size = once()
    return first, statistics.median(once()[0] for _ in range(runs)), size


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--products", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    data = figures(a.products)
    session = data["metrics"]["session"]
    t = time.perf_counter()
    head, products = build_review(session, data, [], None)
    built = time.perf_counter() - t
    t = time.perf_counter()
    old = orjson.dumps({**head, "products": records(products)})
    baseline = time.perf_counter() - t
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        archive.write(d / "data", {**head, "archived": True}, products, [], data["series"])
        written = time.perf_counter() - t
        # a second session of the same size, opened first: the process's own first-use costs are paid on it,
        # so the timings below are those of opening a review in a web process that has served others
        other = f"{ROOM}@1"
        archive.write(d / "data", {**head, "session": other, "archived": True}, products, [], data["series"])
        server = embedded.start(d / "redis", port=_free_port())
        port = _free_port()
        web = subprocess.Popen([sys.executable, "-m", "server", "--redis-url", server.url, "--port", str(port),
                                "--data-dir", str(d / "data")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            from server import users
            users.put(sync_client(server.url), "admin", "admin", None, PASSWORD)
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            _wait(client)
            client.post("/api/login", json={"user": "admin", "password": PASSWORD}).raise_for_status()
            t = time.perf_counter()
            client.get(f"/api/sessions/{other}/review").raise_for_status()
            warm_up = time.perf_counter() - t
            url = f"/api/sessions/{session}/review"
            print(f"session of {a.products:,} products: review built in {built:.2f} s, archived in {written:.2f} s")
            print(f"baseline (every row in one body, serialised only): {len(old) / 1e6:.1f} MB in {baseline:.3f} s")
            print(f"the web process's very first review (its first use of Parquet): {warm_up:.3f} s")
            for label, params in (("first page (default)", {}), ("search ?q=保温杯", {"q": "保温杯"}),
                                  ("sort ?sort=-profit", {"sort": "-profit"}), ("page 500", {"offset": 50000})):
                first, warm, size = timed(client, url, params, a.runs)
                print(f"{label:24s} {size / 1e3:7.1f} kB ({len(old) / size:5.0f}x smaller)  first {first:.3f} s, "
                      f"then median {warm:.3f} s ({baseline / warm:.1f}x the baseline's serialisation alone)")
        finally:
            web.terminate()
            web.wait(10)
            server.stop()


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(client: httpx.Client) -> None:
    for _ in range(600):
        try:
            if client.get("/healthz").status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the web process did not start")


if __name__ == "__main__":
    main()
