"""The ad platform behind approved changes: a three-call interface and the simulated platform.

A real adapter (巨量千川, 磁力金牛, ...) would call the platform's API. The simulated one writes the desired
settings into a Redis hash that the simulator, running in another process, reads and applies:

    key   keys.ad_control(room) = "lw:{<room>}:ad:control"   (HASH; the room's hash tag keeps it in its slot)
    field campaign id
    value JSON {"budget_per_hour": yuan per hour or null (null: the platform's own budget),
                "roi_target": the campaign's ROI target (bid) or null,
                "paused": bool,
                "version": 1, 2, ... (+1 on every change to this campaign),
                "changed_at": wall-clock epoch seconds of the change,
                "changed_as_of": the room's event time at the change, or null,
                "by": who made it ("auto" or the approving manager), "suggestion": its id or null,
                "action": the suggestion's action (raise_budget, pause, ...) or null}

A reader applies a campaign's entry when its `version` is above the last one it applied (see
`read_controls`). Every call merges into the entry in one Lua script, so two writers never lose a field.
The same change also goes to the simulator's own command stream (keys.SIM_CONTROLS), which its
run loop already follows, so the loop is closed today; the hash is the record and what the ads job reads.

The methods return what a pipeline of the given client returns: [new entry JSON, stream id] from a blocking
client, an awaitable of it from an asyncio client. That keeps one implementation for the scheduler
(blocking) and the web routes (asyncio).
"""
from __future__ import annotations

import time
from typing import Protocol

import orjson

from store import keys


def read_controls(r, room: str) -> dict[str, dict]:
    """Campaign -> desired settings, from a blocking client (the simulator's run loop)."""
    return {k.decode(): orjson.loads(v) for k, v in r.hgetall(keys.ad_control(room)).items()}


class AdPlatform(Protocol):
    def set_budget(self, room: str, campaign: str, yuan_per_hour: float, **who): ...

    def set_roi_target(self, room: str, campaign: str, roi: float, **who): ...

    def pause(self, room: str, campaign: str, **who): ...


_MERGE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local entry = old and cjson.decode(old) or {budget_per_hour = cjson.null, roi_target = cjson.null,
                                           paused = false, version = 0}
local change = cjson.decode(ARGV[2])
for k, v in pairs(change) do entry[k] = v end
entry.version = entry.version + 1
local out = cjson.encode(entry)
redis.call('HSET', KEYS[1], ARGV[1], out)
return out
"""


class SimulatedAdapter:
    """Writes desired settings to the control hash; `who` is by=, suggestion=, as_of= (the room's event time),
    action=."""

    def __init__(self, r):
        self.r = r

    def set_budget(self, room: str, campaign: str, yuan_per_hour: float, **who):
        value = round(float(yuan_per_hour), 2)
        return self._write(room, campaign, {"budget_per_hour": value, "paused": False}, ("set_budget", value), **who)

    def set_roi_target(self, room: str, campaign: str, roi: float, **who):
        value = round(float(roi), 3)
        return self._write(room, campaign, {"roi_target": value}, ("set_roi_target", value), **who)

    def pause(self, room: str, campaign: str, **who):
        return self._write(room, campaign, {"paused": True}, ("pause", None), **who)

    def _write(self, room: str, campaign: str, change: dict, command: tuple, by: str = "auto",
               suggestion: str | None = None, as_of: float | None = None, action: str | None = None):
        change.update(changed_at=time.time(), changed_as_of=as_of, by=by, suggestion=suggestion, action=action)
        pipe = self.r.pipeline(transaction=False)
        # cjson turns JSON null into a sentinel that re-encodes as null, so null fields stay null
        # (as a command: a cluster's pipeline has no eval method, while it sends EVAL to the key's node)
        pipe.execute_command("EVAL", _MERGE, 1, keys.ad_control(room), campaign, orjson.dumps(change))
        # the simulator process already follows its own command stream: tell it there too
        fields = {"room": room, "action": command[0], "campaign": campaign}
        if command[1] is not None:
            fields["value"] = repr(float(command[1]))
        pipe.xadd(keys.SIM_CONTROLS, fields, maxlen=10000, approximate=True)
        return pipe.execute()


def apply(adapter: AdPlatform, suggestion: dict, by: str, as_of: float | None):
    """Carry out one suggestion through an adapter; returns the adapter's result (see the module doc)."""
    room, campaign, action = suggestion["room"], suggestion["campaign"], suggestion["action"]
    who = {"by": by, "suggestion": suggestion["id"], "as_of": as_of, "action": action}
    if action in ("raise_budget", "lower_budget"):
        return adapter.set_budget(room, campaign, suggestion["new_budget"], **who)
    if action in ("raise_roi_target", "lower_roi_target"):
        return adapter.set_roi_target(room, campaign, suggestion["new_roi_target"], **who)
    if action == "pause":
        return adapter.pause(room, campaign, **who)
    raise ValueError(f"nothing to apply for {action!r}")

