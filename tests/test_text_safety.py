"""Text from viewers on the screens (real app, real headless Chromium): a critical alert quoting a
7,000-character product name with an U+202E in it keeps its toast within a capped height with the Acknowledge
button on screen and clickable, the sentence after the name reads the right way round, and the full name is there
for whoever asks; on the wall (1920x1080, 3840x2160), the tablet (1280x800, 800x1280) and the manager's page
(1440x900, a 390x844 phone). The chat webhook's side is in tests/test_alerts.py."""
from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from tests.conftest import wait_until

_ids = itertools.count()
RLO = "\u202e"
# 7,000 characters within the 8 KiB an event may take: a name that turns the rest of the line around unless isolated
NAME = "保温杯" + RLO + "ab" * 3498 + "!"
SHOTS = Path(os.environ.get("LIVEWALL_SHOTS", "")) if os.environ.get("LIVEWALL_SHOTS") else None

SIZES = [("wall", 1920, 1080), ("wall", 3840, 2160), ("assistant", 1280, 800), ("assistant", 800, 1280),
         ("manager", 1440, 900), ("manager", 390, 844)]


def ev(room: str, type_: str, t: float, **fields) -> dict:
    return {"id": f"text-{room}-{next(_ids)}", "room": room, "ts": t, "type": type_, **fields}


def sold_out(system, room: str) -> dict:
    """A product whose name is NAME sells its last two units on stage: the critical sold_out alert."""
    t = time.time()
    events = [ev(room, "session_start", t, title="秋冬上新", platform="douyin"),
              ev(room, "product_on", t, sku="k1", name=NAME, price=39.0, stock=2)]
    for i in range(2):
        events += [ev(room, "enter", t, user=f"u{i}", source="recommend"),
                   ev(room, "pay", t, user=f"u{i}", sku="k1", order_id=f"o{i}", amount=39.0)]
    assert system.post(events)["accepted"] == len(events)

    def fired():
        return next((a for a in system.get(f"/api/alerts?room={room}")["alerts"]
                     if a["rule"] == "sold_out" and a["state"] == "firing"), None)
    return wait_until(fired, timeout=15, what="sold_out fired")


def open_screen(browser, system, screen: str, room: str, width: int, height: int):
    page = system.sign_in(browser.new_context(viewport={"width": width, "height": height})).new_page()
    path = {"wall": f"/wall?room={room}&lang=en&screen=wall-t", "assistant": f"/assistant/{room}?lang=en&screen=tab-t",
            "manager": "/manager?lang=en&screen=mgr-t"}[screen]
    page.goto(system.url + path)
    return page


def box_of(page, selector: str) -> dict:
    return page.evaluate("""s => { const e = document.querySelector(s), r = e.getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height,
                // a toast's cap: its own max-height, or (in the wall's alert lane, a grid row of fixed height) its lane's
                cap: parseFloat(getComputedStyle(e).maxHeight) || e.parentElement.getBoundingClientRect().height}; }""", selector)


def reads_left_to_right(page, selector: str) -> dict:
    """Where the words after the quoted name sit: x of their first and last letters, and how the name is held."""
    return page.evaluate("""s => {
        const msg = document.querySelector(s), bdi = msg.querySelector('bdi');
        const after = bdi.nextSibling, text = after.textContent;
        const at = i => { const r = document.createRange(); r.setStart(after, i); r.setEnd(after, i + 1);
                          return r.getBoundingClientRect(); };
        const first = text.indexOf('sold'), last = first + 3;   // one word: a line never breaks inside it
        return {isolate: getComputedStyle(bdi).unicodeBidi, tag: bdi.tagName, shown: bdi.textContent.length,
                first: at(first).left, last: at(last).left, sameLine: Math.abs(at(first).top - at(last).top) < 2,
                seen: (at(last).top + at(last).bottom) / 2 < msg.getBoundingClientRect().bottom,
                title: msg.title.length, text}; }""", selector)


@pytest.mark.parametrize("screen,width,height", SIZES, ids=[f"{s}-{w}x{h}" for s, w, h in SIZES])
def test_a_long_right_to_left_product_name_keeps_the_toast_capped_readable_and_acknowledgeable(
        system, browser, screen, width, height):
    room = f"text-{screen}-{width}"
    alert = sold_out(system, room)
    page = open_screen(browser, system, screen, room, width, height)
    toast = f'[role="alert"][data-alert="sold_out"][data-alert-id="{alert["id"]}"]'
    page.wait_for_selector(toast, timeout=15000)
    page.wait_for_function("s => !document.querySelector(s).getAnimations().length", arg=toast)

    box = box_of(page, toast)
    assert box["cap"] > 0 and box["height"] <= box["cap"] + 1, f"the toast is {box['height']:.0f}px, cap {box['cap']}px"
    assert box["height"] <= 0.5 * height, f"the toast takes {box['height']:.0f} of {height}px"

    if SHOTS:   # LIVEWALL_SHOTS=dir: what it looks like
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"text-{screen}-{width}x{height}.png"))

    message = f"{toast} .lw-toast-msg"
    if page.locator(message).is_visible():
        words = reads_left_to_right(page, message)
        assert (words["tag"], words["isolate"]) == ("BDI", "isolate"), words
        assert words["sameLine"] and words["first"] < words["last"], f"'sold' reversed: {words}"
        assert words["shown"] <= 40 and words["seen"], f"the name shortened, so the sentence's end shows: {words}"
        assert words["title"] >= 7000, "the whole text in the title"
        expand = page.locator(f"{toast} .lw-toast-expand")
        if screen == "wall":   # the wall's alert lane is a row read from afar: no "full text" there (it is in
            assert not expand.is_visible()   # the title, the alert list and the webhook)
        else:
            assert expand.is_visible()
            expand.click()
            page.wait_for_function("s => document.querySelector(s).textContent.length > 7000", arg=message)
            box = box_of(page, toast)
            assert box["height"] <= box["cap"] + 1, "opened, the full name scrolls inside the same cap"

    if screen == "manager":   # the alert list has the message too, in a box that scrolls
        row = f'.lw-m-alert[data-alert-id="{alert["id"]}"] .lw-m-alert-msg'
        page.wait_for_selector(row, timeout=5000)
        assert page.evaluate("s => document.querySelector(s).getBoundingClientRect().height", row) <= 120
        words = reads_left_to_right(page, row)
        assert words["isolate"] == "isolate" and words["first"] < words["last"], words

    button = page.locator(f"{toast} [data-ack]")
    b = button.bounding_box()
    assert b and b["y"] >= 0 and b["x"] >= 0 and b["y"] + b["height"] <= height and b["x"] + b["width"] <= width, \
        f"the Acknowledge button at {b} is off the {width}x{height} screen"
    on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('[data-ack]')?.dataset.ack",
                           [b["x"] + b["width"] / 2, b["y"] + b["height"] / 2])
    assert on_top == alert["id"], "nothing covers the button"
    button.click()
    page.wait_for_selector(f'[data-alert-id="{alert["id"]}"][data-state="acknowledged"]', timeout=5000)
    wait_until(lambda: any(a["id"] == alert["id"] and a["state"] == "acknowledged"
                           for a in system.get(f"/api/alerts?room={room}")["alerts"]), what="acknowledged")
    page.context.close()


def test_viewer_names_and_comments_are_isolated_and_bounded_where_they_are_shown(system, browser):
    room = "text-fields"
    t = time.time()
    long = "x" * 3000
    system.post([ev(room, "session_start", t, title=RLO + "标题 " + long, streamer=RLO + "主播" + long,
                    platform="douyin"),
                 ev(room, "product_on", t, sku="k1", name=RLO + "围巾 " + long, price=59.0),
                 ev(room, "comment", t, user=RLO + "viewer" + "v" * 120, text=RLO + "好看 nice " + "y" * 480)])
    system.metrics_when(room, lambda m: m["comments"] == 1)
    for screen, width, height in SIZES:
        page = open_screen(browser, system, screen, room, width, height)
        if screen == "manager":
            page.wait_for_selector(f'[data-room="{room}"] [data-field="title"]', timeout=15000)
            page.locator(f'[data-room="{room}"]').first.click()   # the room's detail: its products by name
            page.wait_for_function("() => [...document.querySelectorAll('[data-field=\"products.name\"]')]"
                                   ".some(e => e.textContent.includes('围巾'))", timeout=15000)
        else:
            page.wait_for_function("() => [...document.querySelectorAll('[data-field=\"onstage_name\"]')]"
                                   ".some(e => e.textContent.includes('围巾'))", timeout=15000)
            page.wait_for_function("() => document.querySelector('[class$=\"comment-text\"]')", timeout=5000)
        found = page.evaluate("""() => [...document.querySelectorAll(`[data-field="onstage_name"],
                [data-field="products.name"], [data-field="title"], [data-field="streamer"], [class$="comment-user"],
                [class$="comment-text"]`)]
            .filter(e => e.textContent.includes('\u202e') && e.getClientRects().length)
            .map(e => { const r = e.getBoundingClientRect();
                        return [e.dataset.field || e.className, getComputedStyle(e).unicodeBidi, e.dir,
                                r.width, r.height]; })""")
        assert len(found) >= (2 if screen == "manager" else 4), found
        for name, bidi, d, wide, tall in found:
            assert (bidi, d) == ("isolate", "auto"), (screen, name, bidi, d)
            assert wide <= width and tall <= 0.2 * height, \
                f"{screen} {width}x{height}: {name} is {wide:.0f}px wide, {tall:.0f}px tall"
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= width, f"{screen} {width}x{height}: the page is {wide}px wide"
        page.context.close()


def test_four_long_critical_toasts_share_the_wall_and_every_button_stays_clickable(system, browser):
    rooms = [f"text-stack{i}" for i in range(4)]
    alerts = [sold_out(system, room) for room in rooms]
    page = system.sign_in(browser.new_context(viewport={"width": 1920, "height": 1080})).new_page()
    page.goto(f"{system.url}/wall?rooms={','.join(rooms)}&lang=en&screen=wall-stack")
    for a in alerts:
        page.wait_for_selector(f'[role="alert"][data-alert-id="{a["id"]}"]', timeout=15000)
    page.wait_for_function("() => [...document.querySelectorAll('.lw-toast')].every(t => !t.getAnimations().length)")
    if SHOTS:
        page.screenshot(path=str(SHOTS / "text-wall-four-toasts.png"))
    boxes = [page.locator(f'[data-alert-id="{a["id"]}"] [data-ack]').bounding_box() for a in alerts]
    for a, b in zip(alerts, boxes):
        assert b["y"] >= 0 and b["y"] + b["height"] <= 1080 and b["x"] + b["width"] <= 1920, b
        on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('[data-ack]')?.dataset.ack",
                               [b["x"] + b["width"] / 2, b["y"] + b["height"] / 2])
        assert on_top == a["id"], f"the button of {a['room']} is covered or cut off"
    page.locator(f'[data-alert-id="{alerts[-1]["id"]}"] [data-ack]').click()
    page.wait_for_selector(f'[data-alert-id="{alerts[-1]["id"]}"][data-state="acknowledged"]', timeout=5000)
    page.context.close()
