"""Accepting events: parse a body, judge each event alone, store the good ones durably and exactly once.

On one Redis, storing is one Lua script per batch: for each event, SADD its id to the global id set and, only
if the id is new, XADD it to its room's stream. Both happen atomically, so a crash can never leave an id marked
without its event (which would lose it) or an event stored twice.

On a Redis Cluster no script may span slots, so a batch is stored in two idempotent steps (README, "Exactly
once on a cluster"): (a) each id is claimed for its room in its id shard (`keys.id_shard`), where a claim by
another room makes it a duplicate; (b) in the room's own slot, one script adds the id to the room's id set and,
only if it is new there, XADDs the event. Each step is one pipeline per batch, and both may be run again at
will, which is what a resend after a crash does.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import re

import orjson
import redis
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from feeds.jsonscan import NotAnArray, array_items
from feeds.schema import MAX_NESTING, Invalid, Malformed, judge_raw
from server import web
from server.guard import identity
from settings import MAX_BODY_BYTES, WEB_REDIS_TIMEOUT_S
from store import keys
from store.connect import clustered

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
CLAIM_LUA = """
local out = {}
for i = 1, #ARGV, 2 do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if not owner then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    out[#out + 1] = 1
  elseif owner == ARGV[i + 1] then
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""
ROOM_LUA = """
local out = {}
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[1], '*', 'e', ARGV[i + 1])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""
log = logging.getLogger("livewall.ingest")
CHUNK = 2000  # events per script call: long enough to amortize, short enough not to stall Redis


class BodyError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


Judged = tuple[str, str, bytes]   # (id, room, JSON to store)
MAX_EVENTS = 10_000   # events in one body (CONTRACT section 1); blank NDJSON lines aside
_LINE = re.compile(rb"^[ \t\r\x0b\x0c]*[^ \t\r\n\x0b\x0c]", re.M)   # a line that is not blank


def judge_body(body: bytes, ndjson: bool) -> tuple[list[Judged], list[dict]]:
    """Judge every event of a body on its own: (accepted in order, rejected with index and reason).

    Events are counted before any is parsed, so what a body costs (and its reply) stays proportional to
    what a real batch may hold, whatever was sent."""
    if ndjson:
        if sum(1 for _ in itertools.islice(_LINE.finditer(body), MAX_EVENTS + 1)) > MAX_EVENTS:
            raise BodyError(413, _too_many())
        return _judge_each([line for line in body.split(b"\n") if line.strip()])
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BodyError(400, f"body is not valid UTF-8 (byte {e.start})") from None
    try:
        n, items = array_items(body, MAX_EVENTS)
    except NotAnArray:
        raise BodyError(400, "body must be a JSON array of events (or NDJSON with Content-Type: "
                             "application/x-ndjson)") from None
    if n > MAX_EVENTS:
        raise BodyError(413, _too_many(n))
    for i, (start, end, depth) in enumerate(items):
        if depth > MAX_NESTING and body[start:end].lstrip()[:1] != b"{":
            # not an event nested too deep (that one is rejected alone) but the body's own structure
            raise BodyError(400, f"body is not JSON we read: element {i} nests deeper than {MAX_NESTING} levels")
    return _judge_each([body[start:end].strip() for start, end, _depth in items], in_array=True)


def _too_many(n: int | None = None) -> str:
    return f"more than {MAX_EVENTS} events in one body" + (f" ({n})" if n else "") + "; nothing was stored"


def _judge_each(items, in_array: bool = False) -> tuple[list[Judged], list[dict]]:
    """`in_array`: text that is not JSON makes the whole body not JSON (an NDJSON line is rejected alone)."""
    good, rejected = [], []
    for i, item in enumerate(items):
        try:
            good.append(judge_raw(item))
        except Malformed as e:
            if in_array:
                raise BodyError(400, f"body is not JSON: element {i}: {e}") from None
            rejected.append({"index": i, "error": str(e)})
        except Invalid as e:
            rejected.append({"index": i, "error": str(e)})
        except Exception as e:  # noqa: BLE001 - whatever goes wrong judging one event is that event's reason
            log.warning("judging event %d failed: %r", i, e)
            rejected.append({"index": i, "error": f"could not be judged ({type(e).__name__})"})
    return good, rejected


def _chunks(events: list[Judged]):
    """The script's (keys, args) for each chunk of events: the one shape both callers below send."""
    for start in range(0, len(events), CHUNK):
        streams: dict[str, int] = {}
        argv: list = []
        for eid, room, raw in events[start:start + CHUNK]:
            slot = streams.setdefault(keys.events(room), len(streams) + 3)
            argv += (eid, slot, raw)
        yield [keys.IDS, keys.ROOMS, *streams], argv


def _claims(events: list[Judged]) -> dict[str, tuple[list[int], list]]:
    """Step (a)'s calls: id shard -> (indexes of the events, CLAIM_LUA's args)."""
    out: dict[str, tuple[list[int], list]] = {}
    for i, (eid, room, _raw) in enumerate(events):
        idx, argv = out.setdefault(keys.id_shard(eid), ([], []))
        idx.append(i)
        argv += (eid, room)
    return out


def _claim_calls(pipe, events: list[Judged]) -> list[list[int]]:
    """Queue step (a) on a cluster pipeline, the rooms set beside it (before any event of a room is stored,
    so that a crash can never leave a stored room unlisted); returns the event indexes of each call."""
    order = []
    for shard, (idx, argv) in _claims(events).items():
        pipe.execute_command("EVAL", CLAIM_LUA, 1, shard, *argv)
        order.append(idx)
    pipe.sadd(keys.ROOMS, *{room for _eid, room, _raw in events})
    return order


def _room_calls(pipe, events: list[Judged], claimed: list[bool]) -> list[list[int]]:
    """Queue step (b): one script per room in the room's slot, over the events claimed for it."""
    by_room: dict[str, tuple[list[int], list]] = {}
    for i, (eid, room, raw) in enumerate(events):
        if claimed[i]:
            idx, argv = by_room.setdefault(room, ([], []))
            idx.append(i)
            argv += (eid, raw)
    order = []
    for room, (idx, argv) in by_room.items():
        pipe.execute_command("EVAL", ROOM_LUA, 2, keys.events(room), keys.room_ids(room), *argv)
        order.append(idx)
    return order


def _spread(n: int, order: list[list[int]], replies: list) -> list[bool]:
    out = [False] * n
    for idx, flags in zip(order, replies):
        for i, flag in zip(idx, flags):
            out[i] = bool(flag)
    return out


def claim_sync(client, events: list[Judged]) -> list[bool]:
    """Step (a) alone on a cluster: which events are this room's to store. Stores nothing (the tests use it to
    stand for a crash between the two steps)."""
    with client.pipeline(transaction=False) as pipe:
        order = _claim_calls(pipe, events)
        return _spread(len(events), order, pipe.execute()[:-1])


def _cluster_store_sync(client, events: list[Judged]) -> list[bool]:
    out: list[bool] = []
    for start in range(0, len(events), CHUNK):
        chunk = events[start:start + CHUNK]
        claimed = claim_sync(client, chunk)
        with client.pipeline(transaction=False) as pipe:
            order = _room_calls(pipe, chunk, claimed)
            out += _spread(len(chunk), order, pipe.execute())
    return out


async def _cluster_store_async(client, events: list[Judged]) -> list[bool]:
    out: list[bool] = []
    for start in range(0, len(events), CHUNK):
        chunk = events[start:start + CHUNK]
        async with asyncio.timeout(WEB_REDIS_TIMEOUT_S):
            async with client.pipeline(transaction=False) as pipe:
                order = _claim_calls(pipe, chunk)
                claimed = _spread(len(chunk), order, (await pipe.execute())[:-1])
            async with client.pipeline(transaction=False) as pipe:
                order = _room_calls(pipe, chunk, claimed)
                out += _spread(len(chunk), order, await pipe.execute())
    return out


def store_sync(client, events: list[Judged]) -> list[bool]:
    """Store judged events; returns, per event, True if new and False if a duplicate."""
    if clustered(client):
        return _cluster_store_sync(client, events)
    script = client.register_script(STORE_LUA)
    return [bool(x) for ks, argv in _chunks(events) for x in script(keys=ks, args=argv)]


async def store_async(client, events: list[Judged]) -> list[bool]:
    """As store_sync, for the web process; a chunk that takes longer than WEB_REDIS_TIMEOUT_S in all
    (reconnecting included) raises TimeoutError, and may still be stored when a stalled Redis wakes up."""
    if clustered(client):
        return await _cluster_store_async(client, events)
    script = client.register_script(STORE_LUA)
    out: list[bool] = []
    for ks, argv in _chunks(events):
        async with asyncio.timeout(WEB_REDIS_TIMEOUT_S):
            out += [bool(x) for x in await script(keys=ks, args=argv)]
    return out


def ingest_sync(client, events: list[dict]) -> dict:
    """Judge and store events made in this process (the simulator, tests), as POST /api/events would."""
    good, rejected = _judge_each([orjson.dumps(e) for e in events])
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
            return web.error(401 if who is None else 403,
                          "missing or wrong ingest token (Authorization: Bearer <token>)")
        try:
            body = await _read_body(request)
            # in a worker thread: judging a big body takes a while, and /healthz and the other requests
            # of this process must not wait behind it (the numpy scan lets go of the GIL)
            good, rejected = await run_in_threadpool(judge_body, body,
                                                     "ndjson" in request.headers.get("content-type", ""))
        except BodyError as e:
            return web.error(e.status, e.reason)
        if who is not None and who.rooms is not None and "ingest" in who.scopes:
            good, rejected = _within(who.rooms, good, rejected)
        try:
            flags = await store_async(redis_async, good) if good else []
        except (redis.RedisError, TimeoutError) as e:
            # Chunks stored before the error stay stored (each chunk is one atomic script): a resend of the
            # same events answers them as duplicates and stores the rest.
            return web.unavailable(f"{e or 'no answer in time'}; some events may have been stored: send them "
                               "again with the same ids")
        accepted = sum(flags)
        return web.json({"accepted": accepted, "duplicates": len(flags) - accepted, "rejected": rejected})
