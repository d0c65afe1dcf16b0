"""Every message livewall sends to screens, declared once (msgspec, as feeds/schema.py declares events).

A screen's websocket (`/ws`) carries JSON objects told apart by `kind`; the same bytes travel Redis pub/sub
between the producers and the web processes, which forward them unparsed:

    kind      from                                  via                         fields
    hello     the hub, on connect                   the socket                  server_time (wall clock, s)
    frame     the engine, per room and tick         keys.frames(room); also     room, platform, updated,
              (also the stored snapshot)            keys.snapshot(room)         metrics, products,
                                                                                product_count, series, comments
    insight   the ads and re-run jobs, the          keys.NOTICE_CHANNEL         room, suggestions,
              suggestion routes, the hub on connect                             recommendations
    alerts    the hub, on connect                   the socket                  alerts (recent, newest first)
    alert     the risk job, the acknowledge route   keys.NOTICE_CHANNEL         alert (the record)
    source    the hub, when Redis stops/answers     the socket                  ok
    resync    the hub, after a reconnect            the socket                  (none): ask again for everything

Besides these, a screen sends the text "resync" (`RESYNC_REQUEST`) or a ping, and keys.REVOKED_CHANNEL
carries the bare name of a revoked identity (not JSON: `revoked`, `revoked_name`).

This module sits under store/ so that engine/, insights/ and server/ all use it without importing upward.
"""
from __future__ import annotations

import msgspec
import orjson
from msgspec import Struct

RESYNC_REQUEST = "resync"   # what a screen sends to be greeted again


class _Message(Struct, tag_field="kind"):
    pass


class Hello(_Message, tag="hello"):
    server_time: float   # so a screen can tell how old data is without trusting its own clock
    rooms: list | None = None   # the rooms that exist and the socket may read (None: unknown, Redis away), so a
                                # screen opened on a misspelt room can say so and offer the real ones


class Frame(_Message, tag="frame"):
    """A room's whole current state (each frame is complete: a screen may skip any but the latest). The
    defaults only let a reader take a partial snapshot (written by hand, or by an older version)."""
    room: str = ""
    platform: str | None = None
    updated: float | None = None      # wall clock of the engine's write
    metrics: dict = {}                # CONTRACT section 2, plus room, platform, title, ...
    products: list = []               # the leaders, and whatever is on stage
    product_count: int = 0
    series: list = []                 # the last minutes
    comments: list = []               # the latest {"ts", "user", "text"}


class Insight(_Message, tag="insight"):
    room: str
    suggestions: list
    recommendations: list


class Alerts(_Message, tag="alerts"):
    alerts: list


class Alert(_Message, tag="alert"):
    alert: dict


class Source(_Message, tag="source"):
    ok: bool


class Resync(_Message, tag="resync"):
    pass


def encode(msg: _Message) -> bytes:
    # orjson over the struct's fields: the bytes the dicts made before (orjson's float format too), and a
    # frame costs no more than it did (msgspec's own encoder takes ~1.5x as long on a 15 KB frame)
    return orjson.dumps({"kind": msg.__struct_config__.tag, **msgspec.structs.asdict(msg)})


_frame = msgspec.json.Decoder(Frame).decode
_notice = msgspec.json.Decoder(Insight | Alert).decode
_list = msgspec.json.Decoder(list).decode

SOURCE_DOWN = encode(Source(ok=False)).decode()
SOURCE_UP = encode(Source(ok=True)).decode()
RESYNC = encode(Resync()).decode()


def hello(server_time: float, rooms: list[str] | None = None) -> str:
    if rooms is None:   # the greeting as it was before screens were told the rooms
        return orjson.dumps({"kind": "hello", "server_time": server_time}).decode()
    return encode(Hello(server_time, rooms)).decode()


def insight(room: str, suggestions: bytes | None, recommendations: bytes | None) -> bytes:
    """From the two lists as stored (keys.suggestions, keys.recommendations); None for one not written yet."""
    return encode(Insight(room, _list(suggestions or b"[]"), _list(recommendations or b"[]")))


def alerts(records: list[dict]) -> str:
    return encode(Alerts(records)).decode()


def alert(record: dict) -> bytes:
    return encode(Alert(record))


def read_frame(blob: bytes | str) -> Frame:
    return _frame(blob)


def read_frame_dict(blob: bytes | str) -> dict:
    """A frame as a plain dict, for code that reads it by key (the risk rules)."""
    return msgspec.structs.asdict(_frame(blob))


def notice_room(data: bytes | str) -> str | None:
    """The room a notice (insight or alert) is about; None for one about no room (a system alert)."""
    msg = _notice(data)
    return msg.room if isinstance(msg, Insight) else msg.alert.get("room")


def revoked(name: str) -> str:
    return name


def revoked_name(data: bytes) -> str:
    return data.decode()
