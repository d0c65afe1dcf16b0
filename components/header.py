"""The top band of the wall: which room, which session, how long it has run, and how fresh the data is.

Text the browser writes that is not a metric carries `data-field`; the freshness pill is the screen's answer to
"is this live?" and turns into a prominent data-age warning when frames stop.
"""
from __future__ import annotations

from dash import html

from components.i18n import T


# Fields whose text a viewer or a seller wrote (product names, session titles): dir="auto" isolates each for
# bidi (the browser's own `unicode-bidi: isolate` for [dir]), so a U+202E in a name reverses nothing around it.
VIEWER_TEXT = {"title", "streamer", "onstage_name", "products.name", "rerun_name"}


def Field(name: str, className: str, text: str = "") -> html.Span:
    extra = {"dir": "auto"} if name in VIEWER_TEXT else {}
    return html.Span(text, className=className, **{"data-field": name}, **extra)


def Freshness() -> html.Div:
    return html.Div([html.Span(className="lw-fresh-dot"), Field("fresh", "lw-fresh-text")], className="lw-fresh")


def Clock() -> html.Div:
    return html.Div(Field("clock", "lw-clock-text"), className="lw-clock")


def RotationProgress() -> html.Div:
    """Where the playlist is: `2 / 4 · 下一个 room-b`, with a bar that fills until the switch."""
    return html.Div([
        html.Div([Field("rotation", "lw-rot-pos"), html.Span(T("next"), className="lw-rot-next-label"),
                  Field("next_room", "lw-rot-next")], className="lw-rot-text"),
        html.Div(html.Div(className="lw-rot-fill"), className="lw-rot-bar"),
    ], className="lw-rotation")


def RoomHeader(rotating: bool, engage=None) -> html.Header:
    """`engage`: the interaction rates' strip (components/audience.py), beside the session's title."""
    return html.Header([
        html.Div([html.Span(className="lw-live-dot"), Field("room", "lw-room-name"),
                  Field("platform", "lw-platform")], className="lw-id"),
        html.Div([Field("title", "lw-title", "…"), Field("streamer", "lw-streamer")], className="lw-session"),
        engage,
        html.Div([html.Span(T("started_for"), className="lw-elapsed-label"), Field("elapsed", "lw-elapsed")],
                 className="lw-elapsed-box"),
        RotationProgress() if rotating else None,
        Freshness(),
        Clock(),
    ], className="lw-header")


def MatrixHeader() -> html.Header:
    return html.Header([
        html.Div([html.Span(className="lw-live-dot"), html.Span(T("matrix"), className="lw-room-name"),
                  Field("room_count", "lw-matrix-count"), html.Span(T("rooms"), className="lw-matrix-count-label")],
                 className="lw-id"),
        html.Span(T("bounce_footnote"), className="lw-footnote"),
        html.Div([html.Span(T("total_gmv"), className="lw-total-label"),
                  html.Span("—", className="lw-total-value", **{"data-total": "gmv"})], className="lw-total"),
        Freshness(),
        Clock(),
    ], className="lw-header lw-header-matrix")
