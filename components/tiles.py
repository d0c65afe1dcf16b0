"""Number pieces: a live number, a labelled stat, a KPI tile, the hero GMV.

`data-metric` is the CONTRACT section 2 name (dotted for nested figures: `windows.300.gmv`, `funnel.entered`,
`sources.paid.visits`); `data-fmt` tells the browser how to write it (see assets/livewall-format.js).
"""
from __future__ import annotations

from dash import html

from components.i18n import T

EMPTY = "—"


def Metric(name: str, fmt: str, className: str = "", place: str | None = None, scale: str | None = None,
           judge: str | None = None) -> html.Span:
    """A live number. Money joins a `place` (one unit for every element of that name: a column, the tiles) or
    follows the unit of the metric `scale`; `judge` names the target it is coloured against (livewall-dom.js)."""
    attrs = {"data-metric": name, "data-fmt": fmt}
    for key, value in (("data-place", place), ("data-scale", scale), ("data-judge", judge)):
        if value:
            attrs[key] = value
    return html.Span(EMPTY, className=f"lw-num {className}".strip(), **attrs)


def Stat(label: str, name: str, fmt: str, scale: str | None = None) -> html.Div:
    """A small labelled number: `近5分钟 ¥1.2万`."""
    return html.Div([html.Span(T(label), className="lw-stat-label"), Metric(name, fmt, "lw-stat-value", scale=scale)],
                    className="lw-stat")


def KpiTile(key: str, label: str, name: str, fmt: str, sub: list | None = None, note: str | None = None,
            tone: str = "", judge: str | None = None) -> html.Div:
    """One big number with its label; `sub` is a line of context (a denominator, a peak), `note` a caveat,
    `judge` the metric it is coloured against (a target)."""
    children = [html.Div(T(label), className="lw-kpi-label"), Metric(name, fmt, "lw-kpi-value", judge=judge)]
    if sub:
        children.append(html.Div(sub, className="lw-kpi-sub"))
    if note:
        children.append(html.Div(T(note), className="lw-kpi-note"))
    return html.Div(children, className=f"lw-kpi {tone}".strip(), **{"data-kpi": key})


def KpiStrip() -> html.Section:
    return html.Section([
        KpiTile("online", "online", "online", "int", tone="lw-accent-cyan",
                sub=[html.Span(T("peak")), " ", Metric("peak_online", "int")]),
        KpiTile("viewers", "viewers", "viewers", "int", sub=[Metric("visits", "int"), html.Span(T("visits"))]),
        KpiTile("avg_dwell", "avg_dwell", "avg_dwell_s", "dur"),
        KpiTile("bounce", "bounce", "bounce_2s_rate", "pct", note="bounce_note"),
        # the denominators themselves, not only their names (CONTRACT section 2: label the denominator); GPM is
        # per 1,000 of them, as its label says
        # money on tiles is compact (livewall-format.js: money-tile)
        KpiTile("gpm", "gpm_label", "gpm", "money-tile",
                sub=[html.Span(T("divided_by")), Metric("visits", "int"), html.Span(T("visits"))]),
        KpiTile("uv_value", "uv_value", "uv_value", "money-tile",
                sub=[html.Span(T("divided_by")), Metric("viewers", "int"), html.Span(T("viewers_unit"))]),
        KpiTile("orders", "orders", "orders", "int", sub=[Metric("paid_orders", "int"), " ", html.Span(T("paid"))]),
        KpiTile("buyers", "buyers", "buyers", "int", sub=[Metric("units", "int"), " ", html.Span(T("units"))]),
    ], className="lw-kpis")


def HeroGmv() -> html.Section:
    """GMV as the screen's one huge number (it counts up in the browser), with the recent pace and the money
    going back out under it."""
    return html.Section([
        html.Div(T("gmv"), className="lw-hero-label"),
        html.Div(EMPTY, className="lw-hero-value", **{"data-metric": "gmv", "data-fmt": "money-hero"}),
        # refunds and net GMV in the hero's own unit (one rule for the hero and the figures beside it)
        html.Div([Stat("last_1m", "windows.60.gmv", "money"), Stat("last_5m", "windows.300.gmv", "money"),
                  Stat("refunds", "refund_amount", "money-hero", scale="gmv"),
                  Stat("net_gmv", "net_gmv", "money-hero", scale="gmv")],
                 className="lw-hero-pace"),
    ], className="lw-hero")
