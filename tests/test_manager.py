"""/manager in a real headless Chromium against the whole app: rooms side by side with their live numbers,
the drill-down and the back button, approving ad-spend suggestions (and losing a race), session reviews,
alerts of every audience, text safety, no polling, reconnecting, the phone layout. Waits on conditions, never
on fixed sleeps.
"""
from __future__ import annotations

import itertools
import re
import time
import uuid

import orjson
import redis

from insights.alerts import Store
from store import keys
from tests.conftest import wait_until
from tests.events import BASE_TS, Builder
from tests.test_ads import paid_minutes

HTML = "<img src=x onerror=alert(1)>"
LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
_ids = itertools.count()


def ev(room: str, type_: str, **fields) -> dict:
    return {"id": f"mgr-{room}-{next(_ids)}", "room": room, "ts": fields.pop("ts", time.time()), "type": type_,
            **fields}


def live_room(room: str, platform: str = "douyin", buyers: int = 3, title: str = "秋冬上新",
              products: tuple = (("k1", "羊毛大衣", 199.0, 15),)) -> list[dict]:
    """A session happening now: viewers in, products on stage, paid orders of the first product, some ad spend."""
    out = [ev(room, "session_start", title=title, streamer="小李", platform=platform, target_roi=2.0)]
    out += [ev(room, "product_on", sku=sku, name=name, price=price, cost=price / 2, stock=stock)
            for sku, name, price, stock in products]
    sku, _name, price, _stock = products[0]
    for i in range(buyers):
        user = f"u{i}"
        out += [ev(room, "enter", user=user, source="paid" if i % 2 else "recommend"),
                ev(room, "product_view", user=user, sku=sku), ev(room, "product_click", user=user, sku=sku),
                ev(room, "order", user=user, sku=sku, order_id=f"o{i}", amount=price),
                ev(room, "pay", user=user, sku=sku, order_id=f"o{i}", amount=price)]
    return out + [ev(room, "enter", user="lurker", source="search"), ev(room, "product_click", user="lurker", sku=sku),
                  ev(room, "ad_spend", campaign="c1", amount=123.45)]


# -- what the page should write: assets/livewall-format.js for English, for the values the tests use ---------

def fmt(kind: str, v, top: float | None = None) -> str:
    """`top`: for a money place (a column), the largest value in it, which picks the unit of all."""
    if v is None:
        return "—"
    if kind == "int":
        return f"{v:,}"
    if kind == "money":   # yuan with cents below 1M, for the values the tests use
        assert abs(v) < 1e6
        return f"¥{v:,.2f}"
    if kind == "money-tile":   # a compact place whose largest value is `top` (v when not given)
        top = max(abs(v), top or 0)
        assert top < 1e6
        return f"¥{v:,.2f}" if top < 1e3 else f"¥{v:,.0f}" if top < 1e5 else f"¥{v / 1e3:,.1f}K"
    if kind == "pct":
        p = v * 100
        return f"{p:,.{0 if p == 0 else 2 if abs(p) < 1 else 1}f}%"
    if kind == "ratio":
        return f"{v:,.2f}"
    raise ValueError(kind)


def exact(v: float) -> str:
    return ("-¥" if v < 0 else "¥") + f"{abs(v):,.2f}"


ROW_METRICS = (("gmv", "money-tile"), ("online", "int"), ("viewers", "int"), ("orders", "int"),
               ("paid_orders", "int"), ("cvr", "pct"), ("roi", "ratio"), ("paid_roi", "ratio"), ("ad_spend", "money-tile"),
               ("bounce_2s_rate", "pct"))


def column_top(system, metric: str) -> float:
    """The largest value of a metric over every room: the unit of the rooms table's column."""
    rooms = [r["room"] for r in system.get("/api/rooms")["rooms"]]
    return max(abs(system.get(f"/api/rooms/{r}/metrics")[metric] or 0) for r in rooms)


def row(room: str) -> str:
    return f'.lw-m-row[data-room="{room}"]'


def open_manager(page, system, query: str = "", viewport=LAPTOP, session: str | None = None):
    """/manager, signed in as admin, or with `session` (a signed-in client's lw_session cookie)."""
    system.sign_in(page, session)
    page.set_viewport_size(viewport)
    page.goto(f"{system.url}/manager?lang=en{'&' + query if query else ''}")
    page.wait_for_function("document.getElementById('manager')?.dataset.conn === 'open'", timeout=15000)
    return page


def wait_text(page, selector: str, text: str, timeout: float = 5000):
    try:
        page.wait_for_function("([s, t]) => document.querySelector(s)?.textContent === t", arg=[selector, text],
                               timeout=timeout)
    except Exception as e:
        raise AssertionError(f"{selector}: wanted {text!r}, shows {page.text_content(selector)!r}") from e


# -- the tests ---------------------------------------------------------------------------------------------------

def test_rooms_side_by_side_with_their_live_numbers(system, page):
    system.post(live_room("mgr-a") + live_room("mgr-b", platform="kuaishou", buyers=2))
    for room, n in (("mgr-a", 3), ("mgr-b", 2)):
        system.metrics_when(room, lambda m, n=n: m["paid_orders"] == n and m["ad_spend"] > 0)
    open_manager(page, system)
    for room in ("mgr-a", "mgr-b"):
        m = system.get(f"/api/rooms/{room}/metrics")
        wait_text(page, f'{row(room)} [data-metric="gmv"]', fmt("money-tile", m["gmv"], column_top(system, "gmv")))
        for name, kind in ROW_METRICS:
            got = page.text_content(f'{row(room)} [data-metric="{name}"]')
            want = fmt(kind, m[name], column_top(system, name) if kind == "money-tile" else None)
            assert got == want, f"{room} {name}: page {got!r}, API {m[name]!r}"
        assert page.text_content(f'{row(room)} [data-field="fresh"]') == "Live"
    assert page.text_content(f'{row("mgr-b")} [data-field="platform"]') == "Kuaishou"
    # side by side: both rows on the first screen at once, one above the other, in name order
    a, b = page.locator(row("mgr-a")).bounding_box(), page.locator(row("mgr-b")).bounding_box()
    assert a["y"] + a["height"] <= b["y"] and b["y"] + b["height"] <= LAPTOP["height"]
    assert "livewall's own" in page.text_content(".lw-m-footnote")

    # numbers move in place as frames arrive, and a room that starts now gets its row
    system.post([ev("mgr-a", "pay", user="u9", sku="k1", order_id="o9", amount=250.0)])
    wait_text(page, f'{row("mgr-a")} [data-metric="gmv"]', fmt("money-tile", 847.0, column_top(system, "gmv")))
    assert page.text_content(f'{row("mgr-a")} [data-metric="paid_orders"]') == "4"
    system.post(live_room("mgr-c", platform="taobao", buyers=1))
    wait_text(page, f'{row("mgr-c")} [data-metric="gmv"]', fmt("money-tile", 199.0, column_top(system, "gmv")))
    rooms = page.eval_on_selector_all(".lw-m-rows > .lw-m-row", "rs => rs.map(r => r.dataset.room)")
    assert rooms == sorted(rooms) and {"mgr-a", "mgr-b", "mgr-c"} <= set(rooms)


def test_drill_down_shows_the_products_and_back_returns_to_the_overview(system, page):
    room = "mgr-d"
    products = (("k1", "羊毛大衣", 199.0, 15), ("k2", "围巾", 59.0, 0), ("k3", "手套", 29.9, 300))
    events = live_room(room, products=products, buyers=3)
    events += [ev(room, "pay", user="x1", sku="k3", order_id="x1", amount=29.9),
               ev(room, "pay", user="x2", sku="k3", order_id="x2", amount=29.9)]
    system.post(events)
    system.metrics_when(room, lambda m: m["paid_orders"] == 5)
    open_manager(page, system)
    page.evaluate("window.__lwNoReload = document.getElementById('manager')")
    page.locator(row(room)).click()
    detail = page.locator(f'.lw-m-detail[data-room="{room}"]')
    detail.wait_for(state="visible")
    assert page.url.endswith(f"/manager?lang=en&room={room}")
    assert not page.locator(".lw-m-overview").is_visible()

    api = system.get(f"/api/rooms/{room}/products")["products"]
    names = ".lw-m-product:not([hidden]) [data-field='products.name']"
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length === n", arg=[names, len(api)])
    assert page.eval_on_selector_all(names, "es => es.map(e => e.textContent)") == [p["name"] for p in api]
    for p in api:
        cells = f'{detail_sel(room)} .lw-m-product[data-sku="{p["sku"]}"]'
        assert page.text_content(f'{cells} [data-metric="products.gmv"]') == fmt("money-tile", p["gmv"])
        assert page.text_content(f'{cells} [data-metric="products.stock"]') == \
            ("Sold out" if p["stock"] == 0 else fmt("int", p["stock"]))
    m = system.get(f"/api/rooms/{room}/metrics")
    assert page.text_content(f'{detail_sel(room)} [data-metric="funnel.buyers"]') == fmt("int", m["funnel"]["buyers"])
    assert page.text_content(f'{detail_sel(room)} [data-metric="sources.paid.visits"]') == \
        fmt("int", m["sources"]["paid"]["visits"])
    assert page.get_attribute(".lw-m-wall-link", "href") == f"/wall?room={room}&lang=en"

    page.go_back()
    page.locator(".lw-m-overview").wait_for(state="visible")
    assert "room=" not in page.url and not detail.is_visible()
    page.go_forward()
    detail.wait_for(state="visible")
    page.locator(".lw-m-back").click()
    page.locator(".lw-m-overview").wait_for(state="visible")
    assert page.evaluate("window.__lwNoReload === document.getElementById('manager')"), "the page was rebuilt"

    # the URL is shareable: opening it shows the room at once
    open_manager(page, system, f"room={room}")
    assert detail.is_visible()
    wait_text(page, f'{detail_sel(room)} .lw-m-product [data-field="products.name"]', "羊毛大衣")


def detail_sel(room: str) -> str:
    return f'.lw-m-detail[data-room="{room}"]'


def _two_rooms_with_proposals(system, rooms: list[str]) -> None:
    """Seven minutes of a well-paying campaign in each room, each minute sampled by the ads job before the next
    (the job samples rooms as it runs), so that it proposes to raise their budgets (see tests/test_ads.py)."""
    r = redis.Redis.from_url(system.redis_url)
    builders = {room: Builder(f"mgr-{room}", room=room) for room in rooms}
    t0 = float(BASE_TS)
    system.post([e for room, b in builders.items() for e in
                 (b("session_start", t0, target_roi=2.0, platform="douyin"),
                  b("product_on", t0 + 0.1, sku="s1", name="保温杯", price=100.0, cost=40.0, stock=500))])
    for n in range(7):
        end = t0 + 60 * (n + 1)
        system.post([e for b in builders.values() for e in paid_minutes(b, t0 + 60 * n, 60, 10000 * n)])
        for room in rooms:
            system.metrics_when(room, lambda m, end=end: m["as_of"] >= end - 10)

            def sampled(room=room, end=end):
                st = r.get(keys.ads_state(room))
                return st and orjson.loads(st)["campaigns"]["c1"]["hist"][-1][0] >= end - 10
            wait_until(sampled, timeout=15, what=f"the ads job to sample {room}")
    r.close()


def _proposal(system, room: str):
    got = system.get(f"/api/rooms/{room}/suggestions")["suggestions"]
    return next((s for s in got if s["state"] == "proposed" and s["action"] == "raise_budget"), None)


def test_approving_a_suggestion_from_the_page_and_losing_a_race(system, page):
    rooms = ["mgr-ads1", "mgr-ads2"]
    _two_rooms_with_proposals(system, rooms)
    amy = system.add_user("boss-amy", "manager")
    open_manager(page, system, session=amy.cookies["lw_session"])
    cards = {}
    for room in rooms:
        wait_until(lambda room=room: _proposal(system, room), timeout=15, what=f"a proposal in {room}")
        sel = f'.lw-m-sug-main .lw-m-sug[data-room="{room}"][data-state="proposed"][data-action="raise_budget"]'
        page.wait_for_selector(sel, timeout=10000)
        cards[room] = page.get_attribute(sel, "data-suggestion")
    card = page.locator(f'.lw-m-sug[data-suggestion="{cards["mgr-ads1"]}"]')
    assert "Raise budget" in card.text_content() and re.search(r"Budget ¥[\d,.]+[K万]?/h → ¥[\d,.]+[K万]?/h \(\+\d+%\)",
                                                                 card.text_content()), card.text_content()
    assert card.locator("[data-reject]").is_visible()

    card.locator("[data-approve]").click()
    done = wait_until(lambda: next((s for s in system.get("/api/rooms/mgr-ads1/suggestions")["suggestions"]
                                    if s["id"] == cards["mgr-ads1"] and s["state"] == "applied"), None),
                      timeout=10, what="the approval to reach the API")
    assert done["decided_by"] == "boss-amy"
    page.wait_for_function("(id) => document.querySelector(`.lw-m-sug[data-suggestion=\"${id}\"]`)?.dataset.state"
                           " === 'applied'", arg=cards["mgr-ads1"])
    assert "boss-amy" in card.locator(".lw-m-sug-decided").text_content()
    assert not card.locator("[data-approve]").is_visible()

    # someone else decides the second one just before this page's click reaches the server: a real 409
    other = cards["mgr-ads2"]

    def someone_first(route):
        bob.post(f"/api/suggestions/{other}/reject", json={})
        route.continue_()
    bob = system.add_user("bob", "manager")
    page.route(f"**/api/suggestions/{other}/approve", someone_first)
    card2 = page.locator(f'.lw-m-sug[data-suggestion="{other}"]')
    card2.locator("[data-approve]").click()
    note = card2.locator('.lw-m-sug-note[data-note="m_conflict"]')
    note.wait_for()
    assert note.text_content().startswith("Someone else decided first")
    page.wait_for_function("(id) => document.querySelector(`.lw-m-sug[data-suggestion=\"${id}\"]`)?.dataset.state"
                           " === 'rejected'", arg=other)
    assert "bob" in card2.locator(".lw-m-sug-decided").text_content()
    [s] = [s for s in system.get("/api/rooms/mgr-ads2/suggestions")["suggestions"] if s["id"] == other]
    assert (s["state"], s["decided_by"]) == ("rejected", "bob")


def test_a_session_review_shows_the_profit_of_the_api(system, page):
    room = "mgr-rv"
    t0 = time.time() - 400
    events = [ev(room, "session_start", ts=t0, title="复盘测试", platform="taobao"),
              ev(room, "product_on", ts=t0 + 1, sku="p1", name="保温杯", price=89.9, cost=31.5, stock=100),
              ev(room, "product_on", ts=t0 + 2, sku="p2", name="茶叶", price=129.0, cost=70.25, stock=50)]
    for i in range(12):
        sku, amount = ("p1", 89.9) if i % 3 else ("p2", 129.0)
        t = t0 + 10 + i * 25
        events += [ev(room, "enter", ts=t, user=f"r{i}", source="paid"),
                   ev(room, "pay", ts=t + 5, user=f"r{i}", sku=sku, order_id=f"r{i}", amount=amount)]
    events += [ev(room, "refund", ts=t0 + 330, order_id="r1", amount=89.9),
               ev(room, "ad_spend", ts=t0 + 340, campaign="c1", amount=456.78),
               ev(room, "session_end", ts=t0 + 350)]
    system.post(events)
    system.metrics_when(room, lambda m: m["ended"] is not None)
    [session] = system.get(f"/api/rooms/{room}/sessions")["sessions"]
    open_manager(page, system, f"room={room}")
    button = page.locator(f'.lw-m-session[data-session="{session["session"]}"]')
    button.click()
    page.wait_for_selector('.lw-m-review[data-state="ready"]')
    assert f"session={session['session']}" in page.url.replace("%40", "@")

    review = system.get(f"/api/sessions/{session['session']}/review")
    shown = page.eval_on_selector_all(".lw-m-review [data-profit]", "els => els.map(e => e.dataset.profit)")
    assert {"gmv", "cost_of_goods", "gross_profit", "cost_coverage", "break_even_roi"} <= set(shown)
    for field in shown:
        value = review["profit"][field]
        cell = f'.lw-m-review [data-profit="{field}"]'
        assert float(page.get_attribute(cell, "data-value")) == value, field
        text = (fmt("ratio", value) if field in ("roi", "break_even_roi") else
                fmt("pct", value) if field == "cost_coverage" else exact(value))
        assert page.text_content(cell) == text, field
    assert review["profit"]["gross_profit"] != review["profit"]["gmv"]   # costs and spend were taken off
    assert page.locator(".lw-m-review-products tbody tr").count() == len(review["products"])
    minutes = [t for t in review["timeline"] if t["kind"] == "minute"]
    assert page.locator(".lw-m-timeline-svg .lw-m-bar-gmv").count() == len(minutes)


def _alert(room: str, audience: list[str], severity: str) -> dict:
    now = time.time()
    return {"id": uuid.uuid4().hex[:16], "rule": f"test_{audience[0]}_only", "room": room, "subject": None,
            "severity": severity, "state": "firing", "started": now, "updated": now, "figures": {"stock": 3},
            "title": {"zh": f"只给{audience[0]}的告警", "en": f"For the {audience[0]} only"},
            "message": {"zh": "测试", "en": "a test alert"}, "session": None, "as_of": now, "audience": audience,
            "acknowledged_by": None, "acknowledged_at": None, "resolved_at": None, "count": 1}


def test_alerts_of_every_audience_show_and_acknowledging_settles_them(system, page):
    room = "mgr-al"
    system.post(live_room(room, products=(("k1", "羊毛大衣", 199.0, 500),)))   # plenty of stock: no stock alert
    system.metrics_when(room, lambda m: m["paid_orders"] == 3)
    store = Store(redis.Redis.from_url(system.redis_url))
    for_wall = _alert(room, ["wall"], "critical")
    store.save([("fired", for_wall)])                 # before the page opens: it comes in the greeting
    li = system.add_user("boss-li", "manager")
    open_manager(page, system, session=li.cookies["lw_session"])
    for_assistant = _alert(room, ["assistant"], "warning")
    store.save([("fired", for_assistant)])            # while it is open: it comes as a change
    for a in (for_wall, for_assistant):
        item = page.locator(f'.lw-m-alert[data-alert-id="{a["id"]}"]')
        item.wait_for()
        assert a["title"]["en"] in item.text_content()
        assert item.get_attribute("data-state") == "firing"
        page.locator(f'[role="alert"][data-alert-id="{a["id"]}"]').wait_for()   # and a toast
    wait_text(page, f'{row(room)} [data-field="alerts"]', "⚠ 2")
    assert "wall" in page.text_content(f'.lw-m-alert[data-alert-id="{for_wall["id"]}"] .lw-m-alert-audience')

    page.locator(f'.lw-m-alert[data-alert-id="{for_wall["id"]}"] [data-ack]').click()
    page.wait_for_selector(f'.lw-m-alert[data-alert-id="{for_wall["id"]}"][data-state="acknowledged"]')
    [stored] = [a for a in system.get(f"/api/alerts?room={room}")["alerts"] if a["id"] == for_wall["id"]]
    assert (stored["state"], stored["acknowledged_by"]) == ("acknowledged", "boss-li")
    assert "boss-li" in page.text_content(f'.lw-m-alert[data-alert-id="{for_wall["id"]}"] .lw-m-alert-state')
    page.wait_for_selector(f'[role="alert"][data-alert-id="{for_wall["id"]}"]', state="detached")
    wait_text(page, f'{row(room)} [data-field="alerts"]', "⚠ 1")
    # firing first: the one still firing heads the list
    assert page.get_attribute(".lw-m-alert-list > .lw-m-alert", "data-alert-id") == for_assistant["id"]
    store.r.close()


def test_html_in_product_names_and_titles_is_text(system, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    room = "mgr-x"
    system.post(live_room(room, title=HTML, products=(("k1", f"大衣 {HTML}", 199.0, 15),)))
    system.metrics_when(room, lambda m: m["paid_orders"] == 3)
    open_manager(page, system)
    wait_text(page, f'{row(room)} [data-field="title"]', HTML)
    page.locator(row(room)).click()
    wait_text(page, f'{detail_sel(room)} [data-field="products.name"]', f"大衣 {HTML}")
    assert page.text_content(f'{detail_sel(room)} [data-field="title"]') == HTML
    assert page.locator("#manager img").count() == 0
    assert dialogs == []


def test_no_polling_after_load_while_events_flow(system, page):
    room = "mgr-p"
    system.post(live_room(room))
    sockets, requests = [], []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    open_manager(page, system)
    wait_text(page, f'{row(room)} [data-metric="gmv"]', fmt("money-tile", 597.0, column_top(system, "gmv")))
    page.on("request", lambda req: requests.append((req.resource_type, req.url)))
    stop = time.monotonic() + 3
    for i in itertools.count():
        system.post([ev(room, "pay", user=f"p{i}", sku="k1", order_id=f"p{i}", amount=10.0)])
        if time.monotonic() > stop:
            break
        page.wait_for_timeout(250)    # pacing the feed, not waiting for the page
    wait_text(page, f'{row(room)} [data-metric="gmv"]', fmt("money-tile", system.get(f"/api/rooms/{room}/metrics")["gmv"],
                                                             column_top(system, "gmv")))
    requests = [r for r in requests if "favicon" not in r[1]]
    assert requests == [], f"HTTP requests after load: {requests[:5]}"
    assert len(sockets) == 1 and sockets[0].endswith("/ws")


def test_reconnecting_says_so(system, page):
    system.post(live_room("mgr-c2"))
    connections = []

    def through(ws):
        connections.append(ws)
        ws.connect_to_server()
    page.route_web_socket("**/ws*", through)
    open_manager(page, system)
    connections[0].close(code=1011, reason="server went away")
    banner = page.wait_for_function(
        "(() => { const m = document.getElementById('manager');"
        " return m?.dataset.conn === 'reconnecting' && m.querySelector('.lw-banner').textContent; })()",
        timeout=3000).json_value()
    assert "reconnecting" in banner.lower()
    page.wait_for_function("document.getElementById('manager')?.dataset.conn === 'open'", timeout=5000)
    # the connection's banner goes; on a slow machine every room may be quiet by now, and the banner that
    # stays then says how old the data is, which is right
    page.wait_for_function("(() => { const b = document.querySelector('#manager .lw-banner');"
                           " return !b.offsetParent || !/reconnect/i.test(b.textContent); })()", timeout=3000)


WIDER = """w => [...document.querySelectorAll('body *')]   // what reaches past the screen's edge, for the message
    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && Math.max(r.right, r.left + e.scrollWidth) > w + 0.5; })
    .map(e => e.className + ' ' + Math.round(e.getBoundingClientRect().left + e.scrollWidth)).slice(-8)"""


def test_phone_shows_rooms_as_cards_without_sideways_scrolling(system, page):
    system.post(live_room("mgr-ph"))
    system.metrics_when("mgr-ph", lambda m: m["paid_orders"] == 3)
    open_manager(page, system, viewport=PHONE)
    wait_text(page, f'{row("mgr-ph")} [data-metric="gmv"]', fmt("money-tile", 597.0, column_top(system, "gmv")))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator(f'{row("mgr-ph")} [data-col="gmv"] .lw-m-cell-label').is_visible()   # labels on each card
    # no table header above cards: its columns become sort chips (a phone sorts too)
    assert page.locator('.lw-m-row-head .lw-m-sort[data-sort="gmv"]').is_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('.lw-m-row-head')).display") == "flex"
    page.locator(row("mgr-ph")).click()
    page.locator(detail_sel("mgr-ph")).wait_for(state="visible")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.evaluate(WIDER, PHONE["width"])


def _roi_room(room: str, spend: float, target: float | None = 2.0) -> list[dict]:
    """One paid buyer of ¥199 against `spend` of ads: paid ROI 199 / spend."""
    start = {"target_roi": target} if target else {}
    return [ev(room, "session_start", platform="douyin", **start),
            ev(room, "product_on", sku="k1", name="羊毛大衣", price=199.0, stock=50),
            ev(room, "enter", user="p1", source="paid"), ev(room, "product_click", user="p1", sku="k1"),
            ev(room, "pay", user="p1", sku="k1", order_id="p1", amount=199.0),
            ev(room, "ad_spend", campaign="c1", amount=spend)]


RED, AMBER, GREEN = "rgb(255, 77, 94)", "rgb(255, 176, 32)", "rgb(61, 220, 132)"


def test_paid_roi_is_coloured_against_its_target_in_the_table_and_the_drill_down(system, page):
    # paid ROI 0.20 against 2.00 (far below: bad), 1.33 (below: warning), 3.98 (good), and one with no target
    cases = {"roi-bad": (1000.0, 2.0, "bad", RED), "roi-warn": (150.0, 2.0, "warn", AMBER),
             "roi-good": (50.0, 2.0, "good", GREEN), "roi-none": (50.0, None, "none", None)}
    for room, (spend, target, _, _) in cases.items():
        system.post(_roi_room(room, spend, target))
        system.metrics_when(room, lambda m: m["ad_spend"] > 0)
    open_manager(page, system)
    for room, (spend, target, level, colour) in cases.items():
        cell = f'{row(room)} [data-metric="paid_roi"]'
        page.wait_for_function("([s, l]) => document.querySelector(s)?.dataset.level === l", arg=[cell, level])
        assert page.text_content(cell) == fmt("ratio", 199.0 / spend)
        assert page.text_content(f'{row(room)} [data-metric="target_roi"]') == (fmt("ratio", target) if target
                                                                                 else "no target")
        if colour:
            assert page.eval_on_selector(cell, "e => getComputedStyle(e).color") == colour, room
    page.locator(row("roi-bad")).click()
    kpi = f'{detail_sel("roi-bad")} [data-kpi="paid_roi"] .lw-kpi-value'
    page.wait_for_function("s => document.querySelector(s)?.dataset.level === 'bad'", arg=kpi)
    assert page.eval_on_selector(kpi, "e => getComputedStyle(e).color") == RED
