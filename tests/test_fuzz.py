"""Fuzzing POST /api/events: more than 10,000 malformed events, each made by mutating a valid one (types,
values, limits, nesting, bytes, unicode, missing fields...), mixed with a valid session and sent as JSON
arrays and NDJSON. No 5xx ever; every rejection has a reason and the right index; the good events are counted
exactly (the room's figures equal tests/reference.py's over the good events alone). Seeded: it repeats.
"""
from __future__ import annotations

import json
import random
import time

import orjson

from tests.events import arrive_late, random_session
from tests.test_faults import assert_matches_reference

SEED = 12
MUTANTS = 10_500
COMMON = {"id": "key", "room": "room", "ts": "num", "type": "type", "platform": "enum"}
FIELDS = {   # CONTRACT section 1: each type's own fields (required first) and their kinds
    "session_start": {"title": "str", "streamer": "str", "target_roi": "num"},
    "session_end": {},
    "impression": {"user": "key", "source": "enum"}, "enter": {"user": "key", "source": "enum"},
    "leave": {"user": "key"}, "product_off": {"sku": "key"},
    "product_on": {"sku": "key", "name": "str", "price": "num", "cost": "num", "stock": "int"},
    "product_view": {"user": "key", "sku": "key"}, "product_click": {"user": "key", "sku": "key"},
    "cart_add": {"user": "key", "sku": "key", "qty": "int"},
    "order": {"user": "key", "sku": "key", "order_id": "key", "amount": "num", "qty": "int"},
    "pay": {"user": "key", "sku": "key", "order_id": "key", "amount": "num", "qty": "int"},
    "refund": {"order_id": "key", "amount": "num", "user": "key", "sku": "key"},
    "comment": {"user": "key", "text": "text"}, "like": {"user": "key", "count": "int"},
    "follow": {"user": "key"}, "share": {"user": "key"},
    "ad_spend": {"campaign": "key", "amount": "num", "impressions": "int", "clicks": "int"},
    "stock": {"sku": "key", "stock": "int"},
}
REQUIRED = {t: [f for f in fs if f not in {"title", "streamer", "target_roi", "source", "name", "price", "cost",
                                            "qty", "count", "impressions", "clicks"}
                and not (t == "product_on" and f == "stock") and not (t == "refund" and f in ("user", "sku"))]
            for t, fs in FIELDS.items()}
WRONG_TYPE = {
    "key": [123, None, True, [], {"a": 1}, 1.5],
    "str": [1, None, False, ["x"]], "text": [7, None, ["t"]], "enum": [1, None, ["paid"]],
    "room": [5, None, ["r1"]], "type": [3, None, ["pay"]],
    "num": ["12", None, True, [1], {"v": 1}],
    "int": ["3", None, True, 2.0, 1.5, [1]],
}
OUT_OF_RANGE = {
    "amount": [100_000_000.01, 1e307, 1.7e308, -0.01, 10 ** 30], "price": [1e8 + 1, 1e307, -1],
    "cost": [2e8, -0.5], "qty": [0, 100_001, -1, 10 ** 20], "count": [0, 1_000_001, -3],
    "stock": [-1, 1_000_000_001, 10 ** 19], "impressions": [-1, 10 ** 12 + 1], "clicks": [-1, 10 ** 12 + 1],
    "target_roi": [0, -1.5],
}


def nested(levels: int):
    value = "deep"
    for _ in range(levels - 1):
        value = [value] if levels % 2 else {"k": value}
    return value


def mutate(ev: dict, rng: random.Random, ndjson: bool):
    """A copy of `ev` that CONTRACT section 1 rejects: a dict, or JSON text (bytes) where a dict cannot say it."""
    e = dict(ev)
    t = e["type"]
    own = {**COMMON, **FIELDS[t]}
    kinds = ["missing", "wrong_type", "limit", "ts", "room", "id", "type", "long", "enum", "deep", "big",
             "not_object", "surrogate", "override", "nonfinite"] + (["utf8", "cut", "control"] if ndjson else [])
    kind = rng.choice(kinds)
    if kind == "missing":
        del e[rng.choice(["id", "room", "ts", "type", *REQUIRED[t]])]
    elif kind == "wrong_type":
        field = rng.choice([f for f in own if f in e] or ["id"])
        e[field] = rng.choice(WRONG_TYPE[own[field]])
    elif kind == "limit" and any(f in OUT_OF_RANGE for f in FIELDS[t]):
        field = rng.choice([f for f in FIELDS[t] if f in OUT_OF_RANGE])
        e[field] = rng.choice(OUT_OF_RANGE[field])
    elif kind == "ts":
        e["ts"] = rng.choice([time.time() + 11 * 365.25 * 86400, time.time() - 3700 * 86400, 0, -1e12])
    elif kind == "room":
        e["room"] = rng.choice(["bad room!", "", "x" * 65, "r1/x", "房间", "r1\n", "r1\u0000"])
    elif kind == "id":
        e["id"] = rng.choice(["", "i" * 129, "猫" * 129])
    elif kind == "type":
        e["type"] = rng.choice(["teleport", "", "PAY", "pay ", "session-start"])
    elif kind == "long" and any(k in ("key", "text") for k in FIELDS[t].values()):
        field = rng.choice([f for f, k in FIELDS[t].items() if k in ("key", "text")])
        e[field] = ("a" if rng.random() < 0.5 else "😀") * (501 if FIELDS[t][field] == "text" else 129)
    elif kind == "enum":
        e[rng.choice([f for f, k in own.items() if k == "enum"])] = rng.choice(["tv", "Douyin", "OTHER", "paid "])
    elif kind == "deep":
        e["extra"] = nested(rng.randint(17, 60))
    elif kind == "big":
        e["pad"] = rng.choice(["x" * 8200, "猫" * 2800, "😀" * 2100])
    elif kind == "not_object":
        return rng.choice([0, "event", [], [e], None, True, 1e300])
    elif kind == "surrogate":   # a lone surrogate: valid JSON text, not a valid string; in a checked field or not
        field = rng.choice([f for f, k in own.items() if k == "key" and f in e] + ["note"])
        e[field] = "SURROGATE"
        return orjson.dumps(e).replace(b'"SURROGATE"', b'"a\\ud800b"')
    elif kind == "override":    # a repeated key: the last one counts, and it is wrong
        return orjson.dumps(e)[:-1] + b',"type":"nope"}'
    elif kind == "nonfinite":
        field = rng.choice([f for f, k in own.items() if k == "num"])
        e[field] = "NONFINITE"
        return orjson.dumps(e).replace(b'"NONFINITE"', rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999"]))
    elif kind == "utf8":
        e["user" if "user" in e else "id"] = "BYTES"
        return orjson.dumps(e).replace(b"BYTES", rng.choice([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"a\x80"]))
    elif kind == "cut":
        text = orjson.dumps(e)
        return text[:rng.randint(1, len(text) - 1)]
    elif kind == "control":
        return orjson.dumps(e).replace(b'"id":"', b'"id":"\x01', 1)
    else:   # a kind that does not apply to this type: a field that surely does not exist in it
        del e["type"]
    return e


def good_variant(ev: dict, rng: random.Random) -> dict:
    """Some valid events carry harmless extras: unicode, escapes, nesting at the limit (16 levels)."""
    r = rng.random()
    if r < 0.05:
        return {**ev, "note": "猫😀\u2028\u0000\"\\/ é"}
    if r < 0.08:
        return {**ev, "extra": nested(15)}   # 15 levels inside the event: 16 with the event itself
    return ev


def as_text(item) -> bytes:
    if isinstance(item, bytes):
        return item
    try:
        return orjson.dumps(item)
    except TypeError:   # an integer beyond 64 bits
        return json.dumps(item, ensure_ascii=False).encode()


def test_fuzzed_bodies(system):
    rng = random.Random(SEED)
    good = arrive_late(random_session(SEED, span=1200.0, users=150, skus=8, prior="none", end=False), SEED)
    good = [good_variant(e, rng) for e in good]
    began = time.monotonic()
    mutants = 0
    sent = 0   # good events sent so far
    http = system.http
    while sent < len(good) or mutants < MUTANTS:
        ndjson = rng.random() < 0.5
        size = rng.randint(300, 900)
        batch, bad_at = [], set()
        while len(batch) < size and (sent < len(good) or mutants < MUTANTS):
            if mutants < MUTANTS and (sent >= len(good) or rng.random() < 0.9):
                item = mutate(rng.choice(good), rng, ndjson)
                bad_at.add(len(batch))
                batch.append(_fresh_id(item, mutants))
                mutants += 1
            else:
                batch.append(good[sent])
                sent += 1
        if ndjson:
            resp = http.post("/api/events", content=b"\n".join(as_text(x) for x in batch),
                             headers={"Content-Type": "application/x-ndjson"})
        else:
            resp = http.post("/api/events", content=b"[" + b",".join(as_text(x) for x in batch) + b"]",
                             headers={"Content-Type": "application/json"})
        assert resp.status_code == 200, resp.text[:500]
        out = resp.json()
        got = {r["index"]: r["error"] for r in out["rejected"]}
        wrong = sorted(set(got) ^ bad_at)
        assert not wrong, [(i, as_text(batch[i])[:200], got.get(i)) for i in wrong[:5]]
        assert all(isinstance(e, str) and e for e in got.values())
        assert out["accepted"] == len(batch) - len(bad_at) and out["duplicates"] == 0
    print(f"{mutants} mutants and {len(good)} good events posted in {time.monotonic() - began:.1f} s")
    assert_matches_reference(http, good)


def _fresh_id(item, n: int):
    """A mutant never reuses a good event's id, so that one wrongly accepted would show as such."""
    if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].startswith("s"):
        item["id"] = f"bad-{n}"
    elif isinstance(item, bytes):
        item = item.replace(b'"id":"s', b'"id":"bad-%d-s' % n, 1)
    return item
