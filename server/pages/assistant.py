"""/assistant/<room>, the streamer assistant's tablet: the URL to a configuration and the page.

    /assistant/douyin-01            the room's tablet, in the browser's language
    ?lang=zh|en                     the language
    ?sound=1                        beep on critical alerts (off by default: the tablet stands beside the
                                    streamer's microphone, and a beep would go out on the live stream)

A room name that breaks the event format's rule gets a page saying so; a valid name with no data yet gets the
screen in its waiting state, which fills itself when the room's first frame arrives.
Everything live happens in the browser (assets/assistant.js): one websocket, frames applied in place.
"""
from __future__ import annotations

from urllib.parse import unquote

from dash import register_page

from server.pages import ROOM_RE, lang_of, one, page_config
from components.assistant_layout import AssistantPage, InvalidRoomPage

def assistant_config(room=None, lang=None, sound=None, **_other) -> dict | None:
    """The page's configuration, or None when `room` is not a valid room name."""
    room, lang, sound = map(one, (room, lang, sound))
    if not isinstance(room, str) or not ROOM_RE.match(room):
        return None
    return {
        "room": room,
        "lang": lang_of(lang),
        "sound": sound in ("1", "true", "on", "yes"),
    }


def _room(raw) -> str:
    # the path arrives as the browser sent it, percent-encoded: `bad%20room` is shown as `bad room`
    return unquote(raw) if isinstance(raw, str) else ""


def layout(room=None, **query):
    config = assistant_config(room=_room(room), **query)
    if config is None:
        return InvalidRoomPage(_room(room)[:200], lang_of(one(query.get("lang"))))
    return AssistantPage(page_config(config))


def title(room=None, **_other) -> str:
    # the tab's title names the room only when it is a real room name (it goes into the page's <head>)
    room = _room(room)
    return f"livewall · {room}" if ROOM_RE.match(room) else "livewall · assistant"


def register() -> None:
    register_page("assistant", path_template="/assistant/<room>", title=title, layout=layout)
