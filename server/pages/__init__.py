"""The screens' pages: one module per screen in this package, each with its path, its URL parameters read
into the page config, and its layout; `register()` registers them all with Dash's page router. What runs in
the browser is wired in callbacks/ (the clientside starts and the scripts, in order).

Modules are found, not listed, so a new screen is one new file here (and its line in callbacks/).
"""
from __future__ import annotations

import importlib
import pkgutil
from dash import get_app, html, register_page

from components.i18n import TEXT
from feeds.schema import ROOM_PATTERN, ROOM_RE  # noqa: F401 - the screens' check of a room name, the events' rule
from insights.risk import RuleBook, params
from server.auth import ROLES
from settings import ENDED_GRACE_MINUTES, SCREEN_STALE_S

RULES = RuleBook()   # rules.yaml (and LIVEWALL_RULES laid over it), read again when it changes
_ended_grace_s = ENDED_GRACE_MINUTES * 60   # the command line's, once register() is given it

SCREENS = (  # (path, its label in components/i18n.py) for the home page
    ("/wall", "home_wall"),
    ("/wall?mode=matrix", "home_matrix"),
    ("/assistant/douyin-01", "home_assistant"),
    ("/manager", "home_manager"),
    ("/api/rooms", "home_api"),
)


def one(value):
    """A query parameter given twice arrives as a list; the last one wins, as in most web servers."""
    return value[-1] if isinstance(value, list) else value


def lang_of(value) -> str | None:
    """`zh` or `en` from ?lang=, else None: the browser's language decides."""
    lang = (value or "").lower()[:2] if isinstance(value, str) else ""
    return lang if lang in ("zh", "en") else None


def user() -> dict | None:
    """Who is opening the page (the signed-in identity the middleware resolved), for the page config: the
    screen shows the name and offers only what the role may do. None outside a request (a config in a test)."""
    try:
        who = getattr(get_app().backend.request_adapter().context, "identity", None)
    except RuntimeError:
        return None
    if who is None:
        return None
    return {"name": who.name, "role": who.role, "rooms": sorted(who.rooms) if who.rooms is not None else None}


def constants() -> dict:
    """What the browser must agree on with Python, from its one source here, for every screen's page config:
    the JavaScript holds no copy."""
    return {
        "stale_s": SCREEN_STALE_S,
        "low_stock": params(RULES.current(), "", "stock_low")["max_stock"],   # the stock_low rule's line
        "roles": list(ROLES),                                                 # lowest first
        "room_re": ROOM_PATTERN.removesuffix(r"\Z") + "$",                  # JavaScript's $ is Python's \Z
        "ended_grace_s": _ended_grace_s,   # an ended room leaves the wall's rotation and matrix after this
    }


def page_config(config: dict) -> dict:
    """A screen's configuration from its URL, with who opens it and the constants: the page config."""
    return {**config, "user": user(), "constants": constants()}


def home() -> html.Div:
    links = [html.Li([html.A(path, href=path), html.Span(" {} / {}".format(*TEXT[key]))]) for path, key in SCREENS]
    return html.Div([html.H1("livewall"), html.Ul(links)], className="lw-home")


def register(ended_grace_minutes: float = ENDED_GRACE_MINUTES) -> None:
    global _ended_grace_s
    _ended_grace_s = ended_grace_minutes * 60
    register_page("home", path="/", title="livewall", layout=home)
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{module}").register()
