"""The tablet acts: put a product on stage, take it off, ask for a restock (insights/stage.py, server/stage_actions.py),
through the API and from the tablet in a real Chromium, seen on the wall and in the API, audited in the name of
who tapped. And who may not: an assistant of another room, a viewer, a foreign Origin.
"""
from __future__ import annotations

import time

import pytest

from tests.conftest import wait_until
from tests.test_assistant import ev, on_stage_room, open_tablet

ROOM = "stage-a"
OTHER = "stage-b"
PW = "pw-" + "s" * 12


def catalogue(room: str, n: int = 3) -> list[dict]:
    """k1 on stage (from on_stage_room), and products k2… with names, prices and stock, seen but not on stage."""
    t = time.time()
    out = on_stage_room(room, ts=t)
    for i in range(2, n + 2):
        out += [ev(room, "product_on", ts=t, sku=f"k{i}", name=f"围巾{i}号", price=50.0 + i, cost=20.0, stock=100 * i),
                ev(room, "product_off", ts=t, sku=f"k{i}")]
    # k1 back on stage last: the others were shown before and are off now
    return out + [ev(room, "product_on", ts=t, sku="k1")]


def on_stage(system, room: str) -> list[str]:
    return [p["sku"] for p in system.get(f"/api/rooms/{room}/products?limit=1000")["products"] if p["on_stage"]]


@pytest.fixture(scope="module")
def rooms(system):
    for room in (ROOM, OTHER):
        system.post(catalogue(room))
        system.metrics_when(room, lambda m: m["paid_orders"] == 3)
        wait_until(lambda: on_stage(system, room) == ["k1"], what=f"k1 on stage in {room}")
    return system


def clients(system):
    return (system.add_user("lin-a", "assistant", ROOM, PW), system.add_user("lin-b", "assistant", OTHER, PW),
            system.add_user("vic", "viewer", None, PW))


def test_put_on_stage_takes_the_last_one_off_and_is_audited(rooms):
    system = rooms
    mine, _theirs, _viewer = clients(system)
    resp = mine.post(f"/api/rooms/{ROOM}/stage", json={"sku": "k2", "by": "somebody else"})
    assert resp.status_code == 200, resp.text
    event = resp.json()["event"]
    assert event["type"] == "product_on" and event["by"] == "lin-a"
    assert (event["name"], event["price"], event["cost"], event["stock"]) == ("围巾2号", 52.0, 20.0, 200)
    wait_until(lambda: on_stage(system, ROOM) == ["k2"], timeout=5, what="k2 alone on stage")
    audit = system.get(f"/api/audit?room={ROOM}")["audit"]
    mine_rows = [a for a in audit if a["kind"] == "stage_on" and a["sku"] == "k2"]
    assert mine_rows and mine_rows[0]["by"] == "lin-a" and mine_rows[0]["replaced"] == ["k1"]
    # the same tap twice is a second event (a fresh id), and changes nothing more
    assert mine.post(f"/api/rooms/{ROOM}/stage", json={"sku": "k2"}).json()["event"]["id"] != event["id"]


def test_take_off_and_restock(rooms):
    system = rooms
    mine, _theirs, _viewer = clients(system)
    assert mine.post(f"/api/rooms/{ROOM}/stage", json={"sku": "k3"}).status_code == 200
    wait_until(lambda: on_stage(system, ROOM) == ["k3"], timeout=5, what="k3 on stage")
    resp = mine.post(f"/api/rooms/{ROOM}/stage/off", json={})
    assert resp.status_code == 200 and [e["sku"] for e in resp.json()["events"]] == ["k3"]
    wait_until(lambda: on_stage(system, ROOM) == [], timeout=5, what="nothing on stage")
    assert mine.post(f"/api/rooms/{ROOM}/stage/off", json={}).status_code == 409

    resp = mine.post(f"/api/rooms/{ROOM}/restock", json={"sku": "k2", "note": "补 200 件"})
    assert resp.status_code == 200, resp.text
    alert = resp.json()["alert"]
    assert (alert["rule"], alert["severity"], alert["state"], alert["subject"]) == ("restock_request", "warning",
                                                                                   "firing", "k2")
    assert alert["figures"]["user"] == "lin-a" and alert["figures"]["stock"] == 200
    assert "manager" in alert["audience"] and "wall" in alert["audience"]
    assert "围巾2号" in alert["message"]["zh"] and "lin-a" in alert["message"]["en"]
    listed = [a for a in system.get(f"/api/alerts?room={ROOM}")["alerts"] if a["rule"] == "restock_request"]
    assert [a["id"] for a in listed] == [alert["id"]]
    again = mine.post(f"/api/rooms/{ROOM}/restock", json={"sku": "k2"}).json()["alert"]
    assert again["id"] == alert["id"] and again["count"] == 2, "asking twice is one alert, counted twice"


def test_who_may_not(rooms):
    system = rooms
    _mine, theirs, viewer = clients(system)
    for client, status in ((theirs, 403), (viewer, 403)):
        for path in ("stage", "stage/off", "restock"):
            resp = client.post(f"/api/rooms/{ROOM}/{path}", json={"sku": "k2"})
            assert resp.status_code == status, (path, resp.text)
            assert "error" in resp.json()
    resp = system.http.post(f"/api/rooms/{ROOM}/stage", json={"sku": "k2"}, headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403
    import httpx
    with httpx.Client(base_url=system.url) as anonymous:
        assert anonymous.post(f"/api/rooms/{ROOM}/stage", json={"sku": "k2"}).status_code == 401


def test_bad_requests_get_4xx_json(rooms):
    system = rooms
    mine, _theirs, _viewer = clients(system)
    cases = [(f"/api/rooms/{ROOM}/stage", {"sku": "nope"}, 404), (f"/api/rooms/{ROOM}/stage", {}, 400),
             (f"/api/rooms/{ROOM}/stage", {"sku": 5}, 400), (f"/api/rooms/{ROOM}/stage", [1], 400),
             (f"/api/rooms/{ROOM}/restock", {"sku": "k2", "note": 7}, 400),
             (f"/api/rooms/{ROOM}/restock", {"sku": "nope"}, 404)]
    for path, body, status in cases:
        resp = mine.post(path, json=body)
        assert resp.status_code == status, (path, body, resp.text)
        assert "error" in resp.json()
    resp = system.http.post("/api/rooms/no-such-room/stage", json={"sku": "k1"})
    assert resp.status_code == 404 and "error" in resp.json()
    resp = mine.post(f"/api/rooms/{ROOM}/stage", content=b"not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400


def test_products_search_and_paging(rooms):
    system = rooms
    got = system.get(f"/api/rooms/{ROOM}/products?q=%E5%9B%B4%E5%B7%BE&limit=1")   # 围巾
    assert got["total"] == 3 and len(got["products"]) == 1
    assert system.get(f"/api/rooms/{ROOM}/products?q=K3")["products"][0]["sku"] == "k3", "case-insensitive sku"
    page2 = system.get(f"/api/rooms/{ROOM}/products?q=%E5%9B%B4%E5%B7%BE&limit=1&offset=1")
    assert page2["total"] == 3 and page2["products"][0]["sku"] != got["products"][0]["sku"]
    assert system.get(f"/api/rooms/{ROOM}/products?q=zzz") == {"total": 0, "products": []}
    assert system.http.get(f"/api/rooms/{ROOM}/products?q=" + "x" * 129).status_code == 400


def test_ended_session_refuses(system):
    room = "stage-ended"
    system.post(catalogue(room) + [ev(room, "session_end", ts=time.time())])
    system.metrics_when(room, lambda m: m.get("ended") is not None)
    resp = system.http.post(f"/api/rooms/{room}/stage", json={"sku": "k2"})
    assert resp.status_code == 409 and "ended" in resp.json()["error"]


# ---- from the tablet, in Chromium ----------------------------------------------------------------------------

def api_on_stage_within(system, room: str, sku: str, deadline: float) -> None:
    def shown():
        m = system.http.get(f"/api/rooms/{room}/products?q={sku}").json()["products"]
        return any(p["sku"] == sku and p["on_stage"] for p in m)
    wait_until(shown, timeout=max(0.05, deadline - time.time()), what=f"{sku} on stage in the API")


def test_the_tablet_puts_on_stage_and_the_wall_and_api_follow_within_2s(rooms, browser):
    system = rooms
    mine, _theirs, _viewer = clients(system)
    wall = system.sign_in(browser.new_context(viewport={"width": 1920, "height": 1080})).new_page()
    wall.goto(f"{system.url}/wall?room={ROOM}&lang=en")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, has_touch=True)
    tablet = open_tablet(ctx.new_page(), system, ROOM, session=mine.cookies["lw_session"])
    # whatever is on stage now, put k1 there first (the tests above moved things)
    mine.post(f"/api/rooms/{ROOM}/stage", json={"sku": "k1"})
    wall.wait_for_selector(f'[data-room="{ROOM}"] .lw-onstage[data-sku="k1"]', timeout=10000)
    tablet.wait_for_selector(f'[data-room="{ROOM}"] .lw-as-stage[data-sku="k1"]', timeout=10000)

    tablet.click('.lw-as-stage [data-action="open-products"]')
    tablet.fill(".lw-as-picker-q", "围巾4")
    # the search keeps only what matches
    tablet.wait_for_function("() => { const rows = document.querySelectorAll('.lw-as-pick');"
                             " return rows.length === 1 && rows[0].querySelector('[data-sku=\"k4\"]'); }", timeout=5000)
    button = tablet.locator('.lw-as-picker [data-action="put-on-stage"][data-sku="k4"]')
    t0 = time.time()
    button.tap()
    wall.wait_for_selector(f'[data-room="{ROOM}"] .lw-onstage[data-sku="k4"]', timeout=2000)
    api_on_stage_within(system, ROOM, "k4", t0 + 2.0)
    tablet.wait_for_selector(".lw-as-picker", state="hidden", timeout=2000)
    tablet.wait_for_selector(f'.lw-as-stage[data-sku="k4"]', timeout=2000)
    assert on_stage(system, ROOM) == ["k4"]
    audit = system.get(f"/api/audit?room={ROOM}")["audit"]
    assert next(a for a in audit if a["kind"] == "stage_on")["by"] == "lin-a" and audit[0]["sku"] == "k4"

    # a re-run pick puts its product on stage the same way (k2, k3 were on stage and left: they may come back)
    wait_until(lambda: system.get(f"/api/rooms/{ROOM}/recommendations")["recommendations"], timeout=15,
               what="re-run picks")
    pick = tablet.locator('.lw-as-rerun-row:not(.is-empty) [data-action="put-on-stage"]').first
    pick.wait_for(timeout=10000)
    sku = pick.get_attribute("data-sku")
    t0 = time.time()
    pick.tap()
    wall.wait_for_selector(f'[data-room="{ROOM}"] .lw-onstage[data-sku="{sku}"]', timeout=2000)
    api_on_stage_within(system, ROOM, sku, t0 + 2.0)

    # taking off asks first; Cancel changes nothing, the confirm takes it off
    tablet.tap('.lw-as-stage [data-action="take-off"]')
    tablet.wait_for_selector(".lw-as-confirm", state="visible")
    shown = tablet.locator(".lw-as-stage").get_attribute("data-sku")
    tablet.tap('[data-action="cancel-off"]')
    tablet.wait_for_selector(".lw-as-confirm", state="hidden")
    assert on_stage(system, ROOM) == [shown]
    tablet.tap('.lw-as-stage [data-action="take-off"]')
    tablet.tap('[data-action="confirm-off"]')
    wall.wait_for_selector(f'[data-room="{ROOM}"] .lw-onstage.is-empty', timeout=2000)
    tablet.wait_for_selector(".lw-as-stage.is-empty", timeout=2000)
    ctx.close()
    wall.context.close()


def test_a_sold_out_card_offers_switch_and_restock_and_the_manager_sees_the_request(rooms, browser):
    system = rooms
    _mine, theirs, _viewer = clients(system)
    t = time.time()
    system.post([ev(OTHER, "stock", ts=t, sku="k1", stock=0)])
    system.get  # noqa: B018
    theirs.post(f"/api/rooms/{OTHER}/stage", json={"sku": "k1"})
    manager = system.add_user("mia", "manager", None, PW)
    mpage = system.sign_in(browser.new_context(viewport={"width": 1440, "height": 900}),
                           manager.cookies["lw_session"]).new_page()
    mpage.goto(f"{system.url}/manager?lang=en")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, has_touch=True)
    tablet = open_tablet(ctx.new_page(), system, OTHER, session=theirs.cookies["lw_session"])
    soldout = tablet.locator('.lw-as-stock[data-level="out"] .lw-as-soldout-acts')
    soldout.wait_for(timeout=10000)
    assert soldout.locator('[data-action="open-products"]').is_visible()
    soldout.locator('[data-action="restock"]').tap()
    tablet.wait_for_function("() => document.querySelector('.lw-as-act-status').textContent.includes('Restock')",
                             timeout=5000)
    mpage.wait_for_selector('[data-alert="restock_request"]', timeout=5000)
    alert = next(a for a in system.get(f"/api/alerts?room={OTHER}")["alerts"] if a["rule"] == "restock_request")
    assert alert["figures"]["user"] == "lin-b" and alert["figures"]["sku"] == "k1"
    # switch product: the picker opens from the red card
    soldout.locator('[data-action="open-products"]').tap()
    tablet.wait_for_selector('.lw-as-picker [data-action="put-on-stage"][data-sku="k2"]', timeout=5000)
    ctx.close()
    mpage.context.close()


def test_a_viewer_sees_no_controls(rooms, browser):
    system = rooms
    _mine, _theirs, viewer = clients(system)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    tablet = open_tablet(ctx.new_page(), system, ROOM, session=viewer.cookies["lw_session"])
    assert tablet.locator(".lw-as-stage-acts [data-action]").evaluate_all(
        "els => els.filter(e => e.offsetParent !== null).length") == 0
    ctx.close()
