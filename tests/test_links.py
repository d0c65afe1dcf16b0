"""Share links and device links against the real app, in a real headless Chromium where a screen is involved: a
link opens a wall without a password and shows live numbers; revoked, its open wall stops and reloads to a page
that says so, and its socket is refused; expired and tampered links get clear pages; a link reads only its
rooms, opens only its screen and changes nothing; who may make, see and revoke links; the link manager on
/manager; and a link opened while Redis is stopped.
"""
from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from store import embedded
from settings import RETRY_AFTER_S
from tests.conftest import System, free_port, wait_until
from tests.test_manager import ev, live_room, open_manager

HOUR = 3600


@pytest.fixture(scope="module")
def mia(system):
    return system.add_user("mia", "manager")


@pytest.fixture(scope="module")
def rooms(system):
    for room in ("lnk-a", "lnk-b", "lnk-c"):
        system.post(live_room(room))
        system.metrics_when(room, lambda m: m["paid_orders"] == 3)
    return ("lnk-a", "lnk-b", "lnk-c")


def make_link(client: httpx.Client, **body) -> dict:
    resp = client.post("/api/links", json={"expires_in_s": HOUR, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def opened(system, link: dict) -> httpx.Client:
    """A client that opened the link: it holds the lw_link cookie and nothing else."""
    c = httpx.Client(base_url=system.url, timeout=30)
    resp = c.get(link["url"])
    assert resp.status_code == 303, resp.text
    assert "lw_link" in c.cookies
    return c


def refusal(system, url: str) -> str:
    """Where a refused link sends the browser: the sign-in page, with why."""
    resp = httpx.get(system.url + url, timeout=30)
    assert resp.status_code == 303, resp.text
    return resp.headers["location"]


def ws_url(system, rooms: str | None = None) -> str:
    return f"ws://127.0.0.1:{system.port}/ws" + (f"?rooms={rooms}" if rooms else "")


def test_a_share_link_opens_a_wall_without_a_password_and_stops_when_revoked(system, browser, mia, rooms):
    link = make_link(mia, label="lobby tv", screen="/wall?room=lnk-a&lang=en")
    assert link["url"].startswith("/s/") and link["rooms"] == ["lnk-a"] and link["kind"] == "share"
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = ctx.new_page()
    closes = []
    page.on("websocket", lambda ws: ws.on("close", lambda _ws: closes.append(time.monotonic())))
    try:
        page.goto(system.url + link["url"])
        assert page.url == f"{system.url}/wall?room=lnk-a&lang=en"
        gmv = '[data-room="lnk-a"] [data-metric="gmv"]'
        page.wait_for_function("s => /597/.test(document.querySelector(s)?.textContent || '')", arg=gmv,
                               timeout=15000)
        system.post([ev("lnk-a", "pay", user="late", sku="k1", order_id="late-1", amount=1000.0)])
        page.wait_for_function("s => /1,597/.test(document.querySelector(s)?.textContent || '')", arg=gmv,
                               timeout=10000)
        assert not ctx.cookies() or {c["name"] for c in ctx.cookies()} == {"lw_link"}   # no password, no session

        assert mia.delete(f"/api/links/{link['id']}").status_code == 200
        # the open wall's socket is closed at once, and the page reloads to say why
        page.wait_for_url(lambda u: "/login?" in u and "why=link-revoked" in u, timeout=10000)
        assert closes
        assert "revoked" in page.text_content(".lw-auth-notice")
        cookie = next(c["value"] for c in ctx.cookies() if c["name"] == "lw_link")
    finally:
        ctx.close()
    with pytest.raises(InvalidStatus):
        connect(ws_url(system, "lnk-a"), additional_headers={"Cookie": f"lw_link={cookie}"}, open_timeout=10)
    assert refusal(system, link["url"]) == "/login?why=link-revoked"


def test_expired_and_tampered_links_get_clear_pages(system, browser, mia, rooms):
    short = make_link(mia, label="two seconds", screen="/assistant/lnk-b", expires_in_s=2)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        page.goto(system.url + short["url"] + "?lang=en")
        assert page.url.endswith("/assistant/lnk-b")
        # once it has expired, the screen's next load says so
        wait_until(lambda: refusal(system, short["url"]).endswith("why=link-expired"), timeout=10,
                   what="the link to expire")
        page.reload()
        assert "why=link-expired" in page.url
        assert "expired" in page.text_content(".lw-auth-notice")
        # tampered: the same link with one character of its signature changed
        token = short["url"][len("/s/"):]
        # (the signature's first character: the last one of a base64 text may carry only padding bits)
        dot = token.rindex(".") + 1
        forged = token[:dot] + ("A" if token[dot] != "A" else "B") + token[dot + 1:]
        page.goto(f"{system.url}/s/{forged}?lang=en")
        assert "why=link-invalid" in page.url
        assert "not valid" in page.text_content(".lw-auth-notice")
    finally:
        ctx.close()
    for bad in ("/s/garbage", "/s/" + "x" * 500, "/s/eyJpIjoiMTIzIiwiZSI6bnVsbH0.AAAA"):
        assert refusal(system, bad) == "/login?why=link-invalid"


def test_a_link_reads_only_its_rooms_opens_only_its_screen_and_changes_nothing(system, mia, rooms):
    link = make_link(mia, label="room b on a phone", screen="/wall?room=lnk-b")
    c = opened(system, link)
    try:
        assert c.get("/api/rooms/lnk-b/metrics").status_code == 200
        assert c.get("/api/rooms/lnk-c/metrics").status_code == 403
        assert [r["room"] for r in c.get("/api/rooms").json()["rooms"]] == ["lnk-b"]
        assert c.get("/wall?room=lnk-b").status_code == 200
        for page in ("/manager", "/assistant/lnk-b", "/"):
            assert c.get(page).status_code == 403, page
        sid = system.get("/api/rooms/lnk-b/suggestions")["suggestions"]
        for method, path, body in (("POST", f"/api/suggestions/{sid[0]['id'] if sid else 'x'}/approve", {}),
                                   ("POST", "/api/suggestions/x/reject", {}),
                                   ("POST", "/api/alerts/x/ack", {}),
                                   ("PUT", "/api/rooms/lnk-b/ads/config", {"auto_apply": True}),
                                   ("POST", "/api/links", {"label": "again", "screen": "/wall"}),
                                   ("GET", "/api/links", None),
                                   ("DELETE", f"/api/links/{link['id']}", None),
                                   ("POST", "/api/tokens", {"label": "t", "scopes": ["read"]})):
            resp = c.request(method, path, json=body)
            assert resp.status_code == 403, (method, path, resp.status_code, resp.text)
        assert c.get("/api/audit").status_code == 403
        cookie = c.cookies["lw_link"]
    finally:
        c.close()
    # its socket, asked for two rooms, gets only its own
    with connect(ws_url(system, "lnk-b,lnk-c"), additional_headers={"Cookie": f"lw_link={cookie}"},
                 open_timeout=10) as ws:
        system.post([ev("lnk-c", "pay", user="x1", sku="k1", order_id="x1", amount=5.0),
                     ev("lnk-b", "pay", user="x2", sku="k1", order_id="x2", amount=7.0)])
        seen = []
        def lnk_b_paid():
            msg = json.loads(ws.recv(timeout=10))
            seen.append(msg)
            return msg.get("kind") == "frame" and msg.get("room") == "lnk-b" and msg["metrics"]["paid_orders"] == 4
        wait_until(lnk_b_paid, timeout=15, what="lnk-b's frame with the new pay")
    assert all(m.get("room") in (None, "lnk-b") for m in seen), [m.get("room") for m in seen]
    assert all(a["room"] == "lnk-b" for m in seen if m.get("kind") == "alerts" for a in m["alerts"])


def test_who_may_make_see_and_revoke_links(system, mia, rooms):
    ada = system.add_user("ada", "manager")
    tom = system.add_user("tom", "assistant", rooms="lnk-a")
    hers = make_link(mia, label="mia's phone", screen="/manager?room=lnk-a&session=zzz")
    device = make_link(ada, label="control room pc 1", screen="/wall?mode=matrix", kind="device", expires_in_s=None)
    assert device["expires"] is None and device["kind"] == "device" and device["rooms"] is None
    assert hers["screen"] == "/manager?room=lnk-a&session=zzz" and hers["rooms"] == ["lnk-a"]
    assert {x["id"] for x in mia.get("/api/links").json()["links"]} >= {hers["id"]}
    assert device["id"] not in {x["id"] for x in mia.get("/api/links").json()["links"]}
    everyone = {x["id"]: x for x in system.get("/api/links")["links"]}
    assert {hers["id"], device["id"]} <= set(everyone) and everyone[device["id"]]["created_by"] == "ada"
    assert "url" not in everyone[device["id"]]     # a link is shown once, when made
    # a device link's cookie outlives a browser session; a share link's ends a week after the link, so that a
    # reload can still say it expired
    with httpx.Client(base_url=system.url) as c:
        cookie = c.get(device["url"]).headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        assert int(cookie.split("Max-Age=")[1].split(";")[0]) > 300 * 86400
        short = c.get(hers["url"]).headers["set-cookie"]
        assert 3000 < int(short.split("Max-Age=")[1].split(";")[0]) - 7 * 86400 <= HOUR
    # only its maker or an admin revokes; others are refused and the link lives on
    assert ada.delete(f"/api/links/{hers['id']}").status_code == 403
    assert tom.get("/api/links").status_code == 403
    assert tom.post("/api/links", json={"label": "x", "screen": "/assistant/lnk-a"}).status_code == 403
    assert httpx.get(f"{system.url}/api/links").status_code == 401
    assert mia.post("/api/links", json={"label": "csrf", "screen": "/wall"},
                    headers={"Origin": "http://evil.example"}).status_code == 403
    assert mia.post("/api/links", content=b'{"label": "form", "screen": "/wall"}',
                    headers={"Content-Type": "text/plain"}).status_code in (400, 415)
    assert not {"csrf", "form"} & {x["label"] for x in system.get("/api/links")["links"]}
    assert system.http.delete(f"/api/links/{device['id']}").status_code == 200   # admin
    assert ada.delete(f"/api/links/{device['id']}").status_code == 404
    # a manager kept to some rooms shares only those
    kim = system.add_user("kim", "manager", rooms="lnk-a")
    assert make_link(kim, label="kim's wall", screen="/wall")["rooms"] == ["lnk-a"]
    for body in ({"screen": "/wall?room=lnk-b"}, {"screen": "/wall", "rooms": ["lnk-a", "lnk-b"]}):
        assert kim.post("/api/links", json={"label": "kim's other", "expires_in_s": HOUR, **body}).status_code == 400
    # requests that cannot be honoured say why
    for body in ({"label": "x", "screen": "/etc/passwd"}, {"label": "x", "screen": "https://evil.example/wall"},
                 {"label": "x", "screen": "/assistant/lnk-a", "rooms": ["lnk-a", "lnk-b"]},
                 {"label": "x", "screen": "/wall?room=lnk-c", "rooms": ["lnk-a"]},
                 {"label": "x", "screen": "/wall", "expires_in_s": 31 * 86400},
                 {"label": "x", "screen": "/wall", "kind": "forever"}, {"label": "", "screen": "/wall"},
                 {"label": "mia's phone", "screen": "/wall"}):
        resp = mia.post("/api/links", json={"expires_in_s": HOUR, **body})
        assert resp.status_code == 400 and resp.json()["error"], body


def test_the_link_manager_makes_lists_and_revokes_links(system, browser, mia, rooms):
    ctx = browser.new_context()
    page = open_manager(ctx.new_page(), system, "room=lnk-a", session=mia.cookies["lw_session"])
    try:
        page.click(".lw-m-share-open")
        page.wait_for_selector(".lw-m-links:not([hidden])")
        page.fill(".lw-m-link-label input", "control room <b>pc</b> 2")
        page.select_option(".lw-m-link-kind", "device")
        page.select_option(".lw-m-link-screen", "/wall?room=lnk-a")
        page.click(".lw-m-link-create")
        page.wait_for_selector(".lw-m-link-made:not([hidden])")
        url = page.input_value(".lw-m-link-url input")
        assert url.startswith(f"{system.url}/s/")
        row = page.wait_for_selector('.lw-m-link-row[data-kind="device"]')
        assert "control room <b>pc</b> 2" in row.text_content()    # as text, never as HTML
        assert page.query_selector(".lw-m-link-row b") is None
        made = next(x for x in mia.get("/api/links").json()["links"] if x["label"] == "control room <b>pc</b> 2")
        assert made["kind"] == "device" and made["expires"] is None and made["rooms"] == ["lnk-a"]
        # the share kind offers expiries; pick one and make a second link
        page.select_option(".lw-m-link-kind", "share")
        page.fill(".lw-m-link-label input", "mia's phone · room a")
        page.select_option(".lw-m-link-expiry", str(8 * HOUR))
        page.click(".lw-m-link-create")
        page.wait_for_function("[...document.querySelectorAll('.lw-m-link-row-label')]"
                               ".some(e => e.textContent.startsWith(\"mia's phone · room a\"))")
        with httpx.Client(base_url=system.url) as c:
            assert c.get(url[len(system.url):]).status_code == 303
            assert c.get("/api/rooms/lnk-a/metrics").status_code == 200
            page.click(f'.lw-m-link-row[data-link="{made["id"]}"] .lw-m-link-revoke')
            page.wait_for_selector(f'.lw-m-link-row[data-link="{made["id"]}"]', state="detached")
            assert c.get("/api/rooms/lnk-a/metrics").status_code == 401
    finally:
        ctx.close()


def test_the_share_button_is_only_for_managers(system, browser, rooms):
    viewer = system.add_user("vic", "viewer")
    ctx = browser.new_context()
    page = open_manager(ctx.new_page(), system, session=viewer.cookies["lw_session"])
    try:
        page.wait_for_function("(document.querySelector('.lw-m-row[data-room=\"lnk-a\"] [data-metric=\"gmv\"]')"
                               "?.textContent || '—') !== '—'", timeout=15000)
        assert page.is_hidden(".lw-m-share-open")
    finally:
        ctx.close()


def test_a_link_opened_while_redis_is_away_gets_a_quick_503(tmp_path):
    """/s/<token> is open (the middleware lets it through when Redis cannot answer), so the route answers 503 with
    Retry-After within two seconds while Redis is stopped, and the link works again once it is back."""
    server = embedded.start(tmp_path / "redis", port=free_port())
    s = System(server.url, free_port(), tmp_path / "app.log").start()
    try:
        link = make_link(s.http, label="while away", screen="/wall")
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            resp = httpx.get(s.url + link["url"], timeout=30)
            took = time.monotonic() - t0
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        assert resp.status_code == 503 and resp.headers["Retry-After"] == str(RETRY_AFTER_S)
        assert "error" in resp.json()
        assert took < 2.5, f"answered after {took:.2f} s"
        wait_until(lambda: httpx.get(s.url + link["url"], timeout=30).status_code == 303, timeout=20,
                   what="the link to work again")
    finally:
        s.stop()
        server.stop()
