"""Where alerts and the room's voice show: the toast stack, the alert ticker, the comment ticker, and the
banners that say the screen is not live (socket reconnecting, data old).

Toasts and ticker items are built by the browser from alert messages (assets/livewall-alerts.js); here are only
their containers.
"""
from __future__ import annotations

from dash import html

from components.header import Field
from components.i18n import T


def ToastArea() -> html.Div:
    """The alert lane: a place of the page's own, in its flow (a row of the wall's grid, a strip under the
    manager's header, a panel of the tablet), so a toast never lies over a live number (CONTRACT section 5)."""
    return html.Div(className="lw-toasts")


def Ticker(key: str, label: str, empty: str | None = None) -> html.Div:
    return html.Div([
        html.Span(T(label), className="lw-ticker-label"),
        html.Div([html.Div(className="lw-ticker-track"),
                  html.Span(T(empty), className="lw-ticker-empty") if empty else None], className="lw-ticker-window"),
    ], className=f"lw-ticker lw-ticker-{key}")


def Footer() -> html.Footer:
    return html.Footer([Ticker("alerts", "alerts", "all_clear"), Ticker("comments", "comments")],
                       className="lw-footer")


def Banner() -> html.Div:
    """Shown over everything while the socket reconnects or the shown room's data is old."""
    return html.Div(Field("banner", "lw-banner-text"), className="lw-banner")
