"""The screens' clientside callbacks: each page's one live piece, the start of its JavaScript (assets/).

A screen's page (pages/) carries its configuration in a dcc.Store; once the layout is in the DOM, Dash calls
the screen's start function (window.dash_clientside.livewall.<start>) with it, and from then on everything
live happens in the browser: one websocket, frames applied in place.
"""
from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output

from components import assistant_layout, manager_layout, wall_layout

STARTS = (  # (the start function in assets/, the layout module holding the page's CONFIG_ID and BOOT_ID)
    ("startWall", wall_layout),
    ("startAssistant", assistant_layout),
    ("startManager", manager_layout),
)


def register(app: Dash) -> None:
    for start, layout in STARTS:
        app.clientside_callback(ClientsideFunction("livewall", start), Output(layout.BOOT_ID, "children"),
                                Input(layout.CONFIG_ID, "data"))
