"""/manager, the manager's browser link: every room side by side, a room's drill-down, ad-spend suggestions to
approve, alerts of every audience, and session reviews.

    /manager                      every room
    /manager?room=x               room x opened (the browser keeps this in the URL as rooms are opened)
    /manager?room=x&session=s     ... with the review of session s
    &lang=zh|en                   else the browser's language

Live figures arrive on the one websocket (assets/manager*.js); the page asks the server only when someone
clicks: a room's session list, a review, an approval, an acknowledgement.
"""
from __future__ import annotations

import re

from dash import register_page

from server.pages import ROOM_RE, lang_of, one, page_config
from components.manager_layout import ManagerPage

SESSION_RE = re.compile(r"^[A-Za-z0-9_.:@~-]{1,200}\Z")


def manager_config(room=None, session=None, lang=None, **_other) -> dict:
    room, session, lang = map(one, (room, session, lang))
    room = room if room and ROOM_RE.match(room) else None
    return {
        "room": room,
        "session": session if room and session and SESSION_RE.match(session) else None,
        "lang": lang_of(lang),
    }


def layout(**query):
    return ManagerPage(page_config(manager_config(**query)))


def register() -> None:
    register_page("manager", path="/manager", title="livewall · manager", layout=layout)
