"""The manager's page as a tool, in a real Chromium: the room table sorts by any column (click, click again to
reverse, by keyboard too, the order kept while frames arrive) and groups by platform with subtotals; a room's
products are searched (sku or name) and paged over the API, past the rows a frame carries.
"""
from __future__ import annotations

import time

from tests.conftest import wait_until
from tests.test_manager import LAPTOP, ev, fmt, live_room, open_manager, row

ROOMS = (("tools-a", "douyin", 5), ("tools-b", "kuaishou", 1), ("tools-c", "douyin", 3))
MANY = 70   # products of tools-a: more than a frame carries (30)


def order(page) -> list[str]:
    return page.eval_on_selector_all(".lw-m-rows > .lw-m-row[data-room^='tools-']",
                                     "es => es.map(e => e.dataset.room)")


def wait_order(page, want: list[str], timeout: float = 5000) -> None:
    try:
        page.wait_for_function("w => JSON.stringify([...document.querySelectorAll(\".lw-m-rows > .lw-m-row[data-room^='tools-']\")]"
                               ".map(e => e.dataset.room)) === JSON.stringify(w)", arg=want, timeout=timeout)
    except Exception as e:
        raise AssertionError(f"rows in {order(page)}, wanted {want}") from e


def seed(system) -> None:
    for room, platform, buyers in ROOMS:
        system.post(live_room(room, platform=platform, buyers=buyers))
    t = time.time()
    system.post([ev("tools-a", "product_on", ts=t, sku=f"p{i:03d}", name=f"商品{i:03d}" + ("蓝" if i % 10 == 0 else ""),
                    price=10.0 + i, stock=100) for i in range(MANY)]
                + [ev("tools-a", "product_off", ts=t, sku=f"p{i:03d}") for i in range(MANY)])
    for room, _platform, buyers in ROOMS:
        system.metrics_when(room, lambda m, b=buyers: m["paid_orders"] == b)
    wait_until(lambda: system.get("/api/rooms/tools-a/products?limit=1")["total"] == MANY + 1, what="products")


def test_the_room_table_sorts_and_groups(system, page):
    seed(system)
    open_manager(page, system)
    for room, _p, _b in ROOMS:
        page.locator(row(room)).wait_for()
    wait_order(page, ["tools-a", "tools-b", "tools-c"])   # by name until asked

    gmv = page.locator('.lw-m-overview .lw-m-sort[data-sort="gmv"]')
    gmv.click()
    wait_order(page, ["tools-a", "tools-c", "tools-b"])   # most GMV first
    assert page.get_attribute('[role="columnheader"][data-col="gmv"]', "aria-sort") == "descending"
    gmv.click()
    wait_order(page, ["tools-b", "tools-c", "tools-a"])
    assert page.get_attribute('[role="columnheader"][data-col="gmv"]', "aria-sort") == "ascending"

    # frames keep coming: the order follows the figures, the sort stays
    system.post([ev("tools-b", "pay", user=f"big{i}", sku="k1", order_id=f"big{i}", amount=199.0) for i in range(9)])
    wait_order(page, ["tools-c", "tools-a", "tools-b"], timeout=8000)
    assert page.get_attribute('[role="columnheader"][data-col="gmv"]', "aria-sort") == "ascending"

    # by keyboard: a header is a button
    page.focus('.lw-m-overview .lw-m-sort[data-sort="room"]')
    page.keyboard.press("Enter")
    wait_order(page, ["tools-a", "tools-b", "tools-c"])
    page.keyboard.press("Enter")
    wait_order(page, ["tools-c", "tools-b", "tools-a"])

    # grouped by platform: a header row per platform with its rooms and their subtotals under it
    page.click(".lw-m-group-toggle")
    assert page.get_attribute(".lw-m-group-toggle", "aria-pressed") == "true"
    page.wait_for_selector('.lw-m-rows > .lw-m-group[data-group="kuaishou"]')
    seq = page.eval_on_selector_all(".lw-m-rows > .lw-m-group, .lw-m-rows > .lw-m-row[data-room^='tools-']",
                                    "es => es.map(e => e.dataset.group ? 'g:' + e.dataset.group : e.dataset.room)")
    douyin = seq[seq.index("g:douyin") + 1:]
    assert douyin[:2] == ["tools-c", "tools-a"], f"the douyin rooms under their header, still sorted: {seq}"
    assert seq[seq.index("g:kuaishou") + 1] == "tools-b"
    gmv_sum = sum(system.get(f"/api/rooms/{r}/metrics")["gmv"] for r in ("tools-a", "tools-c"))
    others = [r["gmv"] for r in system.get("/api/rooms")["rooms"] if r["platform"] == "douyin"
              and not r["room"].startswith("tools-")]
    subtotal = page.text_content('.lw-m-group[data-group="douyin"] [data-field="group_gmv"]')
    assert subtotal == fmt("money", gmv_sum + sum(others)), subtotal
    page.click(".lw-m-group-toggle")
    page.wait_for_selector(".lw-m-rows > .lw-m-group", state="detached")


def test_a_rooms_products_search_and_pages(system, page):
    if not system.http.get("/api/rooms/tools-a/metrics").status_code == 200:
        seed(system)
    open_manager(page, system, "room=tools-a", viewport=LAPTOP)
    names = ".lw-m-detail .lw-m-product:not([hidden]) [data-field='products.name']"
    page.wait_for_function("s => document.querySelectorAll(s).length === 25", arg=names)
    page_text = ".lw-m-detail [data-field='product_page']"
    page.wait_for_function("s => document.querySelector(s).textContent.includes('Page 1 of 3')", arg=page_text)
    api = system.get("/api/rooms/tools-a/products?limit=25&offset=25")["products"]
    page.click(".lw-m-btn.lw-m-page-next")
    page.wait_for_function("s => document.querySelector(s).textContent.includes('Page 2 of 3')", arg=page_text)
    page.wait_for_function("([s, first]) => document.querySelector(s)?.textContent === first",
                           arg=[names, api[0]["name"]])
    assert page.eval_on_selector_all(names, "es => es.map(e => e.textContent)") == [p["name"] for p in api]
    assert page.text_content(".lw-m-detail .lw-m-product:not([hidden]) .lw-m-rank") == "26"

    page.fill(".lw-m-product-q", "蓝")
    want = system.get("/api/rooms/tools-a/products?q=%E8%93%9D")
    assert want["total"] == 7
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length === n", arg=[names, want["total"]])
    assert sorted(page.eval_on_selector_all(names, "es => es.map(e => e.textContent)")) == \
        sorted(p["name"] for p in want["products"])
    page.fill(".lw-m-product-q", "P06")   # a sku, in another case
    page.wait_for_function("s => document.querySelectorAll(s).length === 10", arg=names)
    page.fill(".lw-m-product-q", "nothing-like-this")
    page.wait_for_selector(".lw-m-product-none:not([hidden])")
    page.fill(".lw-m-product-q", "")
    page.wait_for_function("s => document.querySelectorAll(s).length === 25", arg=names)
    page.select_option(".lw-m-page-size", "100")
    page.wait_for_function("s => document.querySelectorAll(s).length === 71", arg=names)


SMALL_TEXT = """min => {
    const small = [];
    for (const el of document.querySelectorAll('.lw-manager *')) {
        if (el.closest('svg') || !el.offsetParent) continue;
        const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
        const size = parseFloat(getComputedStyle(el).fontSize);
        if (own && size < min && !el.closest('.lw-platform')) small.push(el.className + ' ' + size);
    }
    return small;
}"""


def test_laptop_type_and_no_dead_space(system, page):
    """Text of 14 px and more (a platform's badge aside), chart axes of 12 px and more; with nothing to approve the
    alerts take the whole width instead of leaving half the page empty."""
    if not system.http.get("/api/rooms/tools-a/metrics").status_code == 200:
        seed(system)
    open_manager(page, system)
    page.locator(row("tools-a")).wait_for()
    assert page.evaluate(SMALL_TEXT, 14) == []
    assert page.text_content('[data-total="proposed"]') == "0"
    aside, alerts = page.locator(".lw-m-aside").bounding_box(), page.locator(".lw-m-alerts").bounding_box()
    assert alerts["width"] > 0.95 * aside["width"], "the alerts take the width the empty suggestions leave"
    open_manager(page, system, "room=tools-a")
    page.locator(".lw-m-detail .lw-m-product:not([hidden])").first.wait_for()
    assert page.evaluate(SMALL_TEXT, 14) == []
