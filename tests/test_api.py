"""The read API beyond metrics: sessions, the review's profit, product paging, unknown rooms."""
from __future__ import annotations

import time

NOW = time.time() - 600


def session(room: str, start: float, pay_amounts: list[float], end: bool) -> list[dict]:
    evs = [{"id": f"{room}-{start}-s", "room": room, "ts": start, "type": "session_start", "title": "t"},
           {"id": f"{room}-{start}-on", "room": room, "ts": start + 1, "type": "product_on", "sku": "cup",
            "name": "杯", "price": 50.0, "cost": 20.0},
           {"id": f"{room}-{start}-ad", "room": room, "ts": start + 2, "type": "ad_spend", "campaign": "c",
            "amount": 30.0}]
    for i, amount in enumerate(pay_amounts):
        evs.append({"id": f"{room}-{start}-p{i}", "room": room, "ts": start + 3 + i, "type": "pay", "user": f"u{i}",
                    "sku": "cup", "order_id": f"o{start}-{i}", "amount": amount, "qty": 2})
    evs.append({"id": f"{room}-{start}-r", "room": room, "ts": start + 10, "type": "refund",
                "order_id": f"o{start}-0", "amount": 15.0})
    if end:
        evs.append({"id": f"{room}-{start}-e", "room": room, "ts": start + 20, "type": "session_end"})
    return evs


def test_sessions_and_review(system):
    system.post(session("rev", NOW, [100.0, 100.0], end=True))
    system.post(session("rev", NOW + 100, [100.0], end=False))
    system.metrics_when("rev", lambda m: m["started"] == NOW + 100 and m["gmv"] == 100.0)
    sessions = system.get("/api/rooms/rev/sessions")["sessions"]
    assert [s["started"] for s in sessions] == [NOW + 100, NOW]        # newest first
    assert sessions[0]["ended"] is None and sessions[1]["ended"] == NOW + 20
    first = sessions[1]["session"]
    review = system.get(f"/api/sessions/{first}/review")
    assert review["session"] == first and review["room"] == "rev"
    assert review["totals"]["gmv"] == 200.0 and review["totals"]["units"] == 4
    # gross profit = GMV 200 − refunds 15 − cost of goods (4 units × ¥20) − ad spend 30
    assert review["profit"] == {"gmv": 200.0, "refund_amount": 15.0, "net_gmv": 185.0, "cost_of_goods": 80.0,
                                "cost_coverage": 1.0, "covered_gmv": 200.0, "unknown_cost_gmv": 0.0,
                                "unknown_cost_products": 0, "ad_spend": 30.0, "gross_profit": 75.0,
                                "gross_profit_known": 120.0, "break_even_roi": 200.0 / 120.0, "roi": 200.0 / 30.0}
    assert {s["source"] for s in review["sources"]} >= {"paid", "other"}
    assert [(s["sku"], s["start"], s["end"]) for s in review["segments"]] == [("cup", NOW + 1, NOW + 20)]
    assert review["timeline"] and review["products"][0]["sku"] == "cup" and review["total"] == 1


def test_products_paging_and_unknown_rooms(system):
    evs = [{"id": f"pg-{i}", "room": "pg", "ts": NOW + i, "type": "product_click", "user": "u", "sku": f"s{i % 5}"}
           for i in range(12)]
    system.post(evs)
    system.metrics_when("pg", lambda m: m["product_clickers"] == 1)
    page = system.get("/api/rooms/pg/products", params={"limit": 2, "offset": 1})
    assert page["total"] == 5 and [p["sku"] for p in page["products"]] == ["s1", "s2"]   # ties: by sku
    for path in ("/api/rooms/nope/metrics", "/api/rooms/nope/products", "/api/rooms/nope/series",
                 "/api/sessions/nope@1/review"):
        r = system.http.get(path)
        assert r.status_code == 404 and "error" in r.json()
