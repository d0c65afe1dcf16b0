"""/wall in a real headless Chromium against the whole app: push updates, alerts, rotation, matrix, text
safety, reconnecting, data age, layout at 1080p and 4K. Waits on conditions, never on fixed sleeps.
"""
from __future__ import annotations

import itertools
import re
import time

import orjson
import pytest
import redis

from store import keys
from tests.conftest import System, free_port, wait_until

HTML = "<img src=x onerror=alert(1)>"
_ids = itertools.count()


def ev(room: str, type_: str, **fields) -> dict:
    return {"id": f"wall-{room}-{next(_ids)}", "room": room, "ts": fields.pop("ts", time.time()), "type": type_,
            **fields}


def live_room(room: str, platform: str = "douyin", buyers: int = 3, product: str = "羊毛大衣") -> list[dict]:
    """A small session happening now: viewers in, a product on stage, a few paid orders, a comment."""
    out = [ev(room, "session_start", title="秋冬上新", streamer="小李", platform=platform),
           ev(room, "product_on", sku="k1", name=product, price=199.0, cost=80.0, stock=15)]
    for i in range(buyers):
        user = f"u{i}"
        out += [ev(room, "enter", user=user, source="paid" if i % 2 else "recommend"),
                ev(room, "product_view", user=user, sku="k1"), ev(room, "product_click", user=user, sku="k1"),
                ev(room, "order", user=user, sku="k1", order_id=f"o{i}", amount=199.0),
                ev(room, "pay", user=user, sku="k1", order_id=f"o{i}", amount=199.0)]
    return out + [ev(room, "comment", user="u0", text="好看")]


def gmv(room: str) -> str:
    return f'[data-room="{room}"] [data-metric="gmv"]'


def open_wall(page, system, query: str, room: str | None = None):
    system.sign_in(page).goto(f"{system.url}/wall?{query}")
    if room:
        page.wait_for_function(f"document.querySelector('{gmv(room)}')?.textContent.startsWith('¥')", timeout=15000)
    return page


def text(page, selector: str) -> str:
    return page.locator(selector).first.text_content()


def notice(system, alert: dict) -> None:
    r = redis.Redis.from_url(system.redis_url)
    r.publish(keys.NOTICE_CHANNEL, orjson.dumps({"kind": "alert", "alert": alert}))
    r.close()


def test_a_pay_reaches_the_wall_within_a_second(system, page):
    system.post(live_room("wall-a"))
    system.metrics_when("wall-a", lambda m: m["paid_orders"] == 3)
    open_wall(page, system, "room=wall-a&lang=en", "wall-a")
    page.wait_for_function(f"document.querySelector('{gmv('wall-a')}').textContent === '¥597.00'")
    t0 = time.monotonic()
    system.post([ev("wall-a", "pay", user="u9", sku="k1", order_id="o9", amount=250.0)])
    page.wait_for_function(f"document.querySelector('{gmv('wall-a')}').textContent !== '¥597.00'", timeout=5000)
    changed = time.monotonic() - t0
    page.wait_for_function(f"document.querySelector('{gmv('wall-a')}').textContent === '¥847.00'", timeout=5000)
    settled = time.monotonic() - t0     # the hero number counts up to the new value
    # pushed, not polled: it arrives by itself, in well under a poll's period. How fast is bench.push's to say
    # (event -> DOM p50 18-45 ms); this bound only has to hold on a busy CI machine, where a second was too tight.
    assert changed < 2.5 and settled < 3.0, f"event to screen: changed after {changed:.3f} s, exact after {settled:.3f} s"
    assert text(page, '[data-room="wall-a"] [data-metric="paid_orders"]') == "4"
    assert text(page, '[data-room="wall-a"] [data-metric="buyers"]') == "4"
    # GPM and UV value show their denominators on their own tiles
    visits = text(page, '[data-room="wall-a"] [data-metric="visits"]')
    assert text(page, '[data-kpi="gpm"] [data-metric="visits"]') == visits
    assert text(page, '[data-kpi="uv_value"] [data-metric="viewers"]') == text(page, '[data-kpi="viewers"] [data-metric="viewers"]')


def test_alert_toast_until_acknowledged_and_the_ack_button(system, page):
    system.post(live_room("wall-t"))
    open_wall(page, system, "room=wall-t&lang=en", "wall-t")
    acks = []
    page.route("**/api/alerts/*/ack", lambda route: (acks.append((route.request.url, route.request.post_data)),
                                                       route.fulfill(json={"ok": True})))
    alert = {"id": "al-1", "rule": "stock_out_on_stage", "room": "wall-t", "severity": "critical",
             "state": "firing", "started": time.time(), "figures": {"stock": 0},
             "title": {"zh": "讲解中商品售罄", "en": "On-stage product sold out"}}
    notice(system, alert)
    toast = page.locator('[role="alert"][data-alert="stock_out_on_stage"]')
    toast.wait_for(timeout=5000)
    assert toast.get_attribute("data-alert-id") == "al-1"
    assert "On-stage product sold out" in toast.text_content()
    toast.locator("[data-ack]").click()
    wait_until(lambda: acks, timeout=5, what="the acknowledge POST")
    assert acks[0][0].endswith("/api/alerts/al-1/ack") and orjson.loads(acks[0][1]) == {}, \
        "the server knows who is signed in: the page names no one"
    notice(system, {**alert, "state": "acknowledged", "acknowledged_by": "manager"})
    toast.wait_for(state="detached", timeout=5000)


def test_the_trend_keeps_its_history_when_markers_come(system, page):
    """A product change and an alert each mark the trend chart; the minutes already drawn stay drawn."""
    room, now = "wall-h", time.time()
    events = live_room(room)
    for e in events:
        e["ts"] = now - 400
    for minute in range(6):   # a pay a minute: the room's clock ends 5 or 6 closed minutes after its start
        t = now - 360 + minute * 60
        events += [ev(room, "enter", user=f"h{minute}", ts=t), ev(room, "pay", user=f"h{minute}", sku="k1",
                                                                   order_id=f"h{minute}", amount=9.0, ts=t)]
    system.post(events)
    open_wall(page, system, f"room={room}&lang=en", room)
    trend = "document.querySelector('.lw-trend .js-plotly-plot')"
    page.wait_for_function(f"{trend}?.data?.[0]?.x?.length >= 4", timeout=10000)
    closed = page.evaluate(f"{trend}.data[0].x.length")
    system.post([ev(room, "product_on", sku="k2", name="围巾", price=59.0)])
    page.wait_for_function(f"({trend}.layout.shapes || []).length === 1", timeout=5000)
    notice(system, {"id": "h-1", "rule": "bounce_storm", "room": room, "severity": "warning", "state": "firing",
                    "started": time.time(), "figures": {}, "audience": ["wall"]})
    page.wait_for_function(f"({trend}.layout.shapes || []).length === 2", timeout=5000)
    assert page.evaluate(f"{trend}.data[0].x.length") >= closed, "the closed minutes were wiped"
    assert page.evaluate(f"{trend}.data[1].x.length") >= closed


def test_the_wall_shows_only_alerts_meant_for_it(system, page):
    system.post(live_room("wall-au"))
    open_wall(page, system, "room=wall-au&lang=en", "wall-au")
    base = {"room": "wall-au", "severity": "warning", "state": "firing", "started": time.time(), "figures": {}}
    notice(system, {**base, "id": "au-1", "rule": "spend_ahead", "audience": ["manager"]})
    notice(system, {**base, "id": "au-2", "rule": "bounce_storm", "audience": ["wall", "assistant", "manager"]})
    # alerts arrive in order on one socket: once the second shows, the first has been seen and passed over
    page.locator('[data-alert-id="au-2"]').wait_for(timeout=5000)
    assert page.locator('[data-alert-id="au-1"]').count() == 0
    assert "spend_ahead" not in text(page, ".lw-ticker-alerts")


def test_a_full_toast_stack_makes_room_for_the_newest(system, page):
    """At most four toasts: a new alert pushes out the oldest warning, never itself; critical toasts stay until
    acknowledged, and behind four of them a warning still shows while a critical one waits its turn."""
    system.post(live_room("wall-st"))
    open_wall(page, system, "room=wall-st&lang=en", "wall-st")
    base = {"room": "wall-st", "state": "firing", "started": time.time(), "figures": {}, "audience": ["wall"]}
    toast = '[role="alert"][data-alert-id="{}"]'.format
    for i in range(6):
        notice(system, {**base, "id": f"st-w{i}", "rule": "comment_flood", "severity": "warning"})
        page.locator(toast(f"st-w{i}")).wait_for(timeout=5000)
    assert page.locator('[role="alert"]').count() == 4
    assert page.locator(toast("st-w0")).count() == 0 and page.locator(toast("st-w1")).count() == 0
    for i in range(4):
        notice(system, {**base, "id": f"st-c{i}", "rule": "sold_out", "severity": "critical"})
        page.locator(toast(f"st-c{i}")).wait_for(timeout=5000)
    notice(system, {**base, "id": "st-late", "rule": "banned_words", "severity": "warning"})
    page.locator(toast("st-late")).wait_for(timeout=5000)
    assert all(page.locator(toast(f"st-c{i}")).count() == 1 for i in range(4))
    # more critical ones wait their turn, counted under the stack, and come as the shown ones are settled
    for i in (4, 5, 6):
        notice(system, {**base, "id": f"st-c{i}", "rule": "sold_out", "severity": "critical"})
    waiting = page.locator("[data-waiting]")
    waiting.filter(has_text="3 more critical").wait_for(timeout=5000)
    assert not any(page.locator(toast(f"st-c{i}")).count() for i in (4, 5, 6))
    notice(system, {**base, "id": "st-c0", "rule": "sold_out", "severity": "critical", "state": "acknowledged",
                    "acknowledged_by": "manager"})
    page.locator(toast("st-c4")).wait_for(timeout=5000)
    waiting.filter(has_text="2 more critical").wait_for(timeout=5000)


def test_no_polling_after_load_while_events_flow(system, page):
    system.post(live_room("wall-p"))
    sockets, requests = [], []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    open_wall(page, system, "room=wall-p&lang=en", "wall-p")
    page.wait_for_selector(".lw-trend .js-plotly-plot .main-svg", state="attached")
    page.on("request", lambda req: requests.append((req.resource_type, req.url)))
    before = text(page, gmv("wall-p"))
    stop = time.monotonic() + 5
    for i in itertools.count():
        system.post([ev("wall-p", "pay", user=f"p{i}", sku="k1", order_id=f"p{i}", amount=10.0)])
        if time.monotonic() > stop:
            break
        page.wait_for_timeout(250)    # pacing the feed, not waiting for the page
    page.wait_for_function(f"document.querySelector('{gmv('wall-p')}').textContent !== {before!r}")
    requests = [r for r in requests if "favicon" not in r[1]]   # the browser's own, once
    # the ghost line's baseline (earlier sessions) is asked for once per session, as the page starts, not on a
    # timer: it may land just after load, and at most once
    ghost = [r for r in requests if r[1].endswith("/api/rooms/wall-p/baseline")]
    assert len(ghost) <= 1, f"the baseline asked for {len(ghost)} times"
    requests = [r for r in requests if r not in ghost]
    assert requests == [], f"HTTP requests after load: {requests[:5]}"
    assert len(sockets) == 1 and sockets[0].endswith("/ws?rooms=wall-p")


def test_rotation_switches_rooms(system, page):
    system.post(live_room("wall-r1") + live_room("wall-r2", platform="kuaishou", buyers=1))
    system.metrics_when("wall-r2", lambda m: m["paid_orders"] == 1)
    open_wall(page, system, "rooms=wall-r1,wall-r2&rotate=2&lang=en")
    stage = page.locator(".lw-stage")
    page.wait_for_function("document.querySelector('.lw-stage')?.dataset.room === 'wall-r1'")
    page.wait_for_function("document.querySelector('.lw-stage')?.dataset.room === 'wall-r2'", timeout=6000)
    assert text(page, gmv("wall-r2")) == "¥199.00"
    assert stage.locator('[data-field="platform"]').text_content() == "Kuaishou"
    page.wait_for_function("document.querySelector('.lw-stage')?.dataset.room === 'wall-r1'", timeout=6000)


def test_matrix_has_a_tile_for_every_room(system, page):
    system.post(live_room("wall-m1") + live_room("wall-m2", platform="taobao"))
    system.metrics_when("wall-m2", lambda m: m["paid_orders"] == 3)
    rooms = [r["room"] for r in system.get("/api/rooms")["rooms"]]
    open_wall(page, system, "mode=matrix&lang=en", "wall-m2")
    for room in rooms:
        page.wait_for_function(f"document.querySelector('{gmv(room)}')?.textContent.startsWith('¥')")
    assert page.locator(".lw-grid > [data-room]").count() == len(rooms)
    # several rooms and no rotation asked: the matrix of just those
    open_wall(page, system, "rooms=wall-m1,wall-m2&lang=en", "wall-m1")
    assert page.locator(".lw-grid > [data-room]").count() == 2
    assert page.locator("#wall").get_attribute("data-mode") == "matrix"


def test_html_in_comments_and_product_names_is_text(system, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    system.post(live_room("wall-x", product=f"大衣 {HTML}") + [ev("wall-x", "comment", user="troll", text=HTML)])
    system.metrics_when("wall-x", lambda m: m["comments"] == 2)
    open_wall(page, system, "room=wall-x&lang=en", "wall-x")
    page.locator(".lw-comment-text", has_text=HTML).wait_for()
    page.locator(".lw-onstage-name", has_text=f"大衣 {HTML}").wait_for()
    assert page.locator(".lw-board-name", has_text=HTML).count() == 1
    assert page.locator("#wall img").count() == 0
    assert dialogs == []


def test_reconnects_with_backoff_and_says_so(system, page):
    system.post(live_room("wall-c"))
    connections = []

    def through(ws):
        connections.append(ws)
        ws.connect_to_server()

    page.route_web_socket("**/ws*", through)
    open_wall(page, system, "room=wall-c&lang=en", "wall-c")
    connections[0].close(code=1011, reason="server went away")
    # state and banner read in one evaluation: the retry comes within 0.25-0.5 s, and a second round trip
    # from here could already find the screen open again
    banner = page.wait_for_function(
        "(() => { const w = document.getElementById('wall');"
        " return w?.dataset.conn === 'reconnecting' && w.querySelector('.lw-banner').textContent; })()",
        timeout=3000).json_value()
    assert "reconnecting" in banner.lower()
    page.wait_for_function("document.getElementById('wall')?.dataset.conn === 'open'", timeout=5000)
    assert len(connections) == 2
    assert not page.locator(".lw-banner").is_visible()
    # the new connection is a resync: live again
    system.post([ev("wall-c", "pay", user="c9", sku="k1", order_id="c9", amount=3.0)])
    page.wait_for_function(f"document.querySelector('{gmv('wall-c')}').textContent === '¥600.00'")


def test_old_data_says_how_old(system, page):
    """A frame produced 35 s ago (as after an engine stall) must not pass for live data."""
    system.post(live_room("wall-s0"))
    system.metrics_when("wall-s0", lambda m: m["paid_orders"] == 3)
    open_wall(page, system, "room=wall-s&lang=en")
    page.wait_for_function("document.getElementById('wall')?.dataset.conn === 'open'")
    r = redis.Redis.from_url(system.redis_url)
    frame = orjson.loads(r.get(keys.snapshot("wall-s0")))
    r.publish(keys.frames("wall-s"), orjson.dumps({**frame, "room": "wall-s", "updated": time.time() - 35}))
    r.close()
    banner = page.locator(".lw-banner")
    banner.wait_for(state="visible", timeout=5000)
    assert re.fullmatch(r"Data 3[4-9] s old", banner.text_content()), banner.text_content()
    assert page.locator(".lw-stage").evaluate("el => el.classList.contains('is-stale')")


def test_language_from_the_url(system, page):
    system.post(live_room("wall-l"))
    open_wall(page, system, "room=wall-l&lang=zh", "wall-l")
    assert page.get_by_text("成交金额", exact=True).first.is_visible()
    assert not page.get_by_text("Conversion funnel", exact=True).is_visible()
    assert page.locator('[data-field="platform"]').text_content() == "抖音"


@pytest.mark.parametrize("width,height,query", [(1920, 1080, "room=wall-f"), (3840, 2160, "room=wall-f"),
                                                (1920, 1080, "mode=matrix")])
def test_fills_the_screen_readably(system, browser, width, height, query):
    system.post(live_room("wall-f"))
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    open_wall(page, system, f"{query}&lang=en", "wall-f")
    report = page.evaluate("""() => {
        const root = document.scrollingElement;
        const small = [], outside = [];
        for (const el of document.querySelectorAll('#wall *')) {
            if (!el.offsetParent && el.tagName !== 'BODY') continue;
            const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
            const box = el.getBoundingClientRect();
            if (own && parseFloat(getComputedStyle(el).fontSize) < 18 * innerHeight / 1080) small.push(el.className);
            if (el.dataset.metric && (box.bottom > innerHeight || box.right > innerWidth)) outside.push(el.dataset.metric);
        }
        return {scroll: [root.scrollWidth - innerWidth, root.scrollHeight - innerHeight], small, outside};
    }""")
    ctx.close()
    assert report["scroll"] == [0, 0]
    assert report["small"] == [], f"text under 18 px at 1080p scale: {sorted(set(report['small']))}"
    assert report["outside"] == []


def test_the_first_screen_after_a_start_loads_whole(redis_url, browser, tmp_path):
    # Dash sets its pages up on the first request; the first screen opened after a start once came without
    # the router's clientside callback (a TypeError in the console, no tab title)
    s = System(redis_url, free_port(), tmp_path / "app.log").start()
    try:
        page = s.sign_in(browser.new_page())
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{s.url}/wall?room=first&lang=en")
        page.wait_for_function("document.title === 'livewall · wall'", timeout=10000)
        assert errors == []
        page.close()
    finally:
        s.stop()


def test_paid_roi_below_its_target_is_red_on_the_ad_panel_and_the_tile(system, page):
    """Paid ROI (what the target is about) is the coloured one: 199 / 1000 = 0.20 against a target of 2.00 is far
    below (red), while the overall ROI beside it stays uncoloured; a room without a target says so."""
    def room(name, target):
        start = {"target_roi": target} if target else {}
        return [ev(name, "session_start", platform="douyin", **start),
                ev(name, "product_on", sku="k1", name="羊毛大衣", price=199.0, stock=50),
                ev(name, "enter", user="p1", source="paid"), ev(name, "product_click", user="p1", sku="k1"),
                ev(name, "pay", user="p1", sku="k1", order_id="p1", amount=199.0),
                ev(name, "ad_spend", campaign="c1", amount=1000.0)]
    system.post(room("wall-roi", 2.0) + room("wall-roi-nt", None))
    for name in ("wall-roi", "wall-roi-nt"):
        system.metrics_when(name, lambda m: m["ad_spend"] == 1000.0)
    red = "rgb(255, 77, 94)"
    open_wall(page, system, "room=wall-roi&lang=en", "wall-roi")
    paid = '[data-room="wall-roi"] .lw-ads [data-metric="paid_roi"]'
    page.wait_for_function("s => document.querySelector(s)?.dataset.level === 'bad'", arg=paid)
    assert text(page, paid) == "0.20"
    assert page.eval_on_selector(paid, "e => getComputedStyle(e).color") == red
    assert text(page, '[data-room="wall-roi"] .lw-ads [data-metric="target_roi"]') == "2.00"
    overall = '[data-room="wall-roi"] .lw-ads [data-metric="roi"]'
    assert page.get_attribute(overall, "data-level") is None
    assert page.eval_on_selector(overall, "e => getComputedStyle(e).color") != red

    open_wall(page, system, "rooms=wall-roi,wall-roi-nt&lang=en")
    tile = '.lw-tile[data-room="wall-roi"] [data-metric="paid_roi"]'
    page.wait_for_function("s => document.querySelector(s)?.dataset.level === 'bad'", arg=tile)
    assert page.eval_on_selector(tile, "e => getComputedStyle(e).color") == red
    none = '.lw-tile[data-room="wall-roi-nt"] [data-metric="target_roi"]'
    page.wait_for_function("s => document.querySelector(s)?.textContent === 'no target'", arg=none)
    assert page.get_attribute('.lw-tile[data-room="wall-roi-nt"] [data-metric="paid_roi"]', "data-level") == "none"
