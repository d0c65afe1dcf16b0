"""Screenshots of the screens for docs/: a simulated session, live, in real headless Chromium.

    python -m bench.screens [--out docs] [--lang zh|en|both] [--only sign-in.png,manager.png]

Each shot is made in the language(s) asked: Chinese under its own name (wall-1080p.png), English with "-en"
before the extension (wall-1080p-en.png); `--only` takes the base names.

Writes wall-1080p.png (one room, 1920x1080), wall-4k.png (the same at 3840x2160), wall-matrix.png (every
room, 1920x1080), assistant-tablet.png and assistant-portrait.png (the assistant's tablet, 1280x800 and
800x1280), manager.png and manager-room.png (the manager's overview and one room, 1440x900), sign-in.png (the
sign-in page, 1440x900, as someone not signed in sees it), link-manager.png (the manager's link manager with a
device and a share link, 1440x900) and link-refused.png (what a revoked link's screen turns into); for the
review (bench/review_demo.py's room): review.png (a session's review on the manager's page), review-print.png
(the same printed: print media at A4 width) and wall-ghost.png (the wall's trend with the earlier sessions'
ghost line); and the alert lane: wall-alerts.png and wall-matrix-alerts.png (three critical alerts shown, more
waiting, 1920x1080), manager-alerts.png (1440x900), wall-unknown-room.png (a misspelt room); and
manager-audience.png / manager-channels.png (the room drill-down's audience and channel boxes, 1440 wide). Chinese needs a
CJK font on the machine (Debian: fonts-noto-cjk).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson
import redis
from playwright.sync_api import sync_playwright

from bench import review_demo
from bench.live import ROOT, Feeder, Livewall, simulated_rooms
from store import keys

CHROMIUM = "/usr/bin/chromium"
ROOMS = ["douyin-01", "kuaishou-02", "taobao-03", "douyin-04"]
SHOTS = (  # (file, url, width, height)
    ("wall-1080p.png", "/wall?room=douyin-01&lang={lang}", 1920, 1080),
    ("wall-4k.png", "/wall?room=douyin-01&lang={lang}", 3840, 2160),
    ("wall-matrix.png", "/wall?mode=matrix&lang={lang}", 1920, 1080),
    ("assistant-tablet.png", "/assistant/douyin-01?lang={lang}", 1280, 800),
    ("assistant-portrait.png", "/assistant/douyin-01?lang={lang}", 800, 1280),
    ("manager.png", "/manager?lang={lang}", 1440, 900),
    ("manager-room.png", "/manager?room=douyin-01&lang={lang}", 1440, 900),
)
ALERT_SHOTS = (  # (file, url, width, height): with critical alerts firing, more than the lane shows
    ("wall-alerts.png", "/wall?room=douyin-01&lang={lang}", 1920, 1080),
    ("wall-matrix-alerts.png", "/wall?mode=matrix&lang={lang}", 1920, 1080),
    ("manager-alerts.png", "/manager?lang={lang}", 1440, 900),
)
UNKNOWN = ("wall-unknown-room.png", "/wall?room=douyin-1&lang={lang}", 1920, 1080)
SIGN_IN = ("sign-in.png", "/login?lang={lang}", 1440, 900)
REFUSED = ("link-refused.png", "/login?why=link-revoked&lang={lang}", 1440, 900)
LINK_MANAGER = ("link-manager.png", "/manager?room=douyin-01&lang={lang}", 1440, 900)
REVIEW_ROOM = "douyin-05"
REVIEW_SHOTS = ("review.png", "review-print.png", "wall-ghost.png")
PARTS = (  # (file, url, the element shot, width, height): boxes below the fold of a page
    ("manager-audience.png", "/manager?room=douyin-01&lang={lang}", ".lw-m-audience", 1440, 900),
    ("manager-channels.png", "/manager?room=douyin-01&lang={lang}", ".lw-m-channels", 1440, 900),
)
SETTLE_S = 4.0       # chart drawn, count-up finished, a few live frames applied


def named(name: str, lang: str) -> str:
    return name if lang == "zh" else name.replace(".png", f"-{lang}.png")


def live_page(lw: Livewall, browser, url: str, w: int, h: int, lang: str):
    page = lw.sign_in(browser.new_page(viewport={"width": w, "height": h}))
    page.goto(lw.url + url.format(lang=lang))
    page.wait_for_function("""() => [...document.querySelectorAll('[data-room] [data-metric="gmv"]')]
                                .some(e => e.textContent.startsWith('¥'))""", timeout=30000)
    return page


def fire_alerts(lw: Livewall, tag: str) -> None:
    """Six critical alerts at once, over two rooms: the lane shows what fits and counts the rest."""
    r = redis.Redis.from_url(lw.redis_url)
    for i in range(6):
        room = ROOMS[i % 2]
        alert = {"id": f"shot-{tag}-{i}", "rule": "sold_out", "room": room, "severity": "critical", "state": "firing",
                 "started": time.time(), "figures": {"stock": 0}, "audience": ["wall", "assistant", "manager"],
                 "title": {"zh": "讲解中商品售罄", "en": "On-stage product sold out"},
                 "message": {"zh": "「加绒加厚羊毛双面呢大衣」库存为 0：请换品或补货",
                             "en": "“Double-faced wool overcoat” is sold out: put another product on stage or restock"}}
        r.publish(keys.NOTICE_CHANNEL, orjson.dumps({"kind": "alert", "alert": alert}))
    r.close()


def shoot(lw: Livewall, out: Path, lang: str, only: set[str] | None) -> None:
    wanted = lambda name: only is None or name in only   # noqa: E731
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for name, url, w, h in (SIGN_IN, REFUSED):
            if wanted(name):
                page = browser.new_page(viewport={"width": w, "height": h})
                page.goto(lw.url + url.format(lang=lang))
                page.wait_for_selector("form button")
                save(page, out / named(name, lang))
        if wanted(LINK_MANAGER[0]):
            link_manager(lw, browser, out, lang)
        if only is None or only & set(REVIEW_SHOTS):
            review_shots(lw, browser, out, lang, only)
        for name, url, w, h in SHOTS:
            if wanted(name):
                page = live_page(lw, browser, url, w, h, lang)
                page.wait_for_timeout(SETTLE_S * 1000)
                save(page, out / named(name, lang))
        for name, url, w, h in ALERT_SHOTS:
            if wanted(name):
                page = live_page(lw, browser, url, w, h, lang)
                page.wait_for_timeout(SETTLE_S * 1000)
                fire_alerts(lw, f"{name}-{lang}")
                page.wait_for_function("document.querySelectorAll('[role=alert]').length >= 3")
                page.wait_for_function("""() => document.getAnimations()
                                            .every(a => a.animationName !== 'lw-toast-in' || a.playState !== 'running')""")
                save(page, out / named(name, lang))
        name, url, w, h = UNKNOWN
        if wanted(name):
            page = lw.sign_in(browser.new_page(viewport={"width": w, "height": h}))
            page.goto(lw.url + url.format(lang=lang))
            page.wait_for_selector(".lw-unknown")
            save(page, out / named(name, lang))
        for name, url, part, w, h in PARTS:
            if not wanted(name):
                continue
            page = lw.sign_in(browser.new_page(viewport={"width": w, "height": h}))
            page.goto(lw.url + url.format(lang=lang))
            page.wait_for_function("document.querySelectorAll('.lw-ch-chart rect').length > 0", timeout=30000)
            page.wait_for_timeout(SETTLE_S * 1000)
            page.locator(part).screenshot(path=str(out / named(name, lang)))
            page.close()
            print("wrote", out / named(name, lang))
        browser.close()


def save(page, path: Path) -> None:
    page.screenshot(path=str(path))
    page.close()
    print("wrote", path)


def link_manager(lw: Livewall, browser, out: Path, lang: str) -> None:
    """The link manager open on a room, with a device link just made and a share link in the list."""
    name, url, w, h = LINK_MANAGER
    for link in lw.http.get("/api/links").json()["links"]:
        lw.http.delete(f"/api/links/{link['id']}")
    lw.http.post("/api/links", json={"label": "经理手机 · 抖音1号" if lang == "zh" else "manager's phone · douyin-01",
                                     "screen": "/wall?room=douyin-01", "expires_in_s": 8 * 3600})
    page = lw.sign_in(browser.new_page(viewport={"width": w, "height": h}))
    page.goto(lw.url + url.format(lang=lang))
    page.wait_for_function("document.getElementById('manager')?.dataset.conn === 'open'", timeout=30000)
    page.click(".lw-m-share-open")
    page.fill(".lw-m-link-label input", "中控大屏 1" if lang == "zh" else "control room PC 1")
    page.select_option(".lw-m-link-kind", "device")
    page.click(".lw-m-link-create")
    page.wait_for_selector(".lw-m-link-made:not([hidden])")
    page.wait_for_function("document.querySelectorAll('.lw-m-link-row').length >= 2")
    save(page, out / named(name, lang))


def review_shots(lw: Livewall, browser, out: Path, lang: str, only: set[str] | None) -> None:
    """The review of the room's latest ended session (against the two before it), on screen and printed, and the
    wall on its running session with the ghost of the earlier ones."""
    def post(events: list[dict]) -> None:
        for _ in range(20):   # a busy store answers 503: send again (ids make a second copy a duplicate)
            resp = lw.http.post("/api/events", json=events)
            if resp.status_code != 503:
                break
            time.sleep(1)
        resp.raise_for_status()
    ended, live = review_demo.room_history(REVIEW_ROOM, time.time())
    for events in ended + [live]:
        for i in range(0, len(events), 5000):
            post(events[i:i + 5000])
    sessions = []
    for _ in range(120):
        sessions = lw.http.get(f"/api/rooms/{REVIEW_ROOM}/sessions").json().get("sessions", [])
        if sum(s["ended"] is not None for s in sessions) == 3:
            break
        time.sleep(0.5)
    last = max((s for s in sessions if s["ended"] is not None), key=lambda s: s["started"])["session"]
    want = lambda name: only is None or name in only  # noqa: E731

    def fresh() -> None:   # an event now, so the shot shows a live room (not "data 13 s old")
        post([{"id": f"demo-like-{time.time()}", "room": REVIEW_ROOM, "ts": time.time(), "type": "like",
               "user": "demo-fan"}])
    if want("review.png") or want("review-print.png"):
        fresh()
        page = lw.sign_in(browser.new_page(viewport={"width": 1440, "height": 900}))
        page.goto(f"{lw.url}/manager?room={REVIEW_ROOM}&session={last}&lang={lang}")
        page.wait_for_selector('.lw-m-review[data-state="ready"]', timeout=30000)
        page.wait_for_selector('.lw-m-compare[data-state="ready"]', timeout=30000)
        page.wait_for_timeout(1000)
        if want("review.png"):
            page.locator(".lw-m-review").screenshot(path=str(out / named("review.png", lang)))
            print("wrote", out / named("review.png", lang))
        if want("review-print.png"):
            page.set_viewport_size({"width": 794, "height": 1123})   # A4 at 96 dpi
            page.emulate_media(media="print")
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / named("review-print.png", lang)), full_page=True)
            print("wrote", out / named("review-print.png", lang))
        page.close()
    if want("wall-ghost.png"):
        page = lw.sign_in(browser.new_page(viewport={"width": 1920, "height": 1080}))
        page.goto(f"{lw.url}/wall?room={REVIEW_ROOM}&lang={lang}")
        page.wait_for_selector(".lw-trend.has-ghost", timeout=30000)
        fresh()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / named("wall-ghost.png", lang)))
        print("wrote", out / named("wall-ghost.png", lang))
        page.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--lang", default="zh", choices=["zh", "en", "both"])
    ap.add_argument("--history-min", type=float, default=45, help="minutes of session before the shots")
    ap.add_argument("--only", help="comma-separated file names: just these shots")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    with Livewall(insights_every=2) as lw:
        feed = Feeder(lw, simulated_rooms(ROOMS, a.history_min * 60))
        print("catching up:", feed.catch_up(), "events")
        feed.start()
        time.sleep(3)          # insight jobs have run once; frames are flowing
        for lang in ("zh", "en") if a.lang == "both" else (a.lang,):
            shoot(lw, a.out, lang, set(a.only.split(",")) if a.only else None)
        feed.stop()


if __name__ == "__main__":
    main()
