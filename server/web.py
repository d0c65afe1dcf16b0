"""What every route module needs around HTTP: JSON replies, errors (CONTRACT section 3: `{"error": ...}` with
a 4xx, or 503 while the store is away), who acted, query parameters and JSON bodies. The routes themselves
stay thin: they check who may do it (server/guard.py) and call the action where it lives (insights/, ...)."""
from __future__ import annotations

import orjson
from fastapi import Request
from fastapi.responses import Response

from feeds.schema import ROOM_RE
from server.guard import identity, json_error as error
from settings import RETRY_AFTER_S
from store import keys

def json(obj, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def unavailable(reason: str) -> Response:
    """503 while Redis cannot be reached or answers too slowly: try again shortly."""
    return error(503, f"data store unavailable: {reason}", {"Retry-After": str(RETRY_AFTER_S)})


def who_acted(request: Request) -> str:
    """The signed-in identity's name: never a name taken from the request (CONTRACT section 3)."""
    return identity(request).name


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """A query parameter that is an integer from lo to hi; ValueError with the reason otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ValueError(f"`{name}` must be an integer from {lo} to {hi}")
    return int(raw)


class BadBody(ValueError):
    pass


async def body(request: Request) -> dict:
    """The JSON object sent (the middleware has refused any other content type); BadBody otherwise."""
    try:
        out = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadBody("body is not JSON") from None
    if not isinstance(out, dict):
        raise BadBody("body must be a JSON object")
    return out


async def known_room(r, room: str) -> bool:
    """A room in a path names a room the engine has written (else 404)."""
    return bool(ROOM_RE.match(room)) and bool(await r.exists(keys.snapshot(room)))
