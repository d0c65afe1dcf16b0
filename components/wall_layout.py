"""The whole /wall page for one configuration: a single room (pinned or rotating) or the matrix of rooms.

The page carries its configuration in a dcc.Store; the browser reads it once, opens one websocket and from
then on only writes text, bar widths and chart points into the elements built here.
"""
from __future__ import annotations

from dash import dcc, html

from components.alerts import Banner, Footer, Ticker, ToastArea
from components.audience import EngageStrip
from components.charts import TrendChart
from components.header import MatrixHeader, RoomHeader
from components.i18n import T
from components.matrix import MatrixGrid
from components.panels import AdPanel, Funnel, Leaderboard, OnStage, RerunList, Sources
from components.tiles import HeroGmv, KpiStrip

CONFIG_ID = "wall-config"
BOOT_ID = "wall-boot"      # the output of the clientside start (Dash runs callbacks of new content by their outputs)
TREND_ID = "wall-trend"


def TrendPanel() -> html.Section:
    legend = html.Div([html.Span([html.I(className="lw-key lw-key-gmv"), html.Span(T("trend_gmv"))]),
                       html.Span([html.I(className="lw-key lw-key-online"), html.Span(T("trend_online"))]),
                       html.Span([html.I(className="lw-key lw-key-product"), html.Span(T("trend_product"))]),
                       html.Span([html.I(className="lw-key lw-key-alert"), html.Span(T("trend_alert"))]),
                       html.Span([html.I(className="lw-key lw-key-ghost"), html.Span(T("trend_ghost"))],
                                 className="lw-legend-ghost")],
                      className="lw-legend")
    return html.Section([html.Div([html.H2(T("trend"), className="lw-panel-title"), legend], className="lw-panel-head"),
                         html.Div(TrendChart(TREND_ID), className="lw-trend-body")], className="lw-panel lw-trend")


def RoomStage(rotating: bool) -> html.Div:
    """Everything about one room; `data-room` names the room shown and changes as the playlist turns."""
    return html.Div([
        RoomHeader(rotating, EngageStrip()),
        html.Div([HeroGmv(), OnStage()], className="lw-hero-col"),
        TrendPanel(),
        html.Div([AdPanel(), RerunList()], className="lw-side"),
        KpiStrip(),
        Funnel(),
        Sources(),
        Leaderboard(),
        ToastArea(),
        Footer(),
    ], className="lw-stage", **{"data-room": "", "data-state": "waiting"})


def MatrixStage() -> html.Div:
    footer = html.Footer(Ticker("alerts", "alerts", "all_clear"), className="lw-footer")
    return html.Div([MatrixHeader(), MatrixGrid(), ToastArea(), footer], className="lw-stage lw-stage-matrix")


def WallPage(config: dict) -> html.Div:
    """`config`: mode ("room", "rotate" or "matrix"), rooms (list, or None for every room), rotate (seconds),
    lang ("zh", "en" or None for the browser's), user (who has the page open)."""
    matrix = config["mode"] == "matrix"
    lang = config.get("lang") or "auto"
    return html.Div([
        dcc.Store(id=CONFIG_ID, data=config),
        html.Div(id=BOOT_ID, hidden=True),
        MatrixStage() if matrix else RoomStage(config["mode"] == "rotate"),
        Banner(),
    ], id="wall", className=f"lw-wall lang-{lang}", **{"data-mode": config["mode"], "data-conn": "connecting"})
