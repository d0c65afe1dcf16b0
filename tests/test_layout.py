"""Every screen holds its layout while alerts fire: in a real headless Chromium at each supported size, no toast
([role="alert"]) lies over a live number ([data-metric], CONTRACT section 5) with 1, 3 and 6 critical alerts at
once, and the text boxes that are meant to be read whole are not cut off (scrollWidth <= clientWidth), with long
Chinese and English product names and titles. One System for the module, one page per screen size.
"""
from __future__ import annotations

import itertools
import time

import orjson
import pytest
import redis

from store import keys

_ids = itertools.count()
ROOMS = ("lay-a", "lay-b", "lay-c")
LONG_ZH = "超长商品名称加绒加厚羊毛双面呢大衣女中长款冬季新款高端气质显瘦百搭外套"
LONG_EN = "Extra-long product name: double-faced cashmere wool overcoat, winter edition, tailored fit"

# (id, URL, width, height, the boxes whose text must show whole there)
WALL_TEXT = (".lw-panel-title", ".lw-kpi-label", ".lw-stat-label", ".lw-funnel-label", ".lw-src-label",
             ".lw-ad-label", ".lw-legend > span", ".lw-rerun-reason", ".lw-toast-sev", ".lw-rot-text",
             ".lw-elapsed-label", ".lw-fresh-text")
MATRIX_TEXT = (".lw-tile-stat-label", ".lw-tile-room", ".lw-tile-alerts", ".lw-toast-sev", ".lw-total-label")
TABLET_TEXT = (".lw-as-panel-title", ".lw-as-kpi-label", ".lw-as-fact-label", ".lw-toast-sev")
MANAGER_TEXT = (".lw-m-box-title", ".lw-m-fig-label", ".lw-m-total-label", ".lw-toast-sev")
SCREENS = (
    ("wall-1080p", "/wall?room=lay-a&lang=en", 1920, 1080, WALL_TEXT),
    ("wall-4k", "/wall?room=lay-a&lang=zh", 3840, 2160, WALL_TEXT),
    ("wall-rotation", "/wall?rooms=lay-a,lay-b&rotate=600&lang=zh", 1920, 1080, WALL_TEXT),
    ("matrix", "/wall?rooms=lay-a,lay-b,lay-c&lang=en", 1920, 1080, MATRIX_TEXT),
    ("tablet", "/assistant/lay-a?lang=zh", 1280, 800, TABLET_TEXT),
    ("tablet-portrait", "/assistant/lay-a?lang=en", 800, 1280, TABLET_TEXT),
    ("phone", "/assistant/lay-a?lang=zh", 390, 844, TABLET_TEXT),
    ("manager-phone", "/manager?lang=en", 390, 844, MANAGER_TEXT),
    ("manager", "/manager?lang=zh", 1440, 900, MANAGER_TEXT),
)

# The part of an element's box that can be seen: its rect cut by every ancestor that clips (overflow other than
# visible) and by the viewport. A toast's third line scrolled away inside its panel covers nothing.
SEEN = """
function seen(el) {
  if (!el.getClientRects().length) return null;
  let r = el.getBoundingClientRect(), box = {l: r.left, t: r.top, r: r.right, b: r.bottom};
  // html and body clip nothing the viewport does not; a fixed box escapes the clipping of its ancestors
  for (let p = el.parentElement, fixed = getComputedStyle(el).position === 'fixed';
       p && !fixed && p !== document.body; p = p.parentElement) {
    const s = getComputedStyle(p);
    fixed = s.position === 'fixed';
    if (s.overflowX !== 'visible' || s.overflowY !== 'visible') {
      const q = p.getBoundingClientRect();
      box = {l: Math.max(box.l, q.left), t: Math.max(box.t, q.top), r: Math.min(box.r, q.right), b: Math.min(box.b, q.bottom)};
    }
  }
  box = {l: Math.max(box.l, 0), t: Math.max(box.t, 0), r: Math.min(box.r, innerWidth), b: Math.min(box.b, innerHeight)};
  return box.r - box.l > 0.5 && box.b - box.t > 0.5 ? box : null;
}
"""

OVERLAPS = """() => {""" + SEEN + """
  const toasts = [...document.querySelectorAll('[role="alert"]')].map(seen).filter(Boolean);
  const covered = [];
  for (const el of document.querySelectorAll('[data-metric], .lw-m-alert')) {
    const b = seen(el);
    if (!b) continue;
    for (const a of toasts) {
      if (a.l < b.r - 0.5 && b.l < a.r - 0.5 && a.t < b.b - 0.5 && b.t < a.b - 0.5)
        covered.push(el.dataset.metric || 'alert list: ' + el.dataset.alertId);
    }
  }
  return {toasts: toasts.length, covered};
}
"""

CUT = """(selectors) => {""" + SEEN + """
  const cut = [];
  for (const sel of selectors) for (const el of document.querySelectorAll(sel)) {
    if (!seen(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1) cut.push(sel + ' "' + el.textContent.trim().slice(0, 40) + '" ' + el.scrollWidth + '>' + el.clientWidth);
  }
  return cut;
}
"""

# a toast's entrance slides it in from the side: measure it where it comes to rest
SETTLED = """() => document.getAnimations().every(a => a.animationName !== 'lw-toast-in' || a.playState !== 'running')"""


def ev(room: str, type_: str, ts: float, **fields) -> dict:
    return {"id": f"lay-{room}-{next(_ids)}", "room": room, "ts": ts, "type": type_, **fields}


def room_events(room: str, name: str, title: str, now: float) -> list[dict]:
    out = [ev(room, "session_start", now - 300, title=title, streamer="小李", platform="douyin"),
           ev(room, "product_on", now - 290, sku="k1", name=name, price=1131.9, cost=500.0, stock=12),
           ev(room, "product_on", now - 280, sku="k2", name=name + "（第二款）", price=59.0, stock=300),
           ev(room, "ad_spend", now - 270, campaign="qc-1", amount=300.0, impressions=5000, clicks=200)]
    for i in range(12):
        t, user = now - 250 + i * 10, f"{room}-u{i}"
        out += [ev(room, "enter", t, user=user, source="paid" if i % 2 else "recommend"),
                ev(room, "product_view", t + 1, user=user, sku="k1"),
                ev(room, "product_click", t + 2, user=user, sku="k1"),
                ev(room, "comment", t + 3, user=user, text="这件" + name + "还有吗"),
                ev(room, "order", t + 4, user=user, sku="k1", order_id=f"{room}-o{i}", amount=1131.9),
                ev(room, "pay", t + 5, user=user, sku="k1", order_id=f"{room}-o{i}", amount=1131.9)]
    return out


@pytest.fixture(scope="module")
def rooms(system):
    now = time.time()
    names = {"lay-a": (LONG_ZH, "年货节预热｜" + LONG_ZH), "lay-b": (LONG_EN, LONG_EN), "lay-c": ("围巾", "夜场")}
    for room, (name, title) in names.items():
        system.post(room_events(room, name, title, now))
    for room in ROOMS:
        system.metrics_when(room, lambda m: m["paid_orders"] == 12)
    return ROOMS


def fire(system, room: str, n: int, tag: str) -> None:
    r = redis.Redis.from_url(system.redis_url)
    for i in range(n):
        alert = {"id": f"{tag}-{i}", "rule": "sold_out", "room": room if i % 2 == 0 else "lay-b",
                 "severity": "critical", "state": "firing", "started": time.time(), "figures": {"stock": 0},
                 "audience": ["wall", "assistant", "manager"],
                 "title": {"zh": "讲解中商品售罄：" + LONG_ZH, "en": "On-stage product sold out: " + LONG_EN},
                 "message": {"zh": f"「{LONG_ZH}」库存为 0，请换品或补货", "en": f"“{LONG_EN}” is sold out: change product or restock"}}
        r.publish(keys.NOTICE_CHANNEL, orjson.dumps({"kind": "alert", "alert": alert}))
    r.close()


def resolve(system, tag: str, n: int) -> None:
    r = redis.Redis.from_url(system.redis_url)
    for i in range(n):
        r.publish(keys.NOTICE_CHANNEL, orjson.dumps({"kind": "alert", "alert": {
            "id": f"{tag}-{i}", "rule": "sold_out", "room": "lay-a" if i % 2 == 0 else "lay-b", "severity": "critical",
            "state": "resolved", "started": time.time(), "figures": {}, "audience": ["wall", "assistant", "manager"]}}))
    r.close()


@pytest.mark.parametrize("screen,url,width,height,boxes", SCREENS, ids=[s[0] for s in SCREENS])
def test_toasts_cover_no_number_and_no_text_is_cut(system, browser, rooms, screen, url, width, height, boxes):
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = system.sign_in(ctx.new_page())
    try:
        page.goto(system.url + url)
        page.wait_for_function("""() => [...document.querySelectorAll('[data-room="lay-a"] [data-metric="gmv"]')]
                                  .some(e => e.textContent.includes('¥'))""", timeout=20000)
        assert page.evaluate(CUT, list(boxes)) == [], f"{screen}: text cut off before any alert"
        fired = 0
        for total in (1, 3, 6):
            tag = f"{screen}-{total}"
            fire(system, "lay-a", total, tag)
            fired += total
            # every room shown gets its toasts: on the one-room screens the lay-b ones are not watched
            page.wait_for_selector(f'[data-alert-id="{tag}-0"][role="alert"]', timeout=15000)
            if total > 1:
                page.wait_for_function(f"""() => document.querySelectorAll('[role="alert"]').length >= 3
                                           || document.querySelector('[data-waiting]')""", timeout=15000)
            page.wait_for_function(SETTLED, timeout=20000)
            report = page.evaluate(OVERLAPS)
            assert report["toasts"] >= 1
            assert report["covered"] == [], f"{screen}, {total} critical alerts: toasts cover {report['covered']}"
            cut = page.evaluate(CUT, list(boxes))
            assert cut == [], f"{screen}, {total} critical alerts: text cut off: {cut}"
            resolve(system, tag, total)
            page.wait_for_selector(f'[data-alert-id="{tag}-0"][role="alert"]', state="detached", timeout=15000)
    finally:
        ctx.close()
