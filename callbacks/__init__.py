"""The screens' clientside callbacks: each page's one live piece, the start of its JavaScript (assets/).

A screen's page (server/pages/) carries its configuration in a dcc.Store; once the layout is in the DOM, Dash calls
the screen's start function (window.dash_clientside.livewall.<start>) with it, and from then on everything
live happens in the browser: one websocket, frames applied in place.

The scripts load in the order of SCRIPTS, not Dash's alphabetical one: each file may use what the files above
it define, at load time (livewall-i18n.js sets up the `window.livewall` namespace that all others extend).
"""
from __future__ import annotations

from pathlib import Path

from dash import ClientsideFunction, Dash, Input, Output

from components import assistant_layout, manager_layout, wall_layout

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SCRIPTS = (
    # shared by every screen
    "livewall-i18n.js", "livewall-format.js", "livewall-dom.js", "livewall-user.js", "livewall-socket.js",
    "livewall-bars.js", "livewall-alerts.js", "livewall-screen.js",
    # /wall
    "wall-trend.js", "wall-stage.js", "wall-matrix.js", "wall.js",
    # /assistant/<room>
    "assistant-actions.js", "assistant.js",
    # /manager
    "manager-rooms.js", "manager-audience.js", "manager-detail.js", "manager-timeline.js", "manager-review.js", "manager-dates.js",
    "manager-suggestions.js", "manager-alerts.js", "manager-links.js", "manager-connectors.js", "manager.js",
)
STARTS = (  # (the start function in assets/, the layout module holding the page's CONFIG_ID and BOOT_ID)
    ("startWall", wall_layout),
    ("startAssistant", assistant_layout),
    ("startManager", manager_layout),
)


def scripts(app: Dash) -> list[str]:
    """SCRIPTS' URLs, each with its modification time, as Dash marks its own assets: a changed file is fetched
    again, not taken from a browser's cache."""
    unlisted = sorted({p.name for p in ASSETS.glob("*.js")} - set(SCRIPTS))
    if unlisted:
        raise RuntimeError(f"assets {unlisted} are not in callbacks.SCRIPTS: add each where it loads")
    return [f"{app.get_asset_url(name)}?m={int((ASSETS / name).stat().st_mtime)}" for name in SCRIPTS]


def register(app: Dash) -> None:
    # Dash would load every .js in assets/ by name; these load as external scripts instead, in SCRIPTS' order.
    app.config.assets_ignore = r"\.js$"
    app.config.external_scripts = [*app.config.external_scripts, *scripts(app)]
    for start, layout in STARTS:
        app.clientside_callback(ClientsideFunction("livewall", start), Output(layout.BOOT_ID, "children"),
                                Input(layout.CONFIG_ID, "data"))
