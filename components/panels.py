"""The wall's panels below and beside the hero: on-stage product, funnel, sources, leaderboard, ads, re-run.

Rows the browser fills from a frame (products, suggestions, picks) are rendered here as a fixed number of
empty slots, so the layout never jumps and the browser only ever writes text.
"""
from __future__ import annotations

from dash import html

from components.header import Field
from components.i18n import T
from components.tiles import Metric

FUNNEL_STAGES = ("impressed", "entered", "product_viewers", "product_clickers", "orderers", "buyers")
SOURCES = ("recommend", "paid", "short_video", "follow", "search", "other")
SOURCE_LABEL = {"paid": "paid_src"}
BOARD_ROWS = 7
RERUN_ROWS = 3
BOARD_COLUMNS = (  # (CONTRACT product field, label, format)
    ("viewers", "col_viewers", "int"),
    ("clickers", "col_clickers", "int"),
    ("ctr", "col_ctr", "pct"),
    ("cvr", "col_cvr", "pct"),
    ("units", "col_units", "int"),
    ("gmv", "col_gmv", "money-tile"),   # one unit for the column (livewall-format.js)
    ("stock", "col_stock", "stock"),
)


def Panel(key: str, title: str, body, extra=None) -> html.Section:
    head = [html.H2(T(title), className="lw-panel-title")]
    if extra is not None:
        head.append(extra)
    return html.Section([html.Div(head, className="lw-panel-head"), body], className=f"lw-panel lw-{key}")


def OnStage() -> html.Div:
    """The product being presented now: what the control room is selling this minute."""
    return html.Div([
        html.Div([html.Span(T("on_stage"), className="lw-badge lw-badge-live"),
                  Field("onstage_name", "lw-onstage-name"),
                  html.Span(T("nothing_on_stage"), className="lw-onstage-none")], className="lw-onstage-head"),
        html.Div([
            Metric("products.price", "price", "lw-onstage-price"),
            html.Span([html.Span(T("stage_time")), " ", Metric("products.stage_seconds", "dur")],
                      className="lw-onstage-fact"),
            html.Span([html.Span(T("sold")), " ", Metric("products.units", "int")], className="lw-onstage-fact"),
            html.Span([html.Span(T("stock")), " ", Metric("products.stock", "stock")],
                      className="lw-onstage-fact lw-onstage-stock"),
        ], className="lw-onstage-facts"),
    ], className="lw-onstage", **{"data-sku": ""})


def Funnel() -> html.Section:
    rows = []
    for i, stage in enumerate(FUNNEL_STAGES):
        label = "funnel_buyers" if stage == "buyers" else stage
        rate = Metric(f"funnel.{stage}_rate", "pct", "lw-funnel-rate") if i else html.Span(className="lw-funnel-rate")
        rows.append(html.Div([
            html.Span(T(label), className="lw-funnel-label"),
            html.Div([html.Div(className="lw-bar-fill", **{"data-bar": f"funnel.{stage}"}),
                      Metric(f"funnel.{stage}", "int", "lw-bar-num")], className="lw-bar"),
            rate,
        ], className="lw-funnel-row", **{"data-stage": stage}))
    return Panel("funnel", "funnel", html.Div(rows, className="lw-funnel-rows"))


def Sources() -> html.Section:
    head = html.Div([html.Span(), html.Span(T("src_visits")), html.Span(T("src_gmv"))], className="lw-src-row lw-src-head")
    rows = [head]
    for src in SOURCES:
        rows.append(html.Div([
            html.Span(T(SOURCE_LABEL.get(src, src)), className="lw-src-label"),
            html.Div([html.Div(className="lw-bar-fill", **{"data-bar": f"sources.{src}.visits"}),
                      Metric(f"sources.{src}.visits", "int", "lw-bar-num")], className="lw-bar"),
            Metric(f"sources.{src}.gmv", "money-tile", "lw-src-gmv", place="wall-sources-gmv"),
        ], className="lw-src-row", **{"data-source": src}))
    split = html.Div([
        html.Span(T("paid_share"), className="lw-split-label"),
        html.Div([html.Div(className="lw-split-paid", **{"data-derived": "paid_gmv_share_bar"}),
                  html.Span("—", className="lw-split-num", **{"data-derived": "paid_gmv_share"})],
                 className="lw-split-bar"),
    ], className="lw-split")
    return Panel("sources", "sources", html.Div([html.Div(rows, className="lw-src-rows"), split]))


def Leaderboard() -> html.Section:
    head = html.Div([html.Span("#", className="lw-col-rank"), html.Span(T("product"), className="lw-col-name")]
                    + [html.Span(T(label), className=f"lw-col lw-col-{field}") for field, label, _ in BOARD_COLUMNS],
                    className="lw-board-row lw-board-head")
    rows = [head]
    for i in range(BOARD_ROWS):
        cells = [html.Span(str(i + 1), className="lw-col-rank"),
                 html.Span([html.Span(className="lw-stage-mark"), Field("products.name", "lw-board-name")],
                           className="lw-col-name")]
        cells += [Metric(f"products.{field}", fmt, f"lw-col lw-col-{field}",
                         place=f"wall-board-{field}" if fmt == "money-tile" else None)
                  for field, _label, fmt in BOARD_COLUMNS]
        rows.append(html.Div(cells, className="lw-board-row lw-board-slot", **{"data-sku": "", "data-slot": str(i)}))
    count = html.Span([Field("product_count", "lw-board-count"), " SKU"], className="lw-panel-extra")
    return Panel("board", "board", html.Div(rows, className="lw-board-rows"), extra=count)


def AdPanel() -> html.Section:
    """Spend, paid ROI (what the ROI target is about, coloured against it) and the room's overall ROI (organic GMV
    included, so secondary), and the latest suggestion: what it would change from what, how sure, and whether it
    reverses a recent decision or replaces figures shown before."""
    # paid ROI leads and is coloured against the target (in the panel's head); the overall ROI, organic GMV
    # included, is secondary and grey
    figures = html.Div([
        html.Div([html.Div(T("ad_spend"), className="lw-ad-label"), Metric("ad_spend", "money", "lw-ad-value")],
                 className="lw-ad-fig"),
        html.Div([html.Div(T("paid_roi"), className="lw-ad-label"),
                  Metric("paid_roi", "ratio", "lw-ad-value lw-paid-roi", judge="target_roi")],
                 className="lw-ad-fig", **{"data-vs-target": "paid_roi"}),
        html.Div([html.Div(T("roi_overall"), className="lw-ad-label"),
                  Metric("roi", "ratio", "lw-ad-value lw-roi-secondary")], className="lw-ad-fig"),
    ], className="lw-ad-figs")
    target = html.Span([html.Span(T("paid_roi_target")), " ", Metric("target_roi", "target")],
                       className="lw-panel-extra lw-vs-target")
    # the latest suggestion in three lines, as before it said what it changes: action (with its campaign, how likely
    # it pays off, whether its figures were updated, its state), what it changes from what, why
    suggestion = html.Div([
        html.Div([Field("sug_action", "lw-sug-action"), Field("sug_campaign", "lw-sug-campaign"),
                  Field("sug_confidence", "lw-sug-confidence"), Field("sug_updated", "lw-sug-updated"),
                  Field("sug_state", "lw-sug-state")], className="lw-sug-head lw-sug-line"),
        Field("sug_change", "lw-sug-change"),
        Field("sug_reverses", "lw-sug-reverses"),
        Field("sug_reason", "lw-sug-reason"),
        html.Div(T("no_suggestion"), className="lw-empty"),
    ], className="lw-sug", **{"data-empty": "1"})
    return Panel("ads", "ads", html.Div([figures, suggestion]), extra=target)


def RerunList() -> html.Section:
    rows = [html.Div([html.Span(str(i + 1), className="lw-rerun-rank"), Field("rerun_name", "lw-rerun-name"),
                      Field("rerun_reason", "lw-rerun-reason")], className="lw-rerun-row", **{"data-slot": str(i)})
            for i in range(RERUN_ROWS)]
    empty = html.Div(T("no_rerun"), className="lw-empty")
    return Panel("rerun", "rerun", html.Div(rows + [empty], className="lw-rerun-rows", **{"data-empty": "1"}))

