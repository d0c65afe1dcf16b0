"""The audience extension through the whole app: events with the new fields posted to /api/events (duplicates
and rejected values among them) give the reference's figures in GET /metrics and /series; the wall shows the
interaction rates inside the room's `data-room` element and the manager's drill-down the audience and channel
boxes, in real headless Chromium. Waits on conditions, never on fixed sleeps.
"""
from __future__ import annotations

import itertools
import time

from tests.reference import reference
from tests.test_metrics_engine import diff

ROOM = "aud-app"
_ids = itertools.count()


def ev(type_: str, t: float, room: str = ROOM, **fields) -> dict:
    return {"id": f"aud-{next(_ids)}", "room": room, "ts": T0 + t, "type": type_, **fields}


T0 = float(int(time.time()) - 600)


def session(room: str = ROOM) -> list[dict]:
    out = [ev("session_start", 0, title="粉丝专场")]
    users = [("a", True, "returning", "f", "31-40", "new1", "follow", "follow"),
             ("b", False, "first", "m", "18-23", "3", "recommend", "feed"),
             ("c", False, "first", "f", "24-30", "1", "paid", "qianchuan_pc"),
             ("d", True, "returning", "unknown", "50+", "unknown", "short_video", "short_video")]
    for i, (u, fan, visit, gender, age, city, source, channel) in enumerate(users):
        out.append(ev("enter", 10 + i, user=u, fan=fan, visit=visit, gender=gender, age=age, city_tier=city,
                      source=source, channel=channel))
    out += [ev("pay", 70, user="a", sku="s1", order_id="o1", amount=99.9),
            ev("pay", 75, user="c", sku="s1", order_id="o2", amount=49.5),
            ev("comment", 80, user="b", text="好"), ev("follow", 81, user="b"), ev("fan_club_join", 82, user="a"),
            ev("negative_feedback", 83, user="d", reason="不感兴趣"), ev("like", 84, user="c", count=3),
            ev("leave", 90, user="b"), ev("enter", 130, user="b", source="search", channel="search", fan=True)]
    return [{**e, "room": room} for e in out]


def test_posted_events_give_the_reference_figures(system):
    events = session()
    got = system.post(events[:6])
    assert got["accepted"] == 6
    got = system.post(events[4:] + events[:2])          # some sent twice: duplicates change nothing
    assert got["duplicates"] == 4 and not got["rejected"]
    bad = [ev("enter", 140, user="x", gender="female"), ev("enter", 141, user="y", channel="feed"),
           ev("fan_club_join", 142)]
    got = system.post(bad)
    assert got["accepted"] == 0 and [r["index"] for r in got["rejected"]] == [0, 1, 2]
    assert "gender" in got["rejected"][0]["error"] and "channel" in got["rejected"][1]["error"]
    m = system.metrics_when(ROOM, lambda m: m["fan_club_joins"] == 1 and m["visits"] == 5)
    ref = reference(events)
    problems = diff(ref["metrics"], m)
    assert not problems, problems
    series = system.get(f"/api/rooms/{ROOM}/series")["series"]
    assert not diff(ref["series"], series)
    assert m["new_fans"] == 1 and m["audience"]["fan"]["true"]["viewers"] == 3   # b's latest enter says fan
    assert m["channels"]["qianchuan_pc"]["gmv"] == 49.5


def test_wall_and_manager_show_them(system, page):
    ROOM = "aud-screens"
    system.post(session(ROOM))
    system.metrics_when(ROOM, lambda m: m["fan_club_joins"] == 1)
    system.sign_in(page).goto(f"{system.url}/wall?room={ROOM}&lang=zh")
    rate = f'[data-room="{ROOM}"] [data-metric="interaction_rate"]'
    page.wait_for_function(f"document.querySelector('{rate}')?.textContent === '75.0%'", timeout=15000)
    for name, want in (("follow_rate", "25.0%"), ("fan_club_rate", "25.0%"), ("negative_feedback_rate", "25.0%")):
        assert page.locator(f'[data-room="{ROOM}"] [data-metric="{name}"]').text_content() == want
    # the strip sits in the header band: nothing of it under a toast's lane or over another number
    strip = page.locator(".lw-engage").bounding_box()
    header = page.locator(".lw-header").bounding_box()
    assert strip["y"] >= header["y"] and strip["y"] + strip["height"] <= header["y"] + header["height"]
    toasts = page.locator(".lw-toasts").bounding_box()
    assert toasts is None or toasts["y"] >= strip["y"] + strip["height"]

    page.goto(f"{system.url}/manager?room={ROOM}&lang=en")
    cell = f'[data-room="{ROOM}"] [data-metric="audience.fan.true.viewers"]'
    page.wait_for_function(f"document.querySelector('{cell}')?.textContent === '3'", timeout=15000)
    assert page.locator(f'[data-room="{ROOM}"] [data-metric="returning_fan_share"]').text_content() == "50.0%"
    assert page.locator(f'[data-room="{ROOM}"] [data-metric="channels.qianchuan_pc.gmv"]').text_content() == "¥49.50"
    page.wait_for_function("document.querySelectorAll('.lw-ch-chart rect').length >= 4", timeout=15000)
    page.click('.lw-ch-mode[data-mode="gmv"]')
    page.wait_for_function("document.querySelectorAll('.lw-ch-chart rect').length == 2", timeout=5000)
