"""How long the manager's review takes to open for a 100,000-product session, against a 10-product one (the
baseline run, same process, same page): from the click on the session to the table drawn, on the browser's
clock, and a search answered by the server. Each review is read once by the API first (a warm server, as for a
second visitor; the archive's own first read is in bench/review.py).

    python -m bench.review_page [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import orjson
import redis
from playwright.sync_api import sync_playwright

from bench.live import Livewall
from store import archive, keys

CHROMIUM = "/usr/bin/chromium"
ROOM = "bench-review"


def product_rows(n: int) -> list[dict]:
    """Engine-shaped product rows: one in a thousand sold, two in three without a cost."""
    out = []
    for i in range(n):
        sold = i % 1000 == 0
        price = 10.0 + i % 90
        out.append({"sku": f"sku-{i:06d}", "name": f"商品 {i:06d}", "price": price, "cost": None if i % 3 else 5.0,
                    "stock": 100, "on_stage": False, "stage_seconds": 0.0, "viewers": 1 + i % 7, "clickers": i % 5,
                    "cart_adders": 0, "buyers": 1 if sold else 0, "units": 1 if sold else 0,
                    "gmv": price if sold else 0.0, "ctr": None, "cvr": None})
    return out


def archived_session(data_dir, room: str, session: str, started: float, n: int, metrics: dict) -> None:
    """A session of n products written to the archive by the review builder (store/archive.py)."""
    from insights.review import build_review
    rows = product_rows(n)
    gmv = sum(r["gmv"] for r in rows)
    m = {**metrics, "session": session, "started": started, "ended": started + 3600, "gmv": gmv, "net_gmv": gmv,
         "refund_amount": 0.0}
    head, products = build_review(session, {"room": room, "platform": "douyin", "metrics": m, "products": rows,
                                            "series": [], "late": None}, [], None)
    archive.write(data_dir, head, products, [], [])


def open_ms(page, url: str, session: str) -> float:
    page.goto(url)
    button = page.locator(f'.lw-m-session[data-session="{session}"]')
    button.wait_for(timeout=30000)
    page.evaluate("""() => { window.__opened = null; const p = document.querySelector('.lw-m-review');
        new MutationObserver(() => { if (p.dataset.state === 'ready' && !window.__opened) window.__opened = performance.now(); })
          .observe(p, {attributes: true}); }""")
    clicked = page.evaluate("() => performance.now()")
    button.click()
    page.wait_for_selector('.lw-m-review[data-state="ready"]', timeout=60000)
    return page.evaluate("() => window.__opened") - clicked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    with Livewall() as lw:
        t0 = 1_790_000_000.0
        lw.post([{"id": "bench-rv-1", "room": ROOM, "ts": t0 + 86400 * 30, "type": "session_start"},
                 {"id": "bench-rv-2", "room": ROOM, "ts": t0 + 86400 * 30 + 1, "type": "like", "user": "u"}])
        while lw.http.get(f"/api/rooms/{ROOM}/metrics").status_code != 200:
            time.sleep(0.05)
        metrics = lw.http.get(f"/api/rooms/{ROOM}/metrics").json()
        sizes = {"small": 10, "big": 100_000}
        sessions = {}
        r = redis.Redis.from_url(lw.redis_url)
        for k, (name, n) in enumerate(sizes.items()):
            started = t0 + k * 86400
            session = f"{ROOM}@{int(started * 1000)}"
            archived_session(lw.dir / "data", ROOM, session, started, n, metrics)
            r.hset(keys.session_list(ROOM), session, orjson.dumps({"session": session, "started": started,
                                                                  "ended": started + 3600, "gmv": 0, "title": name}))
            assert lw.http.get(f"/api/sessions/{session}/review?limit=1").json()["total"] == n
            sessions[name] = session
        r.close()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = lw.sign_in(browser.new_page(viewport={"width": 1440, "height": 900}))
            url = f"{lw.url}/manager?room={ROOM}&lang=en"
            times = {name: [] for name in sizes}
            for _ in range(a.runs):
                for name in sizes:
                    times[name].append(open_ms(page, url, sessions[name]))
            browser.close()
        small, big = (statistics.median(times[n]) for n in ("small", "big"))
        print(f"review opened, click to table drawn, median of {a.runs}: 10 products {small:.0f} ms, "
              f"100,000 products {big:.0f} ms, ratio {big / small:.2f}")


if __name__ == "__main__":
    main()
