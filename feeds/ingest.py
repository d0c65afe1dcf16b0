"""Accepting events: parse a body, judge each event alone, store the good ones durably and exactly once.

Storing is one Lua script per batch: for each event, SADD its id to the global id set and, only if the id is
new, XADD it to its room's stream. Both happen atomically, so a crash can never leave an id marked without
its event (which would lose it) or an event stored twice.
"""
from __future__ import annotations

import json

import msgspec
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from feeds.schema import Invalid, judge, judge_raw
from server.guard import identity
from settings import MAX_BODY_BYTES
from store import keys

STORE_LUA = """
local out = {}
local n = #ARGV / 3
for i = 0, n - 1 do
  local id, slot, payload = ARGV[i * 3 + 1], tonumber(ARGV[i * 3 + 2]), ARGV[i * 3 + 3]
  if redis.call('SADD', KEYS[1], id) == 1 then
    redis.call('XADD', KEYS[slot], '*', 'e', payload)
    out[i + 1] = 1
  else
    out[i + 1] = 0
  end
end
for k = 3, #KEYS do
  redis.call('SADD', KEYS[2], string.sub(KEYS[k], 5, -9))
end
return out
"""
CHUNK = 2000  # events per script call: long enough to amortize, short enough not to stall Redis


class BodyError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


Judged = tuple[str, str, bytes]   # (id, room, JSON to store)
_split = msgspec.json.Decoder(list[msgspec.Raw]).decode


def judge_body(body: bytes, ndjson: bool) -> tuple[list[Judged], list[dict]]:
    """Judge every event of a body on its own: (accepted in order, rejected with index and reason)."""
    if ndjson:
        return _judge_each([line for line in body.split(b"\n") if line.strip()], judge_raw)
    try:
        items = _split(body)
    except msgspec.ValidationError:
        raise BodyError(400, "body must be a JSON array of events (or NDJSON with Content-Type: "
                             "application/x-ndjson)") from None
    except msgspec.DecodeError as e:
        # Not strict JSON. Python's parser also reads NaN, Infinity and 1e999: such an event is then
        # rejected on its own ("must be a finite number") instead of failing the whole body.
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BodyError(400, f"body is not JSON: {e}") from None
        if not isinstance(value, list):
            raise BodyError(400, "body must be a JSON array of events") from None
        return _judge_each(value, judge)
    return _judge_each(items, judge_raw)


def _judge_each(items, judge_one) -> tuple[list[Judged], list[dict]]:
    good, rejected = [], []
    for i, item in enumerate(items):
        try:
            good.append(judge_one(item))
        except Invalid as e:
            rejected.append({"index": i, "error": str(e)})
    return good, rejected


def _script_args(events: list[Judged]) -> tuple[list[str], list]:
    streams: dict[str, int] = {}
    argv: list = []
    for eid, room, raw in events:
        slot = streams.setdefault(keys.events(room), len(streams) + 3)
        argv += (eid, slot, raw)
    return [keys.IDS, keys.ROOMS, *streams], argv


def store_sync(client, events: list[Judged]) -> list[bool]:
    """Store judged events; returns, per event, True if new and False if a duplicate."""
    script = client.register_script(STORE_LUA)
    out: list[bool] = []
    for start in range(0, len(events), CHUNK):
        ks, argv = _script_args(events[start:start + CHUNK])
        out += [bool(x) for x in script(keys=ks, args=argv)]
    return out


async def store_async(client, events: list[Judged]) -> list[bool]:
    script = client.register_script(STORE_LUA)
    out: list[bool] = []
    for start in range(0, len(events), CHUNK):
        ks, argv = _script_args(events[start:start + CHUNK])
        out += [bool(x) for x in await script(keys=ks, args=argv)]
    return out


def ingest_sync(client, events: list[dict]) -> dict:
    """Judge and store events made in this process (the simulator, tests), as POST /api/events would."""
    good, rejected = _judge_each([orjson.dumps(e) for e in events], judge_raw)
    flags = store_sync(client, good) if good else []
    return {"accepted": sum(flags), "duplicates": len(flags) - sum(flags), "rejected": rejected}


def _within(rooms: frozenset[str], good: list[Judged], rejected: list[dict]) -> tuple[list[Judged], list[dict]]:
    """A token scoped to rooms stores only their events; the others are rejected one by one, at their index."""
    taken = {r["index"] for r in rejected}
    indexes = [i for i in range(len(good) + len(taken)) if i not in taken]
    kept = []
    for i, item in zip(indexes, good):
        if item[1] in rooms:
            kept.append(item)
        else:
            rejected.append({"index": i, "error": f"this token may not send events for room {item[1]!r}"})
    return kept, sorted(rejected, key=lambda r: r["index"])


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyError(413, f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def may_ingest(who, token: str | None) -> bool:
    """CONTRACT section 3: an ingest token, or a signed-in admin; anyone when no ingest token is configured
    (the server then listens on loopback only). A foreign Origin was refused before (server/guard.py)."""
    if token is None:
        return True
    return who is not None and ("ingest" in who.scopes or (who.kind == "user" and who.role == "admin"))


def add_routes(server: FastAPI, redis_async, token: str | None) -> None:
    @server.post("/api/events")
    async def post_events(request: Request):
        who = identity(request)
        if not may_ingest(who, token):
            return _error(401 if who is None else 403,
                          "missing or wrong ingest token (Authorization: Bearer <token>)")
        try:
            body = await _read_body(request)
            good, rejected = judge_body(body, "ndjson" in request.headers.get("content-type", ""))
        except BodyError as e:
            return _error(e.status, e.reason)
        if who is not None and who.rooms is not None and "ingest" in who.scopes:
            good, rejected = _within(who.rooms, good, rejected)
        flags = await store_async(redis_async, good) if good else []
        accepted = sum(flags)
        return JSONResponse({"accepted": accepted, "duplicates": len(flags) - accepted, "rejected": rejected})
