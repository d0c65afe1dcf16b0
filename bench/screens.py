"""Screenshots of the screens for docs/: a simulated session, live, in real headless Chromium.

    python -m bench.screens [--out docs] [--lang zh] [--only sign-in.png,manager.png]

Writes wall-1080p.png (one room, 1920x1080), wall-4k.png (the same at 3840x2160), wall-matrix.png (every
room, 1920x1080), assistant-tablet.png and assistant-portrait.png (the assistant's tablet, 1280x800 and
800x1280), manager.png and manager-room.png (the manager's overview and one room, 1440x900), sign-in.png (the
sign-in page, 1440x900, as someone not signed in sees it), link-manager.png (the manager's link manager with a
device and a share link, 1440x900), link-refused.png (what a revoked link's screen turns into) and
manager-audience.png / manager-channels.png (the room drill-down's audience and channel boxes, 1440 wide). Chinese needs a
CJK font on the machine (Debian: fonts-noto-cjk).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

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
PARTS = (  # (file, url, the element shot, width, height): boxes below the fold of a page
    ("manager-audience.png", "/manager?room=douyin-01&lang={lang}", ".lw-m-audience", 1440, 900),
    ("manager-channels.png", "/manager?room=douyin-01&lang={lang}", ".lw-m-channels", 1440, 900),
)
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
        for name, url, part, w, h in PARTS:
            if only is not None and name not in only:
                continue
            page = lw.sign_in(browser.new_page(viewport={"width": w, "height": h}))
            page.goto(lw.url + url.format(lang=lang))
            page.wait_for_function("document.querySelectorAll('.lw-ch-chart rect').length > 0", timeout=30000)
            page.wait_for_timeout(SETTLE_S * 1000)
            page.locator(part).screenshot(path=str(out / name))
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
