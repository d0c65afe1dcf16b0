"""Screenshots of the screens for docs/: a simulated session, live, in real headless Chromium.

    python -m bench.screens [--out docs] [--lang zh] [--only sign-in.png,manager.png]

Writes wall-1080p.png (one room, 1920x1080), wall-4k.png (the same at 3840x2160), wall-matrix.png (every
room, 1920x1080), assistant-tablet.png and assistant-portrait.png (the assistant's tablet, 1280x800 and
800x1280), manager.png and manager-room.png (the manager's overview and one room, 1440x900), sign-in.png (the
sign-in page, 1440x900, as someone not signed in sees it), link-manager.png (the manager's link manager with a
device and a share link, 1440x900) and link-refused.png (what a revoked link's screen turns into), and for the
review (bench/review_demo.py's room): review.png (a session's review on the manager's page), review-print.png
(the same printed: print media at A4 width) and wall-ghost.png (the wall's trend with the earlier sessions'
ghost line). Chinese needs a CJK font on the machine (Debian: fonts-noto-cjk).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench import review_demo
from bench.live import ROOT, Feeder, Livewall, simulated_rooms

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
SIGN_IN = ("sign-in.png", "/login?lang={lang}", 1440, 900)
REFUSED = ("link-refused.png", "/login?why=link-revoked&lang={lang}", 1440, 900)
LINK_MANAGER = ("link-manager.png", "/manager?room=douyin-01&lang={lang}", 1440, 900)
REVIEW_ROOM = "douyin-05"
REVIEW_SHOTS = ("review.png", "review-print.png", "wall-ghost.png")
SETTLE_S = 4.0       # chart drawn, count-up finished, a few live frames applied


def shoot(lw: Livewall, out: Path, lang: str, only: set[str] | None) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for name, url, w, h in (SIGN_IN, REFUSED):
            if only is None or name in only:
                page = browser.new_page(viewport={"width": w, "height": h})
                page.goto(lw.url + url.format(lang=lang))
                page.wait_for_selector("form button")
                page.screenshot(path=str(out / name))
                page.close()
                print("wrote", out / name)
        if only is None or LINK_MANAGER[0] in only:
            link_manager(lw, browser, out, lang)
        if only is None or only & set(REVIEW_SHOTS):
            review_shots(lw, browser, out, lang, only)
        for name, url, w, h in SHOTS:
            if only is not None and name not in only:
                continue
            page = lw.sign_in(browser.new_page(viewport={"width": w, "height": h}))
            page.goto(lw.url + url.format(lang=lang))
            page.wait_for_function("""() => [...document.querySelectorAll('[data-room] [data-metric="gmv"]')]
                                        .some(e => e.textContent.startsWith('¥'))""", timeout=30000)
            page.wait_for_timeout(SETTLE_S * 1000)
            page.screenshot(path=str(out / name))
            page.close()
            print("wrote", out / name)
        browser.close()


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
    page.screenshot(path=str(out / name))
    page.close()
    print("wrote", out / name)


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
            page.locator(".lw-m-review").screenshot(path=str(out / "review.png"))
            print("wrote", out / "review.png")
        if want("review-print.png"):
            page.set_viewport_size({"width": 794, "height": 1123})   # A4 at 96 dpi
            page.emulate_media(media="print")
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / "review-print.png"), full_page=True)
            print("wrote", out / "review-print.png")
        page.close()
    if want("wall-ghost.png"):
        page = lw.sign_in(browser.new_page(viewport={"width": 1920, "height": 1080}))
        page.goto(f"{lw.url}/wall?room={REVIEW_ROOM}&lang={lang}")
        page.wait_for_selector(".lw-trend.has-ghost", timeout=30000)
        fresh()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / "wall-ghost.png"))
        print("wrote", out / "wall-ghost.png")
        page.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--lang", default="zh", choices=["zh", "en"])
    ap.add_argument("--history-min", type=float, default=45, help="minutes of session before the shots")
    ap.add_argument("--only", help="comma-separated file names: just these shots")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    with Livewall(insights_every=2) as lw:
        feed = Feeder(lw, simulated_rooms(ROOMS, a.history_min * 60))
        print("catching up:", feed.catch_up(), "events")
        feed.start()
        time.sleep(3)          # insight jobs have run once; frames are flowing
        shoot(lw, a.out, a.lang, set(a.only.split(",")) if a.only else None)
        feed.stop()


if __name__ == "__main__":
    main()
