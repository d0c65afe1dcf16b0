"""The review of a session (复盘): totals, honest profit, products, stage segments (讲解) and the live review.

`build_review` makes a review in two parts: the head (a dict: everything but the product rows, small whatever
the session's size) and the products (a DataFrame, one row per sku, with `profit`). The archive
(store/archive.py) keeps them as review.json and products.parquet; `respond` joins a head and one page of
products for `GET /api/sessions/<session>/review` (CONTRACT section 3; the query is described in the README).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd

from insights.segments import live_review, stage_segments

SORTS = ("gmv", "units", "buyers", "viewers", "clickers", "ctr", "cvr", "profit", "price", "stock",
         "stage_seconds", "sku", "name")
DEFAULT_SORT = "-gmv"
INT_COLUMNS = frozenset(("stock", "viewers", "clickers", "cart_adders", "buyers", "units", "orders", "paid_orders"))
REVIEW_VERSION = 2   # in every head: an archive written by another version is read as it is, never rebuilt


def build_review(session: str, data: dict, alerts: list[dict], events: list[dict] | None) -> tuple[dict, pd.DataFrame]:
    """`data`: the session's frozen (or current) figures: room, platform, metrics, products, series, late.
    `events`: the session's events in application order ((ts, arrival)); None when not at hand (a running
    session too big to read at once): then `segments` and the per-minute sources are absent (`partial`)."""
    m = data["metrics"]
    products = product_frame(data["products"])
    alerts = [{"kind": "alert", "ts": a.get("started"), "rule": a.get("rule"), "severity": a.get("severity"),
               "id": a.get("id")} for a in alerts]
    head = {
        "version": REVIEW_VERSION,
        "session": session,
        "room": data["room"],
        "platform": data.get("platform"),
        "title": m.get("title"),
        "started": m.get("started"),
        "ended": m.get("ended"),
        "totals": {**m, "room": data["room"], "platform": data.get("platform")},   # frozen or live: one shape
        "profit": profit_block(m, products),
        "sources": [{"source": name, **fig} for name, fig in m["sources"].items()],
        "products_total": len(products),
        "late": late_block(data.get("late")),
        "partial": events is None,
    }
    if events is None:
        head.update(segments=[], session_room=None, moments={},
                    timeline=[{"kind": "minute", **row} for row in data["series"]] + alerts)
    else:
        segments, session_room = stage_segments(events, m)
        timeline, moments = live_review(events, data["series"], segments, m)
        head.update(segments=segments, session_room=session_room, moments=moments, timeline=timeline + alerts)
    return head, products


def product_frame(rows: list[dict]) -> pd.DataFrame:
    """The engine's product rows with `profit` = gmv − cost × units, null where the cost is unknown."""
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["sku", "name", "price", "cost", "units", "gmv", "profit"])
    df = df.sort_values("sku", kind="stable", ignore_index=True)   # ties of any sort go by sku
    for col in INT_COLUMNS.intersection(df.columns):   # counts stay whole (stock 100, not 100.0), null or not
        df[col] = df[col].astype("Int64")
    cost_c = (df["cost"].astype("float64") * 100).round()
    gmv_c = (df["gmv"].astype("float64") * 100).round()
    df["profit"] = ((gmv_c - cost_c * df["units"]) / 100).astype("float64")   # NaN where cost is NaN
    return df


def profit_block(m: dict, products: pd.DataFrame) -> dict:
    """Cost of goods only where cost is known, and the share of GMV it covers (CONTRACT section 3).

    `cost_of_goods` = Σ cost × units over products whose cost is known; `cost_coverage` = their GMV / GMV (null
    on no GMV). `gross_profit_known` = their GMV − cost of goods: the goods margin of the covered part (before
    refunds and ad spend, which are not known per product); null when no product's cost is known.
    `gross_profit` = GMV − refunds − cost of goods − ad spend, only when every sold product's cost is known
    (else null: never GMV shown as profit). `break_even_roi` (保本ROI) = covered GMV / (covered GMV − cost of
    goods) = 1 / gross margin rate of the covered part: the ROI (GMV / ad spend) at which the ad spend eats the
    whole goods margin; null without covered GMV or margin."""
    known = products[products["cost"].notna()] if len(products) else products
    cogs_c = int(((known["cost"].astype("float64") * 100).round() * known["units"].astype("float64")).sum()) \
        if len(known) else 0
    covered_c = int((known["gmv"].astype("float64") * 100).round().sum()) if len(known) else 0
    gmv_c, refund_c, spend_c = (round(m[k] * 100) for k in ("gmv", "refund_amount", "ad_spend"))
    margin_c = covered_c - cogs_c
    return {
        "gmv": m["gmv"],
        "refund_amount": m["refund_amount"],
        "net_gmv": m["net_gmv"],
        "cost_of_goods": cogs_c / 100,
        "cost_coverage": covered_c / gmv_c if gmv_c else None,
        "covered_gmv": covered_c / 100,
        "unknown_cost_gmv": (gmv_c - covered_c) / 100,
        "unknown_cost_products": int(len(products) - len(known)),
        "ad_spend": m["ad_spend"],
        "gross_profit": (gmv_c - refund_c - cogs_c - spend_c) / 100 if covered_c == gmv_c else None,
        "gross_profit_known": margin_c / 100 if len(known) else None,
        "break_even_roi": covered_c / margin_c if covered_c and margin_c > 0 else None,
        "roi": m["roi"],
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


class BadQuery(ValueError):
    pass


def page_query(params) -> dict:
    """limit (default 100, up to 1000), offset, q (substring of sku or name, any case), sort (a SORTS name,
    `-` first for descending; default -gmv) or sort + order=asc|desc. BadQuery with the reason otherwise."""
    def integer(name, default, hi):
        raw = params.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) > hi:
            raise BadQuery(f"`{name}` must be an integer from 0 to {hi}")
        return int(raw)
    sort = params.get("sort") or DEFAULT_SORT
    desc = sort.startswith("-")
    key = sort.lstrip("-+")
    order = params.get("order")
    if order is not None:
        if order not in ("asc", "desc"):
            raise BadQuery("`order` must be asc or desc")
        desc = order == "desc"
    if key not in SORTS:
        raise BadQuery(f"`sort` must be one of {', '.join(SORTS)} (prefix - for descending)")
    q = params.get("q") or ""
    if len(q) > 200:
        raise BadQuery("`q` is at most 200 characters")
    return {"limit": integer("limit", 100, 1000), "offset": integer("offset", 0, 10 ** 9), "q": q,
            "sort": key, "desc": desc}


_orders: OrderedDict = OrderedDict()   # (id of the frame, key, desc) -> (frame, row order): a page flip is free
_haystacks: OrderedDict = OrderedDict()  # id of the frame -> (frame, "sku\nname" in lower case)
CACHED = 16


def _remember(cache: OrderedDict, key, frame: pd.DataFrame, make):
    hit = cache.get(key)
    if hit is not None and hit[0] is frame:
        cache.move_to_end(key)
        return hit[1]
    value = make()
    cache[key] = (frame, value)
    while len(cache) > CACHED:
        cache.popitem(last=False)
    return value


def _order(df: pd.DataFrame, key: str, desc: bool) -> np.ndarray:
    """Row positions in the asked order; ties keep the frame's order (by sku), nulls go last either way."""
    col = df[key]
    if key in ("sku", "name"):
        codes = pd.factorize(col.fillna("").astype(str).str.casefold(), sort=True)[0].astype("float64")
        values, null = codes, col.isna().to_numpy()
    else:
        values = col.to_numpy(dtype="float64", na_value=np.nan)
        null = np.isnan(values)
    values = np.where(null, np.inf, -values if desc else values)
    return np.argsort(values, kind="stable")


def page_products(products: pd.DataFrame, query: dict) -> tuple[int, list[dict]]:
    """(rows matching q, the page of them in the asked order). Ties go by sku; nulls (unknown cost, a rate
    with no denominator) come last either way. Orders and the search text are kept per frame."""
    df = products
    if not len(df):
        return 0, []
    key = query["sort"] if query["sort"] in df else "sku"
    order = _remember(_orders, (id(df), key, query["desc"]), df, lambda: _order(df, key, query["desc"]))
    if query["q"]:
        hay = _remember(_haystacks, id(df), df, lambda: (df["sku"].astype(str) + "\n" + df["name"].fillna("").astype(str)
                                                         if "name" in df else df["sku"].astype(str)).str.casefold())
        hit = hay.str.contains(query["q"].casefold(), regex=False).to_numpy(dtype=bool)
        order = order[hit[order]]
    return len(order), records(df.iloc[order[query["offset"]:query["offset"] + query["limit"]]])


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts, NaN and NA as null."""
    cols = {c: df[c].astype(object).where(df[c].notna(), None).tolist() for c in df.columns}
    return [dict(zip(cols, vals)) for vals in zip(*cols.values())] if cols else []


def respond(head: dict, products: pd.DataFrame, query: dict) -> dict:
    total, rows = page_products(products, query)
    sort = ("-" if query["desc"] else "") + query["sort"]
    return {**head, "products": rows,
            "page": {"total": total, "offset": query["offset"], "limit": query["limit"], "q": query["q"],
                     "sort": sort},
            "total": total}
