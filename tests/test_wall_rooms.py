"""Which rooms the screens show, in a real headless Chromium against the whole app: a room whose session ended
longer ago than the grace (`--ended-grace-minutes`, here 3 s) leaves the wall's rotation and the matrix and
comes back with a new session; a room that does not exist gets "no such room" with links to the rooms there are
(and fills in when it starts); every screen switches language through its URL.
"""
from __future__ import annotations

import itertools
import time

import pytest

from store import embedded
from tests.conftest import System, free_port

GRACE_MIN = 0.05   # 3 s
_ids = itertools.count()


def ev(room: str, type_: str, **fields) -> dict:
    return {"id": f"rooms-{room}-{next(_ids)}", "room": room, "ts": fields.pop("ts", time.time()), "type": type_,
            **fields}


def live(room: str) -> list[dict]:
    return [ev(room, "session_start", title="秋冬上新", platform="douyin"),
            ev(room, "enter", user="u1", source="recommend"),
            ev(room, "pay", user="u1", sku="k1", order_id=f"{room}-o1", amount=99.0)]


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    d = tmp_path_factory.mktemp("rooms")
    server = embedded.start(d / "redis", port=free_port())
    s = System(server.url, free_port(), d / "app.log", args=("--ended-grace-minutes", str(GRACE_MIN))).start()
    yield s
    s.stop()
    server.stop()


def signed_in(system, browser, width=1920, height=1080):
    return system.sign_in(browser.new_context(viewport={"width": width, "height": height}).new_page())


def test_an_ended_room_leaves_the_rotation_and_the_matrix_and_comes_back(system, browser):
    rooms = ["end-a", "end-b", "end-c"]
    system.post([e for room in rooms for e in live(room)])
    system.metrics_when("end-c", lambda m: m["paid_orders"] == 1)
    wall, matrix = signed_in(system, browser), signed_in(system, browser)
    wall.goto(f"{system.url}/wall?rooms={','.join(rooms)}&rotate=2&lang=en")
    matrix.goto(f"{system.url}/wall?mode=matrix&lang=en")
    wall.wait_for_function("document.querySelector('[data-field=rotation]')?.textContent === '1 / 3'", timeout=15000)
    matrix.wait_for_selector('.lw-tile[data-room="end-c"]:not([hidden])', timeout=15000)

    system.post([ev("end-c", "session_end")])
    system.metrics_when("end-c", lambda m: m["ended"] is not None)
    # within the grace it is still shown, marked ended; after it, gone from both
    matrix.wait_for_selector('.lw-tile[data-room="end-c"][data-state="ended"]', timeout=10000)
    matrix.wait_for_selector('.lw-tile[data-room="end-c"]', state="hidden", timeout=15000)
    assert matrix.locator('[data-field="room_count"]').text_content() == "2"
    wall.wait_for_function("/ 2$/.test(document.querySelector('[data-field=rotation]')?.textContent)", timeout=15000)
    # from here on the rotation takes end-a and end-b only: record every room it shows for two turns each
    wall.evaluate("""() => { window.__shown = [];
        new MutationObserver(() => window.__shown.push(document.querySelector('.lw-stage').dataset.room))
            .observe(document.querySelector('.lw-stage'), {attributes: true, attributeFilter: ['data-room']}); }""")
    wall.wait_for_function("""() => ['end-a', 'end-b'].every(r => window.__shown.filter(x => x === r).length >= 2)""",
                           timeout=20000)
    assert "end-c" not in wall.evaluate("window.__shown")

    system.post(live("end-c"))   # a new session brings it back
    matrix.wait_for_selector('.lw-tile[data-room="end-c"][data-state="live"]', timeout=10000)
    assert matrix.locator('[data-field="room_count"]').text_content() == "3"
    wall.wait_for_function("/ 3$/.test(document.querySelector('[data-field=rotation]')?.textContent)", timeout=15000)
    wall.wait_for_function("window.__shown.includes('end-c')", timeout=15000)
    for page in (wall, matrix):
        page.context.close()


@pytest.mark.parametrize("path,link", [("/wall?room=nope&lang=en", "/wall?room=real-1&lang=en"),
                                       ("/assistant/nope?lang=en", "/assistant/real-1?lang=en"),
                                       ("/manager?room=nope&lang=en", "/manager?room=real-1&lang=en")])
def test_an_unknown_room_says_so_and_links_the_rooms_there_are(system, browser, path, link):
    system.post(live("real-1"))
    system.metrics_when("real-1", lambda m: m["paid_orders"] == 1)
    page = signed_in(system, browser)
    page.goto(system.url + path)
    notice = page.locator('.lw-unknown[data-unknown-room="nope"]')
    notice.wait_for(timeout=15000)
    assert "No such room" in notice.text_content()
    hrefs = notice.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert link in hrefs
    page.locator(f'.lw-unknown a[href="{link}"]').click()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-room="real-1"] [data-metric="gmv"]')]
                              .some(e => e.textContent.includes('99'))""", timeout=15000)
    assert page.locator(".lw-unknown").count() == 0
    page.context.close()


def test_a_room_that_starts_later_fills_the_screen_and_a_room_not_readable_stays_unknown(system, browser):
    system.post(live("mine-1") + live("theirs-1"))
    system.metrics_when("theirs-1", lambda m: m["paid_orders"] == 1)
    viewer = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    system.sign_in(viewer, system.add_user("viewer-1", "viewer", rooms="mine-1").cookies["lw_session"])
    viewer.goto(f"{system.url}/wall?room=theirs-1&lang=en")
    viewer.locator('.lw-unknown[data-unknown-room="theirs-1"]').wait_for(timeout=15000)
    hrefs = viewer.locator(".lw-unknown a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["/wall?room=mine-1&lang=en"], "only the rooms this viewer may read are offered"
    assert viewer.locator('[data-room="theirs-1"] [data-metric="gmv"]').text_content() in ("", "—")

    page = signed_in(system, browser)
    page.goto(f"{system.url}/wall?room=later-1&lang=en")
    page.locator('.lw-unknown[data-unknown-room="later-1"]').wait_for(timeout=15000)
    system.post(live("later-1"))
    page.locator(".lw-unknown").wait_for(state="detached", timeout=10000)
    page.wait_for_function("document.querySelector('[data-room=\"later-1\"] [data-metric=\"gmv\"]')"
                           ".textContent.includes('99')", timeout=10000)
    for p in (viewer, page):
        p.context.close()


@pytest.mark.parametrize("path,width,height,label_en,label_zh", [
    ("/wall?room=lang-1&rotate=5", 1920, 1080, "Online now", "在线人数"),
    ("/wall?rooms=lang-1,lang-2&rotate=2", 1920, 1080, "Online now", "在线人数"),
    ("/wall?mode=matrix", 1920, 1080, "Online", "在线"),
    ("/assistant/lang-1", 1280, 800, "Online now", "在线人数"),
    ("/manager", 1440, 900, "Firing alerts", "告警中"),
])
def test_every_screen_switches_language_in_its_url(system, browser, path, width, height, label_en, label_zh):
    system.post(live("lang-1") + live("lang-2"))
    system.metrics_when("lang-2", lambda m: m["paid_orders"] == 1)
    page = signed_in(system, browser, width, height)
    page.goto(system.url + path + "&lang=en" if "?" in path else system.url + path + "?lang=en")
    shown = lambda label: page.locator(f'span:text-is("{label}"):visible').first   # noqa: E731 - not the templates
    shown(label_en).wait_for(timeout=15000)
    page.locator('.lw-lang a[lang="zh-CN"]').click()
    page.wait_for_url("**lang=zh**", timeout=15000)
    shown(label_zh).wait_for(timeout=15000)
    assert page.locator('.lw-lang a[aria-current]').text_content() == "中文"
    for key in ("room", "rooms", "mode", "rotate"):   # the rest of the URL is kept
        if f"{key}=" in path:
            assert f"{key}=" in page.url
    page.reload()
    shown(label_zh).wait_for(timeout=15000)
    if "rotate=2" in path:   # through a turn of the rotation
        page.wait_for_function("document.querySelector('.lw-stage').dataset.room === 'lang-2'", timeout=10000)
        assert shown(label_zh).is_visible()
    page.context.close()
