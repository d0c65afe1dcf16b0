"""Matrix mode: one tile per room with its key numbers, all rooms at once.

Rooms appear while the screen runs, so the grid starts empty and the browser clones the hidden template tile
for each room it hears of (setting `data-room` on the clone).
"""
from __future__ import annotations

from dash import html

from components.header import Field
from components.i18n import T
from components.tiles import Metric

TILE_STATS = (  # (CONTRACT name, label, format); money shares one unit across the tiles (a place)
    ("online", "t_online", "int"),
    ("viewers", "t_viewers", "int"),
    ("gpm", "t_gpm", "money-tile"),
    ("paid_roi", "t_paid_roi", "ratio"),
    ("paid_orders", "t_paid_orders", "int"),
    ("bounce_2s_rate", "t_bounce", "pct"),
)


def TileStat(name: str, label: str, fmt: str) -> html.Div:
    if name == "paid_roi":
        # paid ROI coloured against its target, the target beside it ("no target" when the session set none)
        value = html.Span([Metric(name, fmt, "lw-tile-stat-value", judge="target_roi"),
                           html.Span([" / ", Metric("target_roi", "target")], className="lw-vs-target")])
    else:
        value = Metric(name, fmt, "lw-tile-stat-value", place=f"tile-{name}" if fmt == "money-tile" else None)
    return html.Div([html.Span(T(label), className="lw-tile-stat-label"), value],
                    className="lw-tile-stat", **{"data-stat": name})


def MatrixTile() -> html.Div:
    stats = [TileStat(name, label, fmt) for name, label, fmt in TILE_STATS]
    # the sparkline beside the GMV, never under it, with what it plots and its scale (the top of the chart)
    spark = html.Div([html.Div([html.Span(T("t_spark")), " ", Field("spark_max", "lw-spark-max")],
                               className="lw-spark-label"), html.Div(className="lw-spark")], className="lw-spark-box")
    return html.Div([
        html.Div([html.Span(className="lw-live-dot"), Field("room", "lw-tile-room"), Field("platform", "lw-platform"),
                  Field("alerts", "lw-tile-alerts"), Field("fresh", "lw-tile-fresh")], className="lw-tile-head"),
        Field("title", "lw-tile-title"),
        html.Div([Metric("gmv", "money-tile", "lw-tile-gmv", place="tile-gmv"), spark], className="lw-tile-main"),
        html.Div(stats, className="lw-tile-stats"),
        html.Div([html.Span(T("on_stage"), className="lw-badge lw-badge-live"), Field("onstage_name", "lw-tile-stage-name")],
                 className="lw-tile-stage"),
    ], className="lw-tile", **{"data-template": "1"})


def MatrixGrid() -> html.Div:
    return html.Div([html.Div(MatrixTile(), className="lw-templates"), html.Div(className="lw-grid")],
                    className="lw-matrix")
