"""A session's review downloaded as CSV, XLSX and HTML against the whole app (a real process): the files parse
back (pandas, openpyxl) with the review's figures, unknown costs say "unknown", viewer text never becomes a
spreadsheet formula, the HTML report opens in Chromium with the network off and draws its chart; the baseline
against an independent computation over the raw events; who may download.
"""
from __future__ import annotations

import io
import itertools
import time

import openpyxl
import pandas as pd
import pytest

from insights import export

from tests.conftest import wait_until

_ids = itertools.count()
NASTY = {"p1": "=HYPERLINK(\"http://evil.example\",\"点我\")", "p2": "+1+1", "p3": "@SUM(A1:A9)", "p4": "-2+3",
         "p5": "<script>alert(1)</script>羊毛衫"}


def ev(room, type_, ts, **f):
    return {"id": f"exp-{room}-{next(_ids)}", "room": room, "ts": ts, "type": type_, **f}


def session_events(room: str, t0: float, pays: list[tuple[int, str, float]], title: str = "导出测试",
                   minutes: int = 6, known_cost: bool = True) -> list[dict]:
    """A session from t0 for `minutes`: products p1..p5 (p3 and p5 without a cost), viewers who enter, pay at
    (second, sku, amount), leave; ad spend; ended."""
    out = [ev(room, "session_start", t0, title=title, platform="douyin")]
    for i, (sku, name) in enumerate(NASTY.items()):
        extra = {"cost": 10.0 + i} if known_cost and sku not in ("p3", "p5") else {}
        out.append(ev(room, "product_on", t0 + 1, sku=sku, name=name, price=50.0 + i, stock=100, **extra))
    for k, (sec, sku, amount) in enumerate(pays):
        u = f"{room}-u{k}"
        out += [ev(room, "enter", t0 + sec, user=u, source="recommend" if k % 2 else "paid"),
                ev(room, "product_view", t0 + sec + 1, user=u, sku=sku),
                ev(room, "product_click", t0 + sec + 2, user=u, sku=sku),
                ev(room, "pay", t0 + sec + 3, user=u, sku=sku, order_id=f"{room}-o{k}", amount=amount),
                ev(room, "leave", t0 + sec + 30, user=u)]
    out += [ev(room, "ad_spend", t0 + 100, campaign="c1", amount=88.8),
            ev(room, "session_end", t0 + minutes * 60 - 1)]
    return sorted(out, key=lambda e: e["ts"])


def ended(system, room: str, events: list[dict]) -> str:
    system.post(events)
    t0 = events[0]["ts"]

    def done():
        r = system.http.get(f"/api/rooms/{room}/sessions")
        rows = r.json()["sessions"] if r.status_code == 200 else []
        return next((s["session"] for s in rows if s["started"] == t0 and s["ended"] is not None), None)
    return wait_until(done, timeout=30, what=f"the session of {room} from {t0} ended")


@pytest.fixture(scope="module")
def reviewed(system):
    room = "exp-room"
    t0 = (time.time() // 60) * 60 - 3 * 3600
    pays = [(20 + 37 * k, f"p{1 + k % 5}", 50.0 + k % 5) for k in range(9)]
    session = ended(system, room, session_events(room, t0, pays))
    return room, session, system.get(f"/api/sessions/{session}/review")


def csv_blocks(text: str) -> dict[str, pd.DataFrame]:
    out = {}
    for block in text.lstrip("\ufeff").split("\r\n\r\n"):
        name, _, body = block.partition("\r\n")
        out[name.strip("[]")] = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    return out


def test_csv_has_the_reviews_figures_unknown_costs_and_no_formulas(system, reviewed):
    room, session, review = reviewed
    resp = system.http.get(f"/api/sessions/{session}/export?format=csv")
    assert resp.status_code == 200
    assert resp.headers["content-disposition"].startswith("attachment; filename=")
    assert ".csv" in resp.headers["content-disposition"]
    blocks = csv_blocks(resp.text)
    assert set(blocks) == {"summary", "profit", "products", "segments", "sources", "timeline"}
    profit = dict(zip(blocks["profit"]["field"], blocks["profit"]["value"]))
    assert review["profit"]["gross_profit"] is None      # p3 and p5 sold with no cost: never GMV as profit
    for k, v in review["profit"].items():
        assert profit[k] == ("unknown" if v is None and k in export.COST_FIELDS else "" if v is None else str(v)), k
    products = blocks["products"].set_index("sku")
    assert len(products) == len(review["products"])
    for p in review["products"]:
        row = products.loc[p["sku"]]
        assert float(row["gmv"]) == p["gmv"] and int(row["units"]) == p["units"]
        assert row["cost"] == ("unknown" if p["cost"] is None else str(p["cost"]))
        # the viewer's text, neutralised: a spreadsheet shows it, never runs it
        name = row["name"]
        assert name == ("'" + p["name"] if p["name"][0] in "=+-@" else p["name"])
    assert products.loc["p3", "cost"] == "unknown"
    segs = blocks["segments"]
    assert len(segs) == len(review["segments"]) > 0
    assert [float(g) for g in segs["gmv"]] == [s["gmv"] for s in review["segments"]]
    for f in ("avg_online", "bounce_2s_rate", "gpm"):
        assert [None if v == "" else float(v) for v in segs[f"room.{f}"]] == [s["room"][f] for s in review["segments"]]
    minutes = [t for t in review["timeline"] if t["kind"] == "minute"]
    tl = blocks["timeline"]
    assert [int(m) for m in tl["minute"]] == [m["minute"] for m in minutes]
    assert [float(g) for g in tl["gmv"]] == [m["gmv"] for m in minutes]


def test_xlsx_has_the_reviews_figures_and_text_cells(system, reviewed):
    room, session, review = reviewed
    resp = system.http.get(f"/api/sessions/{session}/export?format=xlsx")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    assert {"summary", "products", "segments", "timeline"} <= set(wb.sheetnames)
    rows = list(wb["products"].iter_rows())
    head = [c.value for c in rows[1]]
    by_sku = {r[head.index("sku")].value: r for r in rows[2:]}
    assert len(by_sku) == len(review["products"])
    for p in review["products"]:
        r = by_sku[p["sku"]]
        assert r[head.index("gmv")].value == p["gmv"] and r[head.index("units")].value == p["units"]
        assert r[head.index("cost")].value == ("unknown" if p["cost"] is None else p["cost"])
        name = r[head.index("name")]
        assert name.data_type == "s" and name.value == p["name"]   # a string cell, as the viewer wrote it
    summary = {r[0].value: r[1].value for r in wb["summary"].iter_rows() if len(r) > 1}
    for k in ("gross_profit", "gross_profit_known", "cost_of_goods", "break_even_roi"):
        want = review["profit"][k]
        assert summary[k] == ("unknown" if want is None else pytest.approx(want, rel=1e-12)), k   # XLSX keeps 15 digits


def test_export_refuses_a_bad_format_and_strangers(system, reviewed):
    room, session, _ = reviewed
    resp = system.http.get(f"/api/sessions/{session}/export?format=pdf")
    assert resp.status_code == 400 and "format" in resp.json()["error"]
    import httpx
    assert httpx.get(f"{system.url}/api/sessions/{session}/export?format=csv").status_code == 401
    other = system.add_user("exp-viewer", "viewer", rooms="someone-else")
    assert other.get(f"/api/sessions/{session}/export?format=csv").status_code == 403
    assert system.http.get("/api/sessions/nope/export?format=csv").status_code == 404


def test_the_html_report_opens_offline_with_its_chart(system, reviewed, browser, tmp_path):
    room, session, review = reviewed
    resp = system.http.get(f"/api/sessions/{session}/export?format=html")
    assert resp.status_code == 200
    path = tmp_path / "report.html"
    path.write_bytes(resp.content)
    assert "<script" not in resp.text.replace("&lt;script&gt;", "")   # viewer text escaped, and no script of ours
    ctx = browser.new_context()
    requests = []
    ctx.route("**/*", lambda route: (requests.append(route.request.url), route.abort()
                                     if not route.request.url.startswith("file:") else route.continue_()))
    ctx.set_offline(True)
    page = ctx.new_page()
    page.goto(path.as_uri())
    minutes = [t for t in review["timeline"] if t["kind"] == "minute"]
    assert page.locator("svg.chart rect.bar").count() == len(minutes)
    assert page.locator("svg.chart text.ax").count() > 3 + 3      # round money ticks and > 3 time labels
    p3 = page.locator("table.products tr", has_text=NASTY["p3"])
    assert "unknown" in p3.inner_text() and "0.00" not in p3.inner_text().split("unknown")[0][-8:]
    assert page.get_by_text(NASTY["p5"]).count() >= 1              # shown as text
    assert [u for u in requests if not u.startswith("file:")] == []
    ctx.close()


# ---- the baseline ------------------------------------------------------------------------------------------

def independent_baseline(sessions: list[list[dict]]) -> pd.DataFrame:
    """Per-minute-from-start GMV, visits, paid orders and online of each session from its raw events, then the
    mean over the sessions that reach each minute: pandas, not livewall's code."""
    frames = []
    for i, events in enumerate(sessions):
        df = pd.DataFrame(events)
        t0 = (df["ts"].min() // 60) * 60
        last = (df["ts"].max() // 60) * 60
        df["k"] = ((df["ts"] // 60) * 60 - t0) // 60
        ks = pd.RangeIndex(0, int((last - t0) // 60) + 1)
        pay = df[df["type"] == "pay"]
        step = df["type"].map({"enter": 1, "leave": -1}).fillna(0)
        out = pd.DataFrame({"gmv": pay.groupby("k")["amount"].sum(),
                            "paid_orders": pay.groupby("k")["order_id"].nunique(),
                            "visits": df[df["type"] == "enter"].groupby("k").size()}).reindex(ks).fillna(0)
        out["online"] = step.groupby(df["k"]).sum().reindex(ks).fillna(0).cumsum()
        out["session"] = i
        frames.append(out.rename_axis("k").reset_index())
    return pd.concat(frames).groupby("k")[["gmv", "visits", "paid_orders", "online"]].mean()


def test_the_baseline_is_the_mean_of_earlier_sessions_minute_by_minute(system):
    room = "exp-base"
    base_t = (time.time() // 60) * 60 - 10 * 3600
    plans = [[(20, "p1", 50.0), (80, "p2", 51.0), (200, "p1", 50.0)],
             [(10, "p2", 51.0), (70, "p1", 50.0), (75, "p4", 53.0), (130, "p1", 50.0), (250, "p2", 51.0)],
             [(40, "p1", 50.0)],
             [(5, "p1", 50.0), (65, "p1", 50.0)]]
    sessions, ids = [], []
    for i, plan in enumerate(plans):
        evs = session_events(room, base_t + i * 3600 + 7 * i, plan, title=f"第{i}场", minutes=4 + i)
        sessions.append(evs)
        ids.append(ended(system, room, evs))
    got = system.get(f"/api/sessions/{ids[-1]}/baseline?n=3")
    assert got["sessions"] == ids[-2::-1] and got["how"] == "mean"
    want = independent_baseline(sessions[:3])
    base = pd.DataFrame(got["baseline"]).set_index("minute_from_start")
    assert list(base.index) == list(want.index)
    for f in ("gmv", "visits", "paid_orders", "online"):
        assert base[f].tolist() == pytest.approx(want[f].tolist(), rel=1e-9), f
    # the comparison: worst change first, over the minutes both have
    changes = [c["change"] for c in got["compare"] if c["change"] is not None]
    assert changes == sorted(changes)
    mine = independent_baseline(sessions[3:])
    common = want.index.intersection(mine.index)
    gmv = next(c for c in got["compare"] if c["metric"] == "gmv")
    assert gmv["actual"] == pytest.approx(mine.loc[common, "gmv"].sum())
    assert gmv["baseline"] == pytest.approx(want.loc[common, "gmv"].sum())
    # chosen sessions instead of the last n
    chosen = system.get(f"/api/sessions/{ids[-1]}/baseline?sessions={ids[0]}")
    assert chosen["sessions"] == [ids[0]]
    assert pd.DataFrame(chosen["baseline"])["gmv"].tolist() == pytest.approx(
        independent_baseline(sessions[:1])["gmv"].tolist())
    assert system.http.get(f"/api/sessions/{ids[-1]}/baseline?n=0").status_code == 400


# ---- the pieces, alone ----------------------------------------------------------------------------------------

def test_text_that_a_spreadsheet_would_run_is_neutralised():
    for text in ("=1+1", "+SUM(A1)", "-2", "@A1", "\tx", "\rx"):
        assert export.cell("name", text) == "'" + text
    assert export.cell("name", "羊毛衫 -20%") == "羊毛衫 -20%"
    assert export.cell("gmv", -12.5) == -12.5            # numbers stay numbers
    assert export.cell("cost", None) == "unknown" and export.cell("ctr", None) == ""


def test_xlsx_keeps_a_viewers_formula_as_text_and_drops_what_xml_cannot_hold():
    review = {"session": "r@1", "room": "r", "totals": {}, "profit": {}, "timeline": []}
    data = export.xlsx_bytes(review, [{"sku": "s1", "name": "=cmd|' /C calc'!A0\x07", "cost": None, "gmv": 1.0}])
    ws = openpyxl.load_workbook(io.BytesIO(data))["products"]
    rows = list(ws.iter_rows())
    head = [c.value for c in rows[1]]
    name = rows[2][head.index("name")]
    assert name.data_type == "s" and name.value == "=cmd|' /C calc'!A0"
    assert rows[2][head.index("cost")].value == "unknown"


def test_chart_ticks_are_round():
    assert export.nice_ticks(14_735) == [0, 5000, 10000, 15000]
    assert export.nice_ticks(29_469) == [0, 10000, 20000, 30000]
    assert export.nice_ticks(3) == [0, 1, 2, 3]
    t0 = 1_790_000_000 // 60 * 60
    ticks = export.time_ticks(t0, t0 + 120 * 60)
    assert 4 <= len(ticks) <= 8 and all(t % 1200 == 0 for t in ticks)
