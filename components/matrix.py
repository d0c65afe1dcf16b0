"""Matrix mode: one tile per room with its key numbers, all rooms at once.

Rooms appear while the screen runs, so the grid starts empty and the browser clones the hidden template tile
for each room it hears of (setting `data-room` on the clone).
"""
from __future__ import annotations

from dash import html

from components.header import Field
from components.i18n import T
from components.tiles import Metric

TILE_STATS = (  # (CONTRACT name, label, format)
    ("online", "t_online", "int"),
    ("viewers", "t_viewers", "int"),
    ("gpm", "t_gpm", "money"),
    ("roi", "t_roi", "ratio"),
    ("paid_orders", "t_paid_orders", "int"),
    ("bounce_2s_rate", "t_bounce", "pct"),
)


def MatrixTile() -> html.Div:
    stats = [html.Div([html.Span(T(label), className="lw-tile-stat-label"), Metric(name, fmt, "lw-tile-stat-value")],
                      className="lw-tile-stat", **{"data-stat": name}) for name, label, fmt in TILE_STATS]
    return html.Div([
        html.Div([html.Span(className="lw-live-dot"), Field("room", "lw-tile-room"), Field("platform", "lw-platform"),
                  Field("alerts", "lw-tile-alerts"), Field("fresh", "lw-tile-fresh")], className="lw-tile-head"),
        Field("title", "lw-tile-title"),
        html.Div([Metric("gmv", "money-tile", "lw-tile-gmv"), html.Div(className="lw-spark")], className="lw-tile-main"),
        html.Div(stats, className="lw-tile-stats"),
        html.Div([html.Span(T("on_stage"), className="lw-badge lw-badge-live"), Field("onstage_name", "lw-tile-stage-name")],
                 className="lw-tile-stage"),
    ], className="lw-tile", **{"data-template": "1"})


def MatrixGrid() -> html.Div:
    return html.Div([html.Div(MatrixTile(), className="lw-templates"), html.Div(className="lw-grid")],
                    className="lw-matrix")
