"""Re-run recommendations (返场推荐): which product to bring back on stage next, best first.

The pure part: `tally(events, rows, t)` folds the room's comments and stage moves into a tally
(who asks for what back, when each product left the stage), and `rank(rows, t, as_of)` scores every
product that could come back by the gross margin a re-run is expected to make:

    expected buyers = (clicks a re-run of RERUN_MIN minutes would draw, from the product's clicks per minute
                       on stage, shrunk toward the room's) x its conversion (shrunk toward the room's)
                    + pent-up demand (comments asking for it back, unpaid orders, cart adders and clickers who
                       did not buy, each weighted by how likely they are to buy on a re-run)
    score = min(expected buyers x the room's units per buyer, stock) x (price - cost)
            x (1 - exp(-seconds off / TAU_S))

The last factor ranks what just left the stage lower. Never recommended: the product on stage, a product with
no stock left, and one that has never been on stage (there is nothing to bring back). `run(r)` is the thin
Redis adapter: it reads new events with its own consumer group, keeps the tally, writes the shortlist.
"""
from __future__ import annotations

import math
import re

import orjson
import redis

from insights.ads import notify
from insights.stats import beta_mean
from store import keys, wire


GROUP, CONSUMER = "rerun", "rerun-1"
READ_COUNT = 5000
READ_ROUNDS = 20              # per room per run, so a long backlog cannot stall the other rooms
SHORTLIST = 10

RERUN_MIN = 5.0               # a typical re-run's length on stage
TAU_S = 60.0                  # a product that just left the stage comes back to full weight over minutes
PRIOR_MIN = 2.0               # stage minutes' worth of the room's click rate mixed into each product's
PRIOR_CLICKERS = 20.0         # clickers' worth of the room's conversion mixed into each product's
DEFAULT_MARGIN = 0.3          # share of the price taken as margin when the cost is unknown
# buyer-equivalents per signal of pent-up demand: a boost, not the ranking itself (asks come by the hundred)
WEIGHTS = {"asks": 0.05, "mentions": 0.02, "vague_asks": 0.02, "unpaid": 0.3, "cart": 0.1, "unmet": 0.02}

ASK_WORDS = ("返场", "再上", "还有吗", "还有没有", "还能买", "什么时候", "再讲", "求", "补货", "回来", "想要", "再来",
             "没抢到", "bring back", "again", "restock")
PREVIOUS_WORDS = ("刚才那个", "上一个", "上个", "刚刚那个")
MAX_PIECE = 8                 # longest name piece matched: what viewers type is short
_SPLIT = re.compile(r"[\s\W_]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def new_tally() -> dict:
    return {"started": None, "asks": {}, "mentions": {}, "vague_asks": {}, "left_at": {}, "on": None,
            "last_off": None}


# -- the pure part ------------------------------------------------------------------------------------

def keywords(rows: list[dict]) -> dict[str, str]:
    """keyword -> sku. Every piece (2 to MAX_PIECE characters) of the name of a product that has been on
    stage (only those can come back) that no other such name shares, so that "保温杯" finds 爆款保温杯 and
    "面膜" finds 补水面膜10片装, while "保温" (in two names) finds none."""
    seen: dict[str, set] = {}
    for row in rows:
        name = row.get("name")
        if not name or not row["stage_seconds"]:
            continue
        for part in _SPLIT.split(name.lower()):
            for i in range(len(part)):
                for j in range(i + 2, min(len(part), i + MAX_PIECE) + 1):
                    piece = part[i:j]
                    if _CJK.search(piece) or len(piece) >= 3 and not piece.isdigit():
                        seen.setdefault(piece, set()).add(row["sku"])
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def tally(events: list[dict], rows: list[dict], t: dict) -> dict:
    """Fold events (in stream order) into the tally t, in place; returns t."""
    kw = longest = None
    for ev in events:
        typ = ev.get("type")
        if typ == "session_start":
            t.clear()
            t.update(new_tally(), started=ev["ts"])
        elif t["started"] is not None and ev.get("ts", 0) < t["started"]:
            continue  # a late event of the previous session
        elif typ == "product_on":
            t["on"] = ev["sku"]
        elif typ == "product_off":
            t["left_at"][ev["sku"]] = max(ev["ts"], t["left_at"].get(ev["sku"], 0))
            t["last_off"] = ev["sku"]
            if t["on"] == ev["sku"]:
                t["on"] = None
        elif typ == "comment":
            if kw is None:
                kw = keywords(rows)
                longest = max(map(len, kw), default=0)
            _comment(ev.get("text", "").lower(), kw, longest, t)
    return t


def _comment(text: str, kw: dict, longest: int, t: dict) -> None:
    asking = any(w in text for w in ASK_WORDS)
    # look the comment's pieces up, not every keyword in the comment: rooms may have thousands of products
    named = {kw[text[i:j]] for i in range(len(text)) for j in range(i + 2, min(len(text), i + longest) + 1)
             if text[i:j] in kw} - {t["on"]}
    for sku in named:
        bucket = t["asks"] if asking else t["mentions"]
        bucket[sku] = bucket.get(sku, 0) + 1
    if not named and asking and t["last_off"] and any(w in text for w in PREVIOUS_WORDS):
        sku = t["last_off"]   # "the previous one": the product that left the stage last
        t["vague_asks"][sku] = t["vague_asks"].get(sku, 0) + 1


def rank(rows: list[dict], t: dict, as_of: float, limit: int = SHORTLIST, tau_s: float = TAU_S) -> list[dict]:
    staged = [r for r in rows if r["stage_seconds"] > 0]
    stage_min = sum(r["stage_seconds"] for r in staged) / 60
    room_rate = sum(r["clickers"] for r in staged) / stage_min if stage_min else 0.0
    clickers = sum(r["clickers"] for r in rows)
    buyers = sum(r["buyers"] for r in rows)
    room_cvr = buyers / clickers if clickers else 0.05
    # the room's, not each product's: how many a buyer takes is mostly chance, product by product
    per_buyer = sum(r["units"] for r in rows) / buyers if buyers else 1.0
    out = []
    for r in staged:
        if r["on_stage"] or (r["stock"] is not None and r["stock"] <= 0):
            continue
        out.append(_score(r, t, as_of, room_rate, room_cvr, per_buyer, tau_s))
    out = [x for x in out if x["score"] > 0]
    out.sort(key=lambda x: (-x["score"], x["sku"]))
    return out[:limit]


def _score(r: dict, t: dict, as_of: float, room_rate: float, room_cvr: float, per_buyer: float,
           tau_s: float) -> dict:
    sku = r["sku"]
    minutes = r["stage_seconds"] / 60
    rate = (r["clickers"] + room_rate * PRIOR_MIN) / (minutes + PRIOR_MIN)
    conv = beta_mean(r["buyers"], r["clickers"], room_cvr, PRIOR_CLICKERS)
    signals = {
        "asks": t["asks"].get(sku, 0),
        "mentions": t["mentions"].get(sku, 0),
        "vague_asks": t["vague_asks"].get(sku, 0),
        "unpaid": max(r.get("orders", 0) - r.get("paid_orders", 0), 0),
        "cart": max(r["cart_adders"] - r["buyers"], 0),
        "unmet": max(r["clickers"] - r["buyers"], 0),
    }
    pent = sum(WEIGHTS[k] * v for k, v in signals.items())
    buyers = RERUN_MIN * rate * conv + pent
    units = buyers * per_buyer
    if r["stock"] is not None:
        units = min(units, r["stock"])
    price = r["price"] if r["price"] is not None else (r["gmv"] / r["units"] if r["units"] else 0.0)
    margin = price - r["cost"] if r["cost"] is not None else price * DEFAULT_MARGIN
    left = t["left_at"].get(sku)
    off_s = None if left is None else max(0.0, as_of - left)
    fresh = 1.0 if off_s is None or tau_s <= 0 else 1 - math.exp(-off_s / tau_s)
    score = max(units * margin, 0.0) * fresh
    figures = {"clickers": r["clickers"], "cart_adders": r["cart_adders"], "buyers": r["buyers"],
               "unpaid_orders": signals["unpaid"], "asks": signals["asks"], "mentions": signals["mentions"],
               "vague_asks": signals["vague_asks"], "clicks_per_stage_min": round(rate, 3),
               "cvr_on_stage": r["cvr"], "cvr_estimate": round(conv, 4), "stock": r["stock"],
               "unit_margin": round(margin, 2), "minutes_off_stage": None if off_s is None else round(off_s / 60, 1),
               "expected_units": round(units, 1), "gmv": r["gmv"]}
    return {"sku": sku, "name": r["name"], "score": round(score, 2), "reason": _why(figures), "figures": figures}


def _why(f: dict) -> dict:
    zh, en = [], []
    if f["asks"]:
        zh.append(f"{f['asks']} 条评论求返场")
        en.append(f"{f['asks']} comments ask for it back")
    if f["unpaid_orders"]:
        zh.append(f"{f['unpaid_orders']} 单未付款")
        en.append(f"{f['unpaid_orders']} unpaid orders")
    cart = max(f["cart_adders"] - f["buyers"], 0)
    if cart:
        zh.append(f"{cart} 人加购未买")
        en.append(f"{cart} cart adders did not buy")
    zh.append(f"在讲时转化 {f['cvr_estimate']:.1%}，每分钟 {f['clicks_per_stage_min']:.1f} 次点击")
    en.append(f"converts {f['cvr_estimate']:.1%} on stage with {f['clicks_per_stage_min']:.1f} clicks a minute")
    zh.append(f"单件毛利 ¥{f['unit_margin']:.0f}")
    en.append(f"¥{f['unit_margin']:.0f} margin a unit")
    if f["stock"] is not None:
        zh.append(f"库存 {f['stock']}")
        en.append(f"{f['stock']} in stock")
    if f["minutes_off_stage"] is not None:
        zh.append(f"已下播 {f['minutes_off_stage']:.0f} 分钟")
        en.append(f"off stage {f['minutes_off_stage']:.0f} min")
    zh_s = "；".join(zh) + f"。预计再卖约 {f['expected_units']:.0f} 件。"
    en_s = "; ".join(en) + f". Expect about {f['expected_units']:.0f} more units."
    return {"zh": zh_s, "en": en_s}


# -- the Redis adapter --------------------------------------------------------------------------------

def run_room(r, room: str) -> None:
    snap = r.get(keys.snapshot(room))
    if not snap:
        return
    m = wire.read_frame(snap).metrics
    rows = orjson.loads(r.get(keys.products(room)) or b"[]")
    raw = r.get(keys.rerun_tally(room))
    t = orjson.loads(raw) if raw else new_tally()
    tally(_new_events(r, room), rows, t)
    if t["started"] is None:
        t["started"] = m["started"]   # the group began reading mid-session (or the session has no start)
    shortlist = rank(rows, t, m["as_of"]) if m.get("ended") is None else []
    blob = orjson.dumps(shortlist)
    old = r.get(keys.recommendations(room))
    pipe = r.pipeline(transaction=False)
    pipe.set(keys.rerun_tally(room), orjson.dumps(t))
    pipe.set(keys.recommendations(room), blob)
    pipe.execute()
    if _order(old) != _order(blob):
        notify(r, room)


def _order(blob: bytes | None) -> list:
    """What a screen's ranking shows: the skus in order with their reasons (scores drift every run)."""
    return [(x["sku"], x["reason"]) for x in orjson.loads(blob or b"[]")]


def _new_events(r, room: str) -> list[dict]:
    """Entries of the room's stream not read before. NOACK: the tally is the record of what was read; a crash
    between reading and saving it loses a few comments, which a ranking can afford."""
    stream = keys.events(room)
    out = []
    for _ in range(READ_ROUNDS):
        try:
            got = r.xreadgroup(GROUP, CONSUMER, {stream: ">"}, count=READ_COUNT, noack=True)
        except redis.ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            # from the start of the log: the current session's comments so far count too
            r.xgroup_create(stream, GROUP, id="0", mkstream=True)
            continue
        entries = got[0][1] if got else []
        out.extend(orjson.loads(f[b"e"]) for _id, f in entries)
        if len(entries) < READ_COUNT:
            break
    return out
