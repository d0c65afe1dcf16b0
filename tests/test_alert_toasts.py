"""A real alert on real walls: a bounce storm posted through /api/events becomes a toast on every open wall
within two seconds, and acknowledging it on one wall settles it on the other. The DOM contract: a toast is
role="alert" with data-alert=<rule> and data-alert-id=<id>, its button [data-ack]."""
from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not (Path(__file__).parent.parent / "callbacks" / "wall.py").exists(),
                                reason="the wall (callbacks/wall.py) is not built yet")

_ids = itertools.count()


def ev(room: str, type_: str, ts: float, **fields) -> dict:
    return {"id": f"toast-{room}-{next(_ids)}", "room": room, "ts": ts, "type": type_, **fields}


def open_wall(page, system, room: str, screen: str):
    page.goto(f"{system.url}/wall?room={room}&lang=en&screen={screen}")
    page.wait_for_function(
        f"document.querySelector('[data-room=\"{room}\"] [data-metric=\"online\"]')?.textContent.trim() === '20'",
        timeout=15000)


def test_a_bounce_storm_toasts_on_every_wall_and_one_acknowledgement_settles_them_all(system, browser, page):
    room = "toast-storm"
    now = time.time()
    # a calm room first: 20 viewers who stay
    system.post([ev(room, "session_start", now - 30, title="秋冬上新", platform="douyin")]
                + [ev(room, "enter", now - 25 + i * 0.1, user=f"v{i}", source="recommend") for i in range(20)])
    other = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    open_wall(page, system, room, "wall-1")
    open_wall(other, system, room, "wall-2")
    assert page.locator('[role="alert"][data-alert="bounce_storm"]').count() == 0

    now = time.time()
    storm = []
    for i in range(40):   # forty arrivals in four seconds, every one gone within half a second
        t = now - 4 + i * 0.1
        storm += [ev(room, "enter", t, user=f"s{i}", source="paid"), ev(room, "leave", t + 0.5, user=f"s{i}")]
    system.post(storm)
    posted = time.monotonic()
    selector = '[role="alert"][data-alert="bounce_storm"]'
    page.wait_for_selector(selector, timeout=5000)
    other.wait_for_selector(selector, timeout=5000)
    took = time.monotonic() - posted
    assert took < 2.0, f"the toast took {took:.2f}s after the events"

    alert_id = page.get_attribute(selector, "data-alert-id")
    assert other.get_attribute(selector, "data-alert-id") == alert_id
    page.locator(f'{selector}[data-alert-id="{alert_id}"] [data-ack]').click()
    # settled on the other wall: no longer an alert, then gone
    other.wait_for_selector(f'[role="alert"][data-alert-id="{alert_id}"]', state="detached", timeout=5000)
    [listed] = [a for a in system.get(f"/api/alerts?room={room}")["alerts"] if a["id"] == alert_id]
    assert (listed["state"], listed["acknowledged_by"]) == ("acknowledged", "wall-1")
    other.context.close()
