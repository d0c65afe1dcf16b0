"""Acting on ad-spend suggestions (insights/ads.py makes them): approve or reject one, then apply an approved
one through the ad platform; and each room's ads config. The web routes (server/suggestion_actions.py) check
who may act and call these; who acted is always the signed-in identity.

A suggestion's id carries its room (`<room>~<hex>`), so no index is needed to find it. The room's list is
also rewritten by the ads job every run; both writers change it inside WATCH/MULTI, so neither loses the
other's change. Every decision goes to the audit log (insights/audit.py) before the platform is called, and
every screen is told of the new list.
"""
from __future__ import annotations

import time

import orjson
import redis

from feeds.schema import ROOM_RE
from insights import adapter, ads, audit
from store import keys, wire


class Conflict(Exception):
    """The suggestion cannot take this decision (HTTP 409)."""


class NotFound(Exception):
    """No such suggestion in its room's list, now or before (HTTP 404)."""


class Superseded(Conflict):
    """The snapshot asked about was replaced by a newer one (HTTP 409): approving approves exactly what was
    shown, so an outdated one is refused and the caller is told which replaced it."""

    def __init__(self, sid: str, by: str):
        super().__init__(f"suggestion {sid!r} is out of date: its figures were updated in suggestion {by!r}; "
                         f"read that one before deciding")
        self.by = by


def room_of(sid: str) -> str | None:
    room, sep, _ = sid.rpartition("~")
    return room if sep and ROOM_RE.match(room) else None


async def judge(r, platform: adapter.AdPlatform, room: str, sid: str, verdict: str, by: str) -> dict:
    """Mark the suggestion `verdict` ("approved" or "rejected") by `by`; an approved one is then applied.
    `room` is room_of(sid). Returns the suggestion as stored; raises NotFound or Conflict."""
    as_of = await _as_of(r, room)
    now = time.time()

    def mark(s):
        if s["state"] == "noted" or s["action"] == "hold":
            raise Conflict("a hold is only noted: there is nothing to approve or reject")
        if s["state"] != "proposed":
            raise Conflict(f"suggestion is already {s['state']}")
        s.update(state=verdict, decided_by=by, decided_at=now, decided_as_of=as_of)

    s = await _update(r, room, sid, mark)
    if s is None:
        newer = await r.hget(keys.suggestions_superseded(room), sid)
        if newer:
            raise Superseded(sid, newer if isinstance(newer, str) else newer.decode())
        raise NotFound(f"unknown suggestion {sid!r}")
    await audit.record(r, audit.entry(verdict, room, by, s))
    if verdict == "approved":
        try:
            result = await adapter.apply(platform, s, by, as_of)
        except redis.RedisError as e:
            await audit.record(r, audit.entry("failed", room, by, s, error=str(e)))
            await notify(r, room)
            raise Conflict(f"approved, but the ad platform did not take the change: {e}") from None
        control = orjson.loads(result[0])
        s = await _update(r, room, sid, lambda x: x.update(state="applied", applied_at=time.time(),
                                                            control_version=control["version"]))
        await audit.record(r, audit.entry("applied", room, by, s, control=control))
    await notify(r, room)
    return s


async def _update(r, room: str, sid: str, change) -> dict | None:
    """Apply change(suggestion) to one suggestion of the room's list atomically; None if it is not there."""
    key = keys.suggestions(room)
    async with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                items = orjson.loads(await pipe.get(key) or b"[]")
                found = next((s for s in items if s.get("id") == sid), None)
                if found is None:
                    await pipe.unwatch()
                    return None
                change(found)
                pipe.multi()
                pipe.set(key, orjson.dumps(items))
                await pipe.execute()
                return found
            except redis.WatchError:
                continue


async def _as_of(r, room: str) -> float | None:
    snap = await r.get(keys.snapshot(room))
    return wire.read_frame(snap).metrics["as_of"] if snap else None


async def notify(r, room: str) -> None:
    """As ads.notify, from the web process (an asyncio client)."""
    await r.publish(keys.NOTICE_CHANNEL, wire.insight(room, *await r.mget(keys.suggestions(room),
                                                                          keys.recommendations(room))))


# -- the ads config --------------------------------------------------------------------------------------

async def config(r, room: str) -> dict:
    return ads.config_of(await r.get(keys.ads_config(room)))


async def change_config(r, room: str, body: dict, by: str) -> dict:
    """Apply the settings in `body` (ValueError with the reason for a wrong one); returns the whole config."""
    change = validate_config(body)
    new = {**await config(r, room), **change}
    await r.set(keys.ads_config(room), orjson.dumps(new))
    await audit.record(r, audit.entry("config", room, by, change=change, config=new))
    return new


def validate_config(body: dict) -> dict:
    out = {}
    for k, v in body.items():
        if k == "by":
            continue   # who changed it is the signed-in identity, never a name sent
        if k not in ads.CONFIG_DEFAULTS:
            raise ValueError(f"unknown setting {k!r}; one of {', '.join(ads.CONFIG_DEFAULTS)}")
        if k == "auto_apply":
            if not isinstance(v, bool):
                raise ValueError("auto_apply must be true or false")
        elif k == "max_step_pct":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 100:
                raise ValueError("max_step_pct must be a number in (0, 100]")
        elif v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
            raise ValueError(f"{k} must be a number > 0, or null")
        out[k] = v
    return out
