"""The review of a session (复盘): totals, profit, products, traffic segments and a timeline."""
from __future__ import annotations

import pandas as pd


def build_review(session: str, data: dict, alerts: list[dict]) -> dict:
    m = data["metrics"]
    products = pd.DataFrame(data["products"])
    if products.empty:
        cogs_cents = 0
    else:
        # cost of goods is known only where a product_on carried `cost`; unknown costs count as zero
        cost = products["cost"].fillna(0.0)
        cogs_cents = int(((cost * 100).round() * products["units"]).sum())
    gmv_c, refund_c, spend_c = (round(m[k] * 100) for k in ("gmv", "refund_amount", "ad_spend"))
    profit = {
        "gmv": m["gmv"],
        "refund_amount": m["refund_amount"],
        "net_gmv": m["net_gmv"],
        "cost_of_goods": cogs_cents / 100,
        "ad_spend": m["ad_spend"],
        "gross_profit": (gmv_c - refund_c - cogs_cents - spend_c) / 100,
        "roi": m["roi"],
    }
    segments = [{"source": name, **fig} for name, fig in m["sources"].items()]
    timeline = [{"kind": "minute", **row} for row in data["series"]]
    timeline += [{"kind": "alert", "ts": a.get("started"), "rule": a.get("rule"), "severity": a.get("severity")}
                 for a in alerts]
    return {
        "session": session,
        "room": data["room"],
        "platform": data.get("platform"),
        "totals": m,
        "profit": profit,
        "products": data["products"],
        "segments": segments,
        "timeline": timeline,
        "late": late_block(data.get("late")),
    }


def late_block(rec: dict | None) -> dict:
    """Events that came after the session was frozen (a newer session had started): kept and reported here,
    never in the totals (engine/room.py). Amounts in the record are cents."""
    rec = rec or {"count": 0, "by_type": {}, "events": []}
    by_type = {t: {**v, "amount": v["amount"] / 100} if "amount" in v else dict(v) for t, v in rec["by_type"].items()}
    return {"count": rec["count"], "by_type": by_type, "in_totals": False,
            "gmv": by_type.get("pay", {}).get("amount", 0.0),
            "refund_amount": by_type.get("refund", {}).get("amount", 0.0),
            "events": rec["events"]}
