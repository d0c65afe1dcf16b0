"""/assistant/<room>, the streamer assistant's tablet, in a real headless Chromium against the whole app.

Events go in through /api/events and must come out on the tablet by push: the product on stage with its price,
stock (and the low / sold-out warning), sales and conversion; the room's numbers; the alerts meant for the
assistant (and not the others), acknowledged from the tablet or from anywhere else. Waits on conditions only.
"""
from __future__ import annotations

import itertools
import time

import orjson
import redis

from store import keys
from tests.conftest import wait_until

HTML = "<img src=x onerror=alert(1)>"
TABLET = {"width": 1280, "height": 800}
_ids = itertools.count()


def ev(room: str, type_: str, **fields) -> dict:
    return {"id": f"asst-{room}-{next(_ids)}", "room": room, "ts": fields.pop("ts", time.time()), "type": type_,
            **fields}


def on_stage_room(room: str, buyers: int = 3, stock: int | None = 15, name: str = "羊毛大衣", ts: float | None = None):
    """A session happening now: viewers in, one product on stage, `buyers` paid orders, a comment."""
    t = time.time() if ts is None else ts
    stocked = {} if stock is None else {"stock": stock}
    out = [ev(room, "session_start", ts=t, title="秋冬上新", streamer="小李", platform="douyin"),
           ev(room, "product_on", ts=t, sku="k1", name=name, price=199.0, cost=80.0, **stocked)]
    for i in range(buyers):
        user = f"u{i}"
        out += [ev(room, "enter", ts=t, user=user, source="recommend"),
                ev(room, "product_view", ts=t, user=user, sku="k1"), ev(room, "product_click", ts=t, user=user, sku="k1"),
                ev(room, "order", ts=t, user=user, sku="k1", order_id=f"o{i}", amount=199.0),
                ev(room, "pay", ts=t, user=user, sku="k1", order_id=f"o{i}", amount=199.0)]
    return out + [ev(room, "comment", ts=t, user="u0", text="好看")]


def open_tablet(page, system, room: str, query: str = "lang=en", ready: bool = True, session: str | None = None):
    """The room's tablet, signed in as admin, or with `session` (a signed-in client's lw_session cookie)."""
    resp = system.sign_in(page, session).goto(f"{system.url}/assistant/{room}?{query}")
    assert resp.status == 200
    if ready:
        page.wait_for_function("r => document.querySelector(`[data-room='${r}']`)?.dataset.state === 'live'",
                               arg=room, timeout=15000)
    return page


def shows(page, selector: str, text: str, timeout: float = 5000) -> None:
    """Wait until the first element matching `selector` has exactly `text`."""
    page.wait_for_function("([s, t]) => document.querySelector(s)?.textContent === t", arg=[selector, text],
                           timeout=timeout)


def metric(room: str, name: str) -> str:
    return f'[data-room="{room}"] [data-metric="{name}"]'


def alerts_of(system, room: str, rule: str) -> list[dict]:
    return [a for a in system.get(f"/api/alerts?room={room}")["alerts"] if a["rule"] == rule]


def firing(system, room: str, rule: str) -> dict | None:
    return next((a for a in alerts_of(system, room, rule) if a["state"] == "firing"), None)


def bounce_storm(room: str) -> list[dict]:
    """Forty arrivals in four seconds, every one gone within half a second (as tests/test_alert_toasts.py)."""
    now, out = time.time(), []
    for i in range(40):
        t = now - 4 + i * 0.1
        out += [ev(room, "enter", ts=t, user=f"s{i}", source="paid"), ev(room, "leave", ts=t + 0.5, user=f"s{i}")]
    return out


def toast(rule: str) -> str:
    return f'[role="alert"][data-alert="{rule}"]'


# ---------------------------------------------------------------------------------------------------------------


def test_the_product_on_stage_and_the_room_update_by_push(system, page):
    room = "asst-a"
    system.post(on_stage_room(room))
    system.metrics_when(room, lambda m: m["paid_orders"] == 3)
    open_tablet(page, system, room)
    stage = f'[data-room="{room}"] .lw-as-stage'
    shows(page, f'{stage} [data-field="onstage_name"]', "羊毛大衣")
    assert page.locator(stage).get_attribute("data-sku") == "k1"
    shows(page, metric(room, "products.price"), "¥199.00")
    shows(page, metric(room, "products.stock"), "12")                       # 15 - 3 paid
    assert page.locator(f"{stage} .lw-as-stock").get_attribute("data-level") == "low"
    assert page.locator(".lw-as-warn-low .i18n-en").is_visible()
    assert page.locator(metric(room, "products.units")).text_content() == "3"
    assert page.locator(metric(room, "products.gmv")).text_content() == "¥597.00"
    assert page.locator(metric(room, "products.cvr")).text_content() == "100.0%"
    assert page.locator(metric(room, "gmv")).text_content() == "¥597.00"
    assert page.locator(metric(room, "online")).text_content() == "3"
    assert page.locator(metric(room, "orders")).text_content() == "3"
    assert page.locator(metric(room, "cvr")).text_content() == "100.0%"

    # from here on everything must arrive by push: no HTTP request at all
    requests = []
    page.on("request", lambda req: requests.append(req.url))
    t0 = time.monotonic()
    system.post([ev(room, "enter", user="u3", source="search"), ev(room, "product_click", user="u3", sku="k1"),
                 ev(room, "order", user="u3", sku="k1", order_id="o3", amount=398.0, qty=2),
                 ev(room, "pay", user="u3", sku="k1", order_id="o3", amount=398.0, qty=2)])
    shows(page, metric(room, "products.stock"), "10")
    took = time.monotonic() - t0
    assert took < 2.0, f"event to tablet took {took:.2f}s"
    shows(page, metric(room, "products.units"), "5")
    shows(page, metric(room, "products.gmv"), "¥995.00")
    shows(page, metric(room, "gmv"), "¥995.00")
    shows(page, metric(room, "online"), "4")

    system.post([ev(room, "stock", sku="k1", stock=0)])
    shows(page, metric(room, "products.stock"), "Sold out")
    assert page.locator(f"{stage} .lw-as-stock").get_attribute("data-level") == "out"
    assert page.locator(".lw-as-warn-out .i18n-en").is_visible()

    # the next product: no stock reported yet
    system.post([ev(room, "product_off", sku="k1"), ev(room, "product_on", sku="k2", name="围巾", price=59.9)])
    shows(page, f'{stage} [data-field="onstage_name"]', "围巾")
    shows(page, metric(room, "products.price"), "¥59.90")
    assert page.locator(metric(room, "products.stock")).text_content() == "—"
    assert page.locator(f"{stage} .lw-as-stock").get_attribute("data-level") == "unknown"

    system.post([ev(room, "product_off", sku="k2")])
    page.wait_for_selector(f"{stage}.is-empty")
    assert page.get_by_text("No product on stage", exact=True).is_visible()
    assert [u for u in requests if "favicon" not in u] == []


def test_assistant_alerts_toast_and_the_others_do_not(system, browser, page):
    """spend_ahead is for managers only (rules.yaml); a bounce storm is for the assistant too."""
    room = "asst-t"
    start = time.time() - 400
    # a calm room 400 s ago: twenty viewers who stay, a product with little stock (stock_low, an assistant alert,
    # tells that the risk job has seen this state: spend_ahead compares with a sample 300 s back)
    system.post([ev(room, "session_start", ts=start, platform="douyin"),
                 ev(room, "product_on", ts=start, sku="k1", name="保温杯", price=39.0, stock=5)]
                + [ev(room, "enter", ts=start + i * 0.1, user=f"v{i}", source="recommend") for i in range(20)])
    wait_until(lambda: firing(system, room, "stock_low"), timeout=15, what="stock_low fired")
    wait_until(lambda: system.post([ev(room, "ad_spend", campaign="qc-1", amount=300.0)])
               and firing(system, room, "spend_ahead"), timeout=15, interval=0.5, what="spend_ahead fired")
    assert firing(system, room, "spend_ahead")["audience"] == ["manager"]

    # a tablet opened now gets the recent alerts in its greeting: the assistant's only
    tablet = system.add_user("tablet-1", "assistant", rooms=room)   # the room's assistant, signed in
    open_tablet(page, system, room, "lang=en", session=tablet.cookies["lw_session"])
    tablet.close()
    page.wait_for_selector(toast("stock_low"), timeout=5000)
    # and live: a bounce storm
    system.post(bounce_storm(room))
    storm = page.wait_for_selector(toast("bounce_storm"), timeout=5000)
    assert page.locator(toast("spend_ahead")).count() == 0
    assert storm.get_attribute("data-severity") == "critical"
    assert "Bounce storm" in storm.text_content()
    shows(page, '[data-field="alert_count"]', "2 open")
    assert page.locator(".lw-as-body.has-critical").count() == 1

    # the tablet's button acknowledges as its signed-in assistant; the toast says so and goes
    alert_id = storm.get_attribute("data-alert-id")
    button = page.locator(f'{toast("bounce_storm")} [data-ack]')
    box = button.bounding_box()
    assert box["height"] >= 48, "a touch target a thumb can hit"
    button.click()
    page.wait_for_selector(f'[data-alert-id="{alert_id}"][data-state="acknowledged"]', timeout=5000)
    page.wait_for_selector(f'[data-alert-id="{alert_id}"]', state="detached", timeout=5000)
    [listed] = [a for a in alerts_of(system, room, "bounce_storm") if a["id"] == alert_id]
    assert (listed["state"], listed["acknowledged_by"]) == ("acknowledged", "tablet-1")
    assert page.locator(toast("spend_ahead")).count() == 0

    # the low-stock warning's toast fades (15 s), but while it is open it stays listed with its own button
    row = page.wait_for_selector('.lw-as-open[data-alert-rule="stock_low"]', timeout=20000)
    assert page.locator(toast("stock_low")).count() == 0
    assert "保温杯" in row.text_content()
    low_id = row.get_attribute("data-alert-id")
    page.locator(f'.lw-as-open[data-alert-id="{low_id}"] [data-ack]').click()
    page.wait_for_selector(f'.lw-as-open[data-alert-id="{low_id}"]', state="detached", timeout=5000)
    [listed] = [a for a in alerts_of(system, room, "stock_low") if a["id"] == low_id]
    assert (listed["state"], listed["acknowledged_by"]) == ("acknowledged", "tablet-1")
    assert page.get_by_text("All clear", exact=True).is_visible()


def test_a_critical_alert_stays_until_acknowledged_from_anywhere(system, page):
    room = "asst-s"
    system.post(on_stage_room(room, buyers=2, stock=2, name="围巾"))
    sold_out = wait_until(lambda: firing(system, room, "sold_out"), timeout=15, what="sold_out fired")
    # opened after it fired, the tablet still shows it: critical alerts wait for someone to act
    open_tablet(page, system, room, "lang=en")
    shows(page, metric(room, "products.stock"), "Sold out")
    el = page.wait_for_selector(f'{toast("sold_out")}[data-alert-id="{sold_out["id"]}"]', timeout=5000)
    assert "围巾" in el.text_content()
    # acknowledged on another screen (the manager's): the tablet's toast settles by push
    manager = system.add_user("boss", "manager")
    resp = manager.post(f"/api/alerts/{sold_out['id']}/ack", json={})
    manager.close()
    assert resp.status_code == 200
    settled = page.wait_for_selector(f'[data-alert-id="{sold_out["id"]}"][data-state="acknowledged"]', timeout=5000)
    assert "Acknowledged by boss" in settled.text_content()
    page.wait_for_selector(f'[data-alert-id="{sold_out["id"]}"]', state="detached", timeout=5000)


def test_html_in_product_names_comments_and_alerts_is_text(system, page):
    room = "asst-x"
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    system.post(on_stage_room(room, name=f"大衣 {HTML}") + [ev(room, "comment", user=HTML, text=HTML)])
    system.metrics_when(room, lambda m: m["comments"] == 2)
    open_tablet(page, system, room)
    shows(page, '[data-field="onstage_name"]', f"大衣 {HTML}")
    page.locator(".lw-as-comment-text", has_text=HTML).wait_for()
    page.locator(".lw-as-comment-user", has_text=HTML).wait_for()
    # an alert's text quotes the product name too (stock_low: "{name}: 12 left")
    page.locator(toast("stock_low"), has_text=HTML).wait_for(timeout=10000)
    assert page.locator("#assistant img").count() == 0
    assert dialogs == []


def test_a_bad_room_name_gets_a_clear_page(system, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for name in ("bad room!", HTML, "x" * 65):
        open_tablet(page, system, name, ready=False)
        page.wait_for_selector('#assistant[data-invalid="room"]', timeout=10000)
        assert page.get_by_text("Invalid room name", exact=True).is_visible()
        assert page.locator(".lw-as-given").text_content() == name   # as typed, as text
        assert page.locator(".lw-as-home").get_attribute("href") == "/"
        assert page.locator("[data-room]").count() == 0
    assert page.locator("#assistant img").count() == 0
    assert dialogs == []


def test_a_room_without_data_waits_for_it(system, page):
    room = "asst-later"
    open_tablet(page, system, room, ready=False)
    page.wait_for_function("document.getElementById('assistant')?.dataset.conn === 'open'", timeout=10000)
    assert page.get_by_text("No data from this room yet", exact=False).is_visible()
    assert page.locator(f'[data-room="{room}"]').get_attribute("data-state") == "waiting"
    # the session starts: the tablet fills itself
    system.post(on_stage_room(room))
    shows(page, '[data-field="onstage_name"]', "羊毛大衣", timeout=10000)
    assert not page.get_by_text("No data from this room yet", exact=False).is_visible()


def test_old_data_says_how_old(system, page):
    """A frame produced 35 s ago (as after an engine stall) must not pass for live data."""
    room = "asst-o"
    system.post(on_stage_room("asst-o0"))
    system.metrics_when("asst-o0", lambda m: m["paid_orders"] == 3)
    open_tablet(page, system, room, ready=False)
    page.wait_for_function("document.getElementById('assistant')?.dataset.conn === 'open'")
    r = redis.Redis.from_url(system.redis_url)
    frame = orjson.loads(r.get(keys.snapshot("asst-o0")))
    r.publish(keys.frames(room), orjson.dumps({**frame, "room": room, "updated": time.time() - 35}))
    r.close()
    banner = page.locator(".lw-banner")
    banner.wait_for(state="visible", timeout=5000)
    assert banner.text_content().startswith("Data 3") and banner.text_content().endswith("s old")
    assert page.locator(".lw-as-body.is-stale").count() == 1


def test_language_from_the_url(system, page):
    system.post(on_stage_room("asst-l"))
    open_tablet(page, system, "asst-l", "lang=zh")
    assert page.get_by_text("讲解中", exact=True).first.is_visible()
    assert not page.get_by_text("On stage", exact=True).first.is_visible()
    assert page.locator('[data-field="platform"]').text_content() == "抖音"
    shows(page, metric("asst-l", "products.stock"), "12")


def layout_report(page, min_px: float) -> dict:
    return page.evaluate("""(minPx) => {
        const root = document.scrollingElement, small = [], outside = [];
        for (const el of document.querySelectorAll('#assistant *')) {
            if (!el.offsetParent) continue;
            const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
            const box = el.getBoundingClientRect();
            if (own && parseFloat(getComputedStyle(el).fontSize) < minPx) small.push(el.className);
            if (el.dataset.metric && (box.bottom > innerHeight || box.right > innerWidth)) outside.push(el.dataset.metric);
        }
        return {scroll: [root.scrollWidth - innerWidth, root.scrollHeight - innerHeight], small, outside};
    }""", min_px)


def test_fits_a_tablet_either_way_and_a_phone_across(system, browser):
    room = "asst-f"
    # the session began before the storm: a storm is told against the room's calmer start
    system.post(on_stage_room(room, name="加厚保暖羊毛大衣（限时特价，买一送一）", ts=time.time() - 30))
    system.post(bounce_storm(room))
    for size in ({"width": 1280, "height": 800}, {"width": 800, "height": 1280}, {"width": 390, "height": 844}):
        ctx = browser.new_context(viewport=size, has_touch=True)
        page = open_tablet(ctx.new_page(), system, room)
        page.wait_for_selector(toast("bounce_storm"), timeout=10000)
        phone = size["width"] < 600
        report = layout_report(page, 13 if phone else 15)   # the root font is 14 px on a phone, 16 on a tablet
        ctx.close()
        assert report["scroll"][0] == 0, f"{size}: scrolls sideways"
        assert phone or report["scroll"][1] == 0, f"{size}: a tablet screen must not scroll"
        assert report["small"] == [], f"{size}: text too small: {sorted(set(report['small']))}"
        assert phone or report["outside"] == [], f"{size}: numbers off screen: {report['outside']}"


def test_a_long_price_shrinks_to_fit_its_box(system, browser):
    """¥1,470.90 is wider than the price's box at its full size, on a tablet either way: it shrinks to fit
    rather than being cut off."""
    room = "asst-price"
    events = on_stage_room(room)
    events[1]["price"] = 1470.9
    system.post(events)
    for size in ({"width": 1280, "height": 800}, {"width": 800, "height": 1280}):
        ctx = browser.new_context(viewport=size, has_touch=True)
        page = open_tablet(ctx.new_page(), system, room)
        shows(page, f'[data-room="{room}"] .lw-as-price', "¥1,470.90")
        page.wait_for_function("() => { const e = document.querySelector('.lw-as-price');"
                               " return e.scrollWidth <= e.clientWidth && e.style.fontSize !== ''; }", timeout=5000)
        ctx.close()


def test_the_url_to_a_configuration():
    from server.pages.assistant import assistant_config
    assert assistant_config(room="douyin-01") == {"room": "douyin-01", "lang": None, "sound": False}
    assert assistant_config(room="a:b.c_d-1", lang=["zh", "en"], screen="tablet 2", sound="1") == {
        "room": "a:b.c_d-1", "lang": "en", "sound": True}, "?screen= names no one any more"
    for bad in ("", "a/b", "a b", "x" * 65, HTML, None):
        assert assistant_config(room=bad) is None
