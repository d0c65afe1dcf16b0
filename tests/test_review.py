"""The review of an archived simulated session against an independent computation over its archived events
(pandas, in the style of tests/reference.py; nothing here calls insights/review.py or insights/segments.py):
honest profit with unknown costs, cost coverage, break-even ROI, per-product rows, stage segments (讲解), the
live review's moments; and the product list paged, searched and sorted on the server."""
from __future__ import annotations

import time

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest

from feeds.simulator import simulate_session
from store import embedded
from tests.conftest import System, free_port, wait_until
from tests.reference import _ordered, _visits, reference

ROOM = "douyin-rv1"


def cents(x) -> int:
    return int(round(float(x) * 100))


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    d = tmp_path_factory.mktemp("review")
    server = embedded.start(d / "redis", port=free_port())
    s = System(server.url, free_port(), d / "app.log", env={"LIVEWALL_ARCHIVE_GRACE_S": "1"}).start()
    yield s
    s.stop()
    server.stop()


def post_all(system, events):
    """In bodies of 2,000; a body that met a busy store (503) is sent again: its ids make repeats duplicates."""
    for i in range(0, len(events), 2000):
        wait_until(lambda: system.http.post("/api/events", json=events[i:i + 2000]).status_code == 200,
                   timeout=60, interval=0.5, what="a body of events stored")


def simulated(room: str, seed: int, minutes: float, start: float) -> list[dict]:
    """A simulated session, its second product put on stage without a cost, ended by session_end."""
    evs = simulate_session(room, seed, minutes * 60, start)
    ons = [e for e in evs if e["type"] == "product_on"]
    ons[1].pop("cost")
    return evs + [{"id": f"{room}-end", "room": room, "ts": evs[-1]["ts"] + 1, "type": "session_end"}]


def wait_archived(system, room):
    def done():
        rows = system.get(f"/api/rooms/{room}/sessions")["sessions"]
        return rows and all(s["archived"] for s in rows) and rows
    return wait_until(done, timeout=60, what=f"{room} archived")


def full_review(system, session) -> dict:
    first = system.get(f"/api/sessions/{session}/review", params={"limit": 1000})
    rows = list(first["products"])
    while len(rows) < first["total"]:
        rows += system.get(f"/api/sessions/{session}/review", params={"limit": 1000, "offset": len(rows)})["products"]
    return {**first, "products": rows}


@pytest.fixture(scope="module")
def archived(system):
    evs = simulated(ROOM, 11, 25, time.time() - 3 * 3600)
    post_all(system, evs)
    [row] = wait_archived(system, ROOM)
    session = row["session"]
    directory = system.data_dir / "archive" / ROOM / session
    events = [orjson.loads(e) for e in pq.read_table(directory / "events.parquet").column("e").to_pylist()]
    return session, full_review(system, session), events


def test_the_archive_holds_the_sessions_events(archived):
    session, review, events = archived
    assert events[0]["type"] == "session_start" and events[-1]["type"] == "session_end"
    assert review["archived"] is True and review["ended_by"] == "session_end"
    assert len(events) > 1000 and len({e["id"] for e in events}) == len(events)


def test_products_and_honest_profit(archived):
    _session, review, events = archived
    ref = reference(events)
    by_sku = {p["sku"]: p for p in review["products"]}
    assert len(by_sku) == len(ref["products"]) == review["total"]
    known_cogs = covered = gmv = 0
    for p in ref["products"]:
        got = by_sku[p["sku"]]
        assert (got["units"], got["gmv"], got["cost"], got["buyers"]) == (p["units"], p["gmv"], p["cost"], p["buyers"])
        gmv += cents(p["gmv"])
        if p["cost"] is None:
            assert got["profit"] is None
        else:
            assert cents(got["profit"]) == cents(p["gmv"]) - cents(p["cost"]) * p["units"]
            known_cogs += cents(p["cost"]) * p["units"]
            covered += cents(p["gmv"])
    profit = review["profit"]
    assert 0 < covered < gmv, "the session should sell products of unknown cost too"
    assert cents(profit["cost_of_goods"]) == known_cogs
    assert profit["cost_coverage"] == pytest.approx(covered / gmv, rel=1e-12)
    assert profit["gross_profit"] is None                       # never GMV shown as profit
    assert cents(profit["gross_profit_known"]) == covered - known_cogs
    assert profit["break_even_roi"] == pytest.approx(covered / (covered - known_cogs), rel=1e-12)
    assert profit["unknown_cost_products"] == sum(p["cost"] is None for p in ref["products"])


def reference_segments(events: list[dict]) -> tuple[list[dict], dict]:
    df = _ordered(events)
    as_of, started = df["ts"].max(), df["ts"].min()
    v = _visits(df)
    close = v["close_ts"].fillna(as_of)
    stage = df[df["type"].isin(("product_on", "product_off"))]
    spans, on, since = [], None, None
    for r in stage.itertuples():
        if r.type == "product_on" and r.sku != on:
            if on is not None:
                spans.append((on, since, r.ts))
            on, since = r.sku, r.ts
        elif r.type == "product_off" and r.sku == on:
            spans.append((on, since, r.ts))
            on = None
    if on is not None:
        spans.append((on, since, as_of))

    def room(s, e, last):
        inside = df[(df["ts"] >= s) & ((df["ts"] < e) | (last & (df["ts"] == e)))]
        opened = v[(v["open_ts"] >= s) & ((v["open_ts"] < e) | (last & (v["open_ts"] == e)))]
        overlap = (np.minimum(close, e) - np.maximum(v["open_ts"], s)).clip(lower=0)
        closed = opened["close_ts"].notna()
        bounced = closed & ((opened["close_ts"] - opened["open_ts"]) < 2.0)
        decided = closed | ((as_of - opened["open_ts"]) >= 2.0)
        gmv = int(inside.loc[inside["type"] == "pay", "amount"].map(cents).sum())
        viewers = v.loc[overlap > 0, "user"].nunique()
        return {"avg_online": overlap.sum() / (e - s) if e > s else None, "visits": len(opened),
                "bounce_2s_rate": bounced.sum() / decided.sum() if decided.sum() else None,
                "avg_dwell_s": overlap.sum() / viewers if viewers else None, "gmv": gmv / 100,
                "gpm": gmv / 100 / len(opened) * 1000 if len(opened) else None}, inside

    out = []
    for sku, s, e in spans:
        figs, inside = room(s, e, e == as_of)
        mine = inside[inside["sku"] == sku]
        users = {t: mine.loc[mine["type"] == t, "user"].nunique() for t in ("product_view", "product_click", "pay")}
        pays = mine[mine["type"] == "pay"]
        out.append({"sku": sku, "start": s, "end": e, "views": users["product_view"],
                    "clicks": users["product_click"], "buyers": users["pay"],
                    "units": int(pays["qty"].fillna(1).sum()), "gmv": int(pays["amount"].map(cents).sum()) / 100,
                    "room": figs})
    whole, _ = room(started, as_of, True)
    return out, whole


def close_dict(got: dict, want: dict):
    for k, w in want.items():
        if w is None or isinstance(w, (int, np.integer)) and not isinstance(w, bool):
            assert got[k] == w, k
        else:
            assert got[k] == pytest.approx(float(w), rel=1e-9), k


def test_segments_against_an_independent_computation(archived):
    _session, review, events = archived
    want, whole = reference_segments(events)
    got = review["segments"]
    assert len(got) == len(want) >= 3
    for g, w in zip(got, want):
        assert (g["sku"], g["start"], g["end"]) == (w["sku"], w["start"], w["end"])
        assert g["seconds"] == pytest.approx(w["end"] - w["start"])
        assert (g["views"], g["clicks"], g["buyers"], g["units"], g["gmv"]) == \
               (w["views"], w["clicks"], w["buyers"], w["units"], w["gmv"])
        assert g["ctr"] == (w["clicks"] / w["views"] if w["views"] else None)
        assert g["cvr"] == (w["buyers"] / w["clicks"] if w["clicks"] else None)
        close_dict(g["room"], w["room"])
    close_dict(review["session_room"], whole)
    t = review["totals"]   # the whole session read the same way gives the engine's own figures
    assert review["session_room"]["avg_dwell_s"] == pytest.approx(t["avg_dwell_s"], rel=1e-9)
    assert review["session_room"]["bounce_2s_rate"] == pytest.approx(t["bounce_2s_rate"], rel=1e-9)
    assert review["session_room"]["gpm"] == pytest.approx(t["gpm"], rel=1e-9)


def test_live_review_timeline_and_moments(archived):
    _session, review, events = archived
    minutes = [t for t in review["timeline"] if t["kind"] == "minute"]
    ref = reference(events)
    assert [(m["minute"], m["online"], m["gmv"]) for m in minutes] == \
           [(s["minute"], s["online"], s["gmv"]) for s in ref["series"]]
    df = _ordered(events)
    v = _visits(df)
    per_minute = v.assign(minute=(v["open_ts"] // 60 * 60).astype(int)).groupby(["minute", "source"]).size()
    for m in minutes:
        want = {src: int(n) for (mm, src), n in per_minute.items() if mm == m["minute"]}
        assert m["sources"] == want, m["minute"]
    online = pd.Series([m["online"] for m in minutes])
    steps = online.diff().iloc[1:]
    rise = review["moments"]["online_rise"]
    assert rise["change"] == steps.max() and rise["minute"] == minutes[int(steps.idxmax())]["minute"]
    fall = review["moments"]["online_fall"]
    assert fall["change"] == steps.min() and fall["minute"] == minutes[int(steps.idxmin())]["minute"]
    segs = [t for t in review["timeline"] if t["kind"] == "segment"]
    assert [(s["sku"], s["start"]) for s in segs] == [(s["sku"], s["start"]) for s in review["segments"]]


def test_paging_search_and_sort(system, archived):
    session, review, _events = archived
    everything = review["products"]
    url = f"/api/sessions/{session}/review"
    page = system.get(url, params={"limit": 3, "offset": 2, "sort": "-units"})
    ordered = sorted(sorted(everything, key=lambda p: p["sku"]), key=lambda p: p["units"], reverse=True)
    assert [p["sku"] for p in page["products"]] == [p["sku"] for p in ordered[2:5]]
    assert page["total"] == len(everything) and page["page"]["sort"] == "-units"
    asc = system.get(url, params={"sort": "profit", "order": "asc", "limit": 1000})["products"]
    known = [p for p in asc if p["profit"] is not None]
    assert [p["profit"] for p in known] == sorted(p["profit"] for p in known)
    assert all(p["profit"] is None for p in asc[len(known):])          # unknown last
    name = everything[0]["name"]
    hit = system.get(url, params={"q": name[1:3].upper()})
    assert hit["total"] >= 1 and all(name[1:3].casefold() in (p["name"] or "").casefold()
                                     or name[1:3].casefold() in p["sku"] for p in hit["products"])
    sku_hit = system.get(url, params={"q": everything[-1]["sku"].upper()})
    assert [p["sku"] for p in sku_hit["products"]] == [everything[-1]["sku"]]
    for bad in ({"limit": "-1"}, {"limit": "5000"}, {"sort": "nope"}, {"order": "up"}, {"offset": "x"}):
        r = system.http.get(url, params=bad)
        assert r.status_code == 400 and "error" in r.json(), bad


def test_sessions_by_date_and_role(system, archived):
    session, review, _ = archived
    day = time.strftime("%Y-%m-%d", time.gmtime(review["started"]))
    rows = system.get("/api/sessions", params={"from": day, "to": day})["sessions"]
    assert session in [s["session"] for s in rows]
    assert system.get("/api/sessions", params={"to": "2001-01-01"})["sessions"] == []
    assert system.get("/api/sessions", params={"platform": "taobao", "room": ROOM})["sessions"] == []
    other = [{"id": "k-1", "room": "kuaishou-x", "ts": time.time() - 50, "type": "session_start"}]
    system.post(other)
    wait_until(lambda: len(system.get("/api/sessions")["sessions"]) >= 2, what="two rooms' sessions")
    started = [s["started"] for s in system.get("/api/sessions")["sessions"]]
    assert started == sorted(started, reverse=True)
    viewer = system.add_user("rv-viewer", "viewer", rooms="kuaishou-x")
    try:
        mine = viewer.get("/api/sessions").json()["sessions"]
        assert {s["room"] for s in mine} == {"kuaishou-x"}
        assert viewer.get("/api/sessions", params={"room": ROOM}).status_code == 403
        assert viewer.get(f"/api/sessions/{session}/review").status_code == 403
    finally:
        viewer.close()
    assert system.http.get("/api/sessions", params={"from": "yesterday"}).status_code == 400
