"""The per-minute trend: GMV bars and the online line, with markers where products changed and alerts fired.

Traces 0 and 1 hold the closed minutes and only ever grow (Plotly.extendTraces with maxPoints); traces 2 and 3
hold the minute still in progress, restyled in place. Markers are layout shapes. SVG traces only: a page gets
8-16 WebGL contexts at most and a wall may show many charts.
"""
from __future__ import annotations

from dash import dcc

GMV_COLOR = "#ffb020"
ONLINE_COLOR = "#38d9f5"
GHOST_COLOR = "rgba(201,211,230,0.6)"
GRID = "rgba(255,255,255,0.08)"
TEXT = "#c9d3e6"
BASE_FONT_PX = 18       # at 1920x1080; the browser scales the chart's fonts with the screen
MAX_POINTS = 60         # minutes kept on the chart, as many as a frame carries


def trend_figure() -> dict:
    # a minute's bar is 45 s wide (ms on a date axis): left to itself, Plotly makes a lone first bar a sliver
    bar = {"type": "bar", "x": [], "y": [], "yaxis": "y", "marker": {"color": GMV_COLOR}, "hoverinfo": "skip",
           "width": 45_000}
    line = {"type": "scatter", "mode": "lines", "x": [], "y": [], "yaxis": "y2", "hoverinfo": "skip",
            "line": {"color": ONLINE_COLOR, "width": 4, "shape": "spline", "smoothing": 0.6}}
    return {
        "data": [
            {**bar, "name": "gmv"},
            {**line, "name": "online"},
            {**bar, "name": "gmv-now", "marker": {"color": GMV_COLOR, "opacity": 0.45}},
            {**line, "name": "online-now", "line": {**line["line"], "dash": "dot"}},
            # the online of the room's earlier sessions at the same minute from the start (insights/baseline.py)
            {**line, "name": "online-baseline", "line": {"color": GHOST_COLOR, "width": 3, "dash": "dash"}},
        ],
        "layout": {
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"color": TEXT, "size": BASE_FONT_PX},
            "margin": {"l": 80, "r": 70, "t": 12, "b": 40},
            "showlegend": False,
            # from the first minute to the one in progress; a young session's few minutes get ticks under a minute
            # apart, which carry seconds rather than one "HH:MM" twice. No labels before the first frame: an
            # empty date axis would read "00:00 00:00 …"
            "xaxis": {"type": "date", "tickformat": "%H:%M", "gridcolor": GRID, "showline": False,
                      "nticks": 8, "fixedrange": True, "showticklabels": False,
                      "tickformatstops": [{"dtickrange": [None, 60_000], "value": "%H:%M:%S"},
                                          {"dtickrange": [60_000, None], "value": "%H:%M"}]},
            "yaxis": {"gridcolor": GRID, "zeroline": False, "rangemode": "tozero", "fixedrange": True,
                      "tickfont": {"color": GMV_COLOR}, "tickprefix": "¥", "tickformat": "~s", "nticks": 5,
                      # before the first sale (or viewer) an empty axis would tick 0.5 as "500m"
                      "autorangeoptions": {"include": [0, 10]}},
            "yaxis2": {"overlaying": "y", "side": "right", "showgrid": False, "zeroline": False,
                       "rangemode": "tozero", "fixedrange": True, "tickfont": {"color": ONLINE_COLOR},
                       "tickmode": "auto", "nticks": 5, "tickformat": "~s",
                       "autorangeoptions": {"include": [0, 10]}},
            "shapes": [],
            "annotations": [],
        },
    }


def TrendChart(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=trend_figure(), className="lw-trend-graph",
                     config={"staticPlot": True, "responsive": True, "displayModeBar": False},
                     style={"height": "100%", "width": "100%"})
