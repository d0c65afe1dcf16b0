"""A session's review as files a team keeps: CSV and XLSX (totals, profit, products, segments, timeline) and one
self-contained HTML report (its charts as inline SVG: it opens with no network).

Rules every format keeps:
- an unknown cost (`cost: null`, and the figures that depend on it) is written "unknown", never 0;
- viewer text (product names, titles) stays text: in CSV a cell starting with = + - @ (or a tab or CR) gets a
  leading apostrophe, so a spreadsheet never runs it as a formula (CSV injection); in XLSX it is a string cell;
  in HTML it is escaped;
- products are written row by row (a generator, a write-only workbook): 100,000 products never sit in memory
  twice.
"""
from __future__ import annotations

import csv
import html
import io
import math
import re
from datetime import datetime
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

FORMATS = ("csv", "xlsx", "html")
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "html": "text/html; charset=utf-8"}
UNKNOWN = "unknown"
# figures that are unknown, not zero, when a cost is unknown (insights/review.py writes them as null)
COST_FIELDS = frozenset({"cost", "profit", "cost_of_goods", "gross_profit", "gross_profit_known", "break_even_roi"})
# the product columns in the order a buyer reads them; any other field the review carries follows
PRODUCT_ORDER = ("sku", "name", "price", "cost", "profit", "units", "gmv", "buyers", "viewers", "clickers",
                 "cart_adders", "ctr", "cvr", "stock", "on_stage", "stage_seconds")
TIMELINE_FIELDS = ("gmv", "online", "visits", "paid_orders")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HTML_TOP_PRODUCTS = 20
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")   # what an XLSX cell cannot hold (openpyxl refuses it)


def safe_text(v: str) -> str:
    """Viewer text for a spreadsheet cell: never a formula."""
    return "'" + v if v.startswith(FORMULA_START) else v


def cell(field: str, v):
    """One value as a spreadsheet cell: numbers stay numbers, unknown costs say so, text is neutralised."""
    if v is None:
        return UNKNOWN if field in COST_FIELDS else ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        return safe_text(v)
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    return v


def scalars(d: dict) -> list[tuple[str, object]]:
    """The plain fields of a block, nested objects (funnel, sources, windows) flattened with dots."""
    out: list[tuple[str, object]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += [(f"{k}.{kk}", vv) for kk, vv in scalars(v)]
        elif not isinstance(v, list):
            out.append((k, v))
    return out


def when(ts, tz: str) -> str:
    if not isinstance(ts, (int, float)):
        return ""
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def minutes(review: dict) -> list[dict]:
    return sorted((t for t in review.get("timeline") or [] if t.get("kind", "minute") == "minute"),
                  key=lambda t: t["minute"])


def product_columns(first: dict | None) -> list[str]:
    keys = list(first or {})
    return [c for c in PRODUCT_ORDER if c in keys or c in ("sku", "name", "cost")] + \
           [c for c in keys if c not in PRODUCT_ORDER and not isinstance(first[c], (dict, list))]


def table_columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for row in rows[:50]:
        cols += [k for k, v in row.items() if k not in cols and not isinstance(v, (dict, list))]
    return cols


def flat_segments(review: dict) -> list[dict]:
    """Each stage segment (讲解) as one flat row: the room's figures during it as `room.avg_online`, ..."""
    return [dict(scalars(s)) for s in review.get("segments") or [] if isinstance(s, dict)]


def summary_rows(review: dict, tz: str) -> list[tuple[str, object]]:
    t = review.get("totals") or {}
    head = [("session", review.get("session")), ("room", review.get("room")), ("platform", review.get("platform")),
            ("title", t.get("title")), ("started", when(t.get("started"), tz)), ("ended", when(t.get("ended"), tz)),
            ("timezone", tz)]
    late = [(f"late.{k}", v) for k, v in scalars(review.get("late") or {}) if k in ("count", "gmv", "refund_amount")]
    return head + [(f"totals.{k}", v) for k, v in scalars(t) if k not in ("title", "session", "room", "platform")] + late


def blocks(review: dict, products: Iterable[dict], tz: str):
    """(name, columns, rows) for every part of a review: the one shape the CSV and the XLSX are written from."""
    profit = review.get("profit") or {}
    yield "summary", ["field", "value"], ([k, cell(k.rsplit(".", 1)[-1], v)] for k, v in summary_rows(review, tz))
    yield "profit", ["field", "value"], ([k, cell(k, v)] for k, v in scalars(profit))
    products = iter(products)
    first = next(products, None)
    cols = product_columns(first)

    def product_rows() -> Iterator[list]:
        if first is None:
            return
        yield [cell(c, first.get(c)) for c in cols]
        for p in products:
            yield [cell(c, p.get(c)) for c in cols]
    yield "products", cols, product_rows()
    segments = flat_segments(review)
    seg_cols = table_columns(segments)
    yield "segments", seg_cols, ([cell(c, s.get(c)) for c in seg_cols] for s in segments)
    sources = [s for s in review.get("sources") or [] if isinstance(s, dict)]
    if sources:
        src_cols = table_columns(sources)
        yield "sources", src_cols, ([cell(c, s.get(c)) for c in src_cols] for s in sources)
    yield "timeline", ["minute", "time", *TIMELINE_FIELDS], (
        [m["minute"], when(m["minute"], tz), *(cell(f, m.get(f)) for f in TIMELINE_FIELDS)] for m in minutes(review))


# ---- CSV ---------------------------------------------------------------------------------------------------

class _Line:
    """A file-like that hands back what csv.writer wrote, a line at a time."""
    def __init__(self):
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s


def csv_chunks(review: dict, products: Iterable[dict], tz: str = "UTC") -> Iterator[str]:
    """The review as one CSV: its blocks one after another, each a header row and its rows, a blank line
    between them (a spreadsheet shows them stacked; a program splits on the blank lines). Starts with a BOM so
    that Excel reads the Chinese as UTF-8."""
    buf = _Line()
    w = csv.writer(buf, lineterminator="\r\n")
    yield "\ufeff"
    for i, (name, cols, rows) in enumerate(blocks(review, products, tz)):
        if i:
            yield "\r\n"
        w.writerow([f"[{name}]"])
        w.writerow(cols)
        n = 0
        for row in rows:
            w.writerow(row)
            n += 1
            if n % 2000 == 0:
                yield buf.text
                buf.text = ""
        yield buf.text
        buf.text = ""


# ---- XLSX --------------------------------------------------------------------------------------------------

def xlsx_bytes(review: dict, products: Iterable[dict], tz: str = "UTC") -> bytes:
    """One workbook, a sheet per block (summary and profit together), written in openpyxl's write-only mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    sheets: dict[str, object] = {}

    def xcell(ws, v):
        if not isinstance(v, str):
            return v
        if _ILLEGAL_XML.search(v):
            v = _ILLEGAL_XML.sub("", v)
        if v.startswith("'") and v[1:].startswith(FORMULA_START):
            v = v[1:]    # an XLSX string cell is never a formula: keep the viewer's text as written
        if not v.startswith("="):
            return v     # a plain value is cheaper than a cell object (most strings)
        c = WriteOnlyCell(ws, value=v)
        c.data_type = "s"   # openpyxl would make "=..." a formula
        return c

    for name, cols, rows in blocks(review, products, tz):
        sheet = "summary" if name in ("summary", "profit") else name
        ws = sheets.get(sheet)
        if ws is None:
            ws = sheets[sheet] = wb.create_sheet(sheet)
        else:
            ws.append([])
        ws.append([xcell(ws, f"[{name}]")])
        ws.append([xcell(ws, c) for c in cols])
        for row in rows:
            ws.append([xcell(ws, v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---- HTML --------------------------------------------------------------------------------------------------

def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round ticks from 0 covering `top`: steps of 1, 2 or 5 × 10^k (¥10,000 / ¥20,000, not ¥14,735)."""
    if not top or top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def time_ticks(t0: float, t1: float, count: int = 6) -> list[float]:
    """Round minute ticks (every 1, 2, 5, 10, 15, 30, 60… minutes) between t0 and t1: 4 to 8 labels."""
    span_min = max(1.0, (t1 - t0) / 60)
    step = next((s for s in (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360) if span_min / s <= count), 720) * 60
    first = math.ceil(t0 / step) * step
    return [t for t in range(int(first), int(t1) + 1, int(step))]


def _money(v) -> str:
    if v is None:
        return UNKNOWN
    return f"{'-' if v < 0 else ''}¥{abs(v):,.2f}"


def _short_money(v: float) -> str:
    return f"¥{v:,.0f}" if v >= 10 or v == 0 else f"¥{v:,.2f}"


def _num(v, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def timeline_svg(review: dict, tz: str, ghost: list[dict] | None = None, width: int = 900, height: int = 240) -> str:
    """GMV per minute as bars (left scale), online as a line (right scale), the baseline's online as a dashed
    line, alerts as red marks; round ticks on both scales and a label every few minutes."""
    rows = minutes(review)
    if not rows:
        return '<svg class="chart" role="img" viewBox="0 0 10 10" width="10" height="10"></svg>'
    ml, mr, mt, mb = 70, 56, 14, 30
    pw, ph = width - ml - mr, height - mt - mb
    t0, t1 = rows[0]["minute"], rows[-1]["minute"] + 60
    ghost = ghost or []
    gticks = nice_ticks(max(r.get("gmv") or 0 for r in rows))
    oticks = nice_ticks(max([r.get("online") or 0 for r in rows] + [g.get("online") or 0 for g in ghost]))
    gmax, omax = gticks[-1] or 1, oticks[-1] or 1

    def x(ts):
        return ml + (ts - t0) / (t1 - t0) * pw

    def yv(v, top):
        return mt + ph - (v or 0) / top * ph

    out = [f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}"><title>GMV / online per minute</title>']
    for v in gticks:
        y = yv(v, gmax)
        out.append(f'<line class="grid" x1="{ml}" x2="{width - mr}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text class="ax" x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">{html.escape(_short_money(v))}</text>')
    for v in oticks:
        out.append(f'<text class="ax on" x="{width - mr + 6}" y="{yv(v, omax) + 4:.1f}">{v:,.0f}</text>')
    step = pw / len(rows)
    for r in rows:
        y = yv(r.get("gmv"), gmax)
        out.append(f'<rect class="bar" x="{x(r["minute"]) + step * 0.15:.1f}" y="{y:.1f}" '
                   f'width="{max(1.0, step * 0.7):.1f}" height="{mt + ph - y:.1f}"/>')
    line = "".join(f'{"L" if i else "M"}{x(r["minute"]) + step / 2:.1f},{yv(r.get("online"), omax):.1f}'
                   for i, r in enumerate(rows))
    out.append(f'<path class="online" d="{line}"/>')
    if ghost:
        pts = [(t0 + g["minute_from_start"] * 60, g.get("online")) for g in ghost
               if t0 + g["minute_from_start"] * 60 < t1 and g.get("online") is not None]
        if pts:
            d = "".join(f'{"L" if i else "M"}{x(t) + step / 2:.1f},{yv(v, omax):.1f}' for i, (t, v) in enumerate(pts))
            out.append(f'<path class="ghost" d="{d}"><title>baseline</title></path>')
    for a in review.get("timeline") or []:
        if a.get("kind") == "alert" and isinstance(a.get("ts"), (int, float)) and t0 <= a["ts"] <= t1:
            out.append(f'<line class="alert" x1="{x(a["ts"]):.1f}" x2="{x(a["ts"]):.1f}" y1="{mt}" y2="{mt + ph}">'
                       f'<title>{html.escape(str(a.get("rule") or ""))}</title></line>')
    for ts in time_ticks(t0, t1):
        label = datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%H:%M")
        out.append(f'<text class="ax" x="{x(ts):.1f}" y="{height - 8}" text-anchor="middle">{label}</text>')
    out.append("</svg>")
    return "".join(out)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC",sans-serif;color:#1b1f24;background:#fff;
margin:24px auto;max-width:960px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a}table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f6f8fa;font-weight:600}.unknown{color:#9a6700;font-style:italic}.neg{color:#cf222e}
.kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:8px}
.kv div{border:1px solid #d0d7de;border-radius:6px;padding:6px 10px}.kv b{display:block;font-size:18px}
.chart .grid{stroke:#eaeef2}.chart .ax{font-size:11px;fill:#57606a}.chart .ax.on{fill:#0969da}
.chart .bar{fill:#e36209;opacity:.75}.chart .online{fill:none;stroke:#0969da;stroke-width:2}
.chart .ghost{fill:none;stroke:#6e7781;stroke-width:2;stroke-dasharray:6 4}.chart .alert{stroke:#cf222e;stroke-width:1.5}
.legend span{margin-right:16px}.legend i{display:inline-block;width:14px;height:4px;margin-right:4px;vertical-align:middle}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}
"""


def _kv(items: list[tuple[str, str, bool]]) -> str:
    return '<div class="kv">' + "".join(
        f'<div>{html.escape(label)}<b class="{"unknown" if unknown else ""}">{html.escape(value)}</b></div>'
        for label, value, unknown in items) + "</div>"


def _table(cols: list[str], rows: Iterable[list], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(
        f'<td class="unknown">{UNKNOWN}</td>' if v == UNKNOWN else f"<td>{html.escape(str(v))}</td>" for v in row)
        + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


PROFIT_LABELS = (("gmv", "GMV 成交金额"), ("refund_amount", "Refunds 退款"), ("net_gmv", "Net GMV 净成交"),
                 ("cost_of_goods", "Cost of goods 商品成本"), ("cost_coverage", "Cost coverage 成本覆盖"),
                 ("ad_spend", "Ad spend 投流消耗"), ("gross_profit", "Gross profit 毛利"),
                 ("gross_profit_known", "Goods margin, known costs 已知成本毛利"), ("roi", "ROI"),
                 ("break_even_roi", "Break-even ROI 保本ROI"))
TOTAL_LABELS = (("gmv", "GMV"), ("paid_orders", "Paid orders 成交单数"), ("buyers", "Buyers 买家"),
                ("viewers", "Viewers 观看人数"), ("peak_online", "Peak online 峰值在线"),
                ("avg_dwell_s", "Avg. dwell (s) 人均观看"), ("bounce_2s_rate", "2-s bounce 2秒跳出率"),
                ("gpm", "GPM (per 1,000 visits)"), ("cvr", "CVR 点击成交转化"))


def _fig(field: str, v) -> tuple[str, bool]:
    if v is None:
        return (UNKNOWN, True) if field in COST_FIELDS else ("—", False)
    if field in ("cost_coverage", "bounce_2s_rate", "cvr", "ctr"):
        return f"{v * 100:.1f}%", False
    if field in ("roi", "break_even_roi", "avg_dwell_s"):
        return f"{v:,.2f}", False
    if field in ("gmv", "refund_amount", "net_gmv", "cost_of_goods", "ad_spend", "gross_profit", "gross_profit_known",
                 "covered_gmv", "unknown_cost_gmv", "gpm"):
        return _money(v), False
    return _num(v), False


def html_report(review: dict, top_products: list[dict], tz: str = "UTC", baseline: dict | None = None) -> str:
    """One HTML file: totals, profit (unknown costs as unknown), the timeline chart (inline SVG), the top
    products, the segments and, when given, the comparison with the room's earlier sessions. No script and no
    link to anything outside the file; every text escaped."""
    t, p = review.get("totals") or {}, review.get("profit") or {}
    e = html.escape
    title = f"{review.get('room', '')} · {t.get('title') or ''} · {when(t.get('started'), tz)[:16]}"
    parts = [f"<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>复盘 Review · {e(str(review.get('room', '')))}</h1>",
             f'<p class="meta">{e(str(t.get("title") or ""))} · session {e(str(review.get("session", "")))} · '
             f'{e(when(t.get("started"), tz))} – {e(when(t.get("ended"), tz) or "running")} ({e(tz)})</p>',
             "<h2>Totals 总览</h2>", _kv([(label, *_fig(f, t.get(f))) for f, label in TOTAL_LABELS]),
             "<h2>Profit 利润</h2>",
             _kv([(label, *_fig(f, p.get(f))) for f, label in PROFIT_LABELS if f in p or f in COST_FIELDS])]
    if p.get("cost_coverage") is not None and p["cost_coverage"] < 1:
        parts.append(f'<p class="meta">Cost of goods and gross profit cover the products whose cost is known: '
                     f'{p["cost_coverage"] * 100:.1f}% of GMV. 成本仅含已知成本的商品。</p>')
    legend = ('<p class="legend"><span><i style="background:#e36209"></i>GMV / min</span>'
              '<span><i style="background:#0969da"></i>Online</span>'
              + ('<span><i style="background:repeating-linear-gradient(90deg,#6e7781 0 6px,transparent 6px 10px)">'
                 '</i>Baseline online (earlier sessions)</span>' if baseline else "")
              + '<span><i style="background:#cf222e"></i>Alert</span></p>')
    parts += ["<h2>Timeline 每分钟成交与在线</h2>", legend,
              timeline_svg(review, tz, (baseline or {}).get("baseline"))]
    if baseline and baseline.get("compare"):
        parts.append("<h2>Against earlier sessions 对比往期</h2>")
        parts.append(_table(["figure", "this session", "baseline", "change"],
                            [[c["metric"], _num(c["actual"]), _num(c["baseline"]),
                              "—" if c["change"] is None else f'{c["change"] * 100:+.1f}%']
                             for c in baseline["compare"]]))
    cols = [c for c in ("sku", "name", "price", "cost", "units", "gmv", "profit", "ctr", "cvr")
            if c in ("sku", "name", "cost") or any(c in r for r in top_products)]
    parts.append(f"<h2>Top products 商品 (top {len(top_products)} by GMV)</h2>")
    parts.append(_table(cols, ([_html_cell(c, r.get(c), tz) for c in cols] for r in top_products), "products"))
    segments = flat_segments(review)
    if segments:
        cols = [c for c in SEGMENT_COLUMNS if any(c in r for r in segments)]
        rows = [[_html_cell(c, seg.get(c), tz) for c in cols] for seg in segments[:200]]
        whole = dict(scalars({"room": review.get("session_room") or {}}))
        if whole:
            rows.append(["session 全场"] + [_html_cell(c, whole.get(c), tz) if c.startswith("room.") else ""
                                            for c in cols[1:]])
        parts.append("<h2>Segments 讲解 (each time a product was on stage; the room during it)</h2>")
        parts.append(_table([SEGMENT_LABELS.get(c, c) for c in cols], rows, "segments"))
    parts.append("</body></html>")
    return "".join(parts)


SEGMENT_COLUMNS = ("n", "name", "start", "seconds", "views", "clicks", "ctr", "cvr", "units", "gmv",
                   "room.avg_online", "room.bounce_2s_rate", "room.avg_dwell_s", "room.gpm")
SEGMENT_LABELS = {"n": "#", "start": "start 开始", "seconds": "length (s) 时长", "views": "views 曝光",
                  "clicks": "clicks 点击", "units": "units 件数", "room.avg_online": "online 平均在线",
                  "room.bounce_2s_rate": "2-s bounce 2秒跳出", "room.avg_dwell_s": "dwell (s) 人均时长",
                  "room.gpm": "GPM"}


def _html_cell(field: str, v, tz: str = "UTC") -> str:
    if v is None:
        return UNKNOWN if field in COST_FIELDS else "—"
    if isinstance(v, (int, float)) and (field in ("ctr", "cvr") or field.endswith("_rate")):
        return f"{v * 100:.1f}%"
    if field in ("start", "end", "started", "ended") and isinstance(v, (int, float)):
        return datetime.fromtimestamp(v, ZoneInfo(tz)).strftime("%H:%M:%S")
    if field in ("gmv", "price", "cost", "profit") and isinstance(v, (int, float)):
        return _money(v)
    return _num(v, 0 if field == "seconds" else 2)


def filename(review: dict, fmt: str) -> str:
    """`livewall-<room>-<session>.<fmt>`, ASCII only (room names are ASCII by the contract; a session id
    is cleaned the same way)."""
    clean = lambda s: re.sub(r"[^A-Za-z0-9_.-]", "_", str(s or ""))[:80]  # noqa: E731
    return f"livewall-{clean(review.get('room'))}-{clean(review.get('session'))}.{fmt}"
