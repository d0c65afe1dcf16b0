"""/wall, the control-room big screen: URL parameters to a configuration and the page.

    /wall?room=x                  one room, pinned
    /wall?rooms=a,b,c&rotate=15   a playlist: one room at a time, switching every 15 s
    /wall?rooms=a,b,c             the matrix of those rooms (several rooms and no rotation asked)
    /wall?mode=matrix             the matrix of every room
    /wall                         every room, rotating every 20 s (new rooms join the playlist as they appear)
    &lang=zh|en                   else the browser's language

Everything live happens in the browser (assets/wall*.js): one websocket, frames applied in place.
"""
from __future__ import annotations

from dash import register_page

from server.pages import ROOM_RE, lang_of, one, page_config
from components.wall_layout import WallPage

DEFAULT_ROTATE_S = 20.0
MIN_ROTATE_S = 2.0


def _rotate_seconds(raw) -> float | None:
    try:
        s = float(raw)
    except (TypeError, ValueError):
        return None
    return max(MIN_ROTATE_S, s) if s == s and s != float("inf") else None


def wall_config(room=None, rooms=None, rotate=None, mode=None, lang=None, **_other) -> dict:
    room, rooms, rotate, mode, lang = map(one, (room, rooms, rotate, mode, lang))
    names = [room] if room else list(dict.fromkeys((rooms or "").split(",")))
    names = [n for n in names if ROOM_RE.match(n)]
    seconds = _rotate_seconds(rotate)
    if mode == "matrix":
        chosen = "matrix"
    elif len(names) == 1:
        chosen = "room"
    elif names and seconds is None and mode != "rotate":
        chosen = "matrix"
    else:
        chosen = "rotate"
    return {
        "mode": chosen,
        "rooms": names or None,
        "rotate": seconds or DEFAULT_ROTATE_S,
        "lang": lang_of(lang),
    }


def layout(**query):
    return WallPage(page_config(wall_config(**query)))


def register() -> None:
    register_page("wall", path="/wall", title="livewall · wall", layout=layout)
