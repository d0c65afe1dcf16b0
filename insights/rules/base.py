"""What every risk rule shares: the Condition it reports, the View it judges, how it is registered, and the
small helpers of windows in event time."""
from __future__ import annotations

import math
from dataclasses import dataclass
from operator import itemgetter
from typing import Callable, NamedTuple

MAX_WINDOW_S = 900          # the longest window a rule may ask for: what the snapshot samples and orders keep
VISIT_KEEP_S = 180          # visits are remembered this long: an order soon after leaving is still the visit's
CLICK_KEEP_S = 300          # an order later than this after a click on its product is not that click's
BOUNCE_S = 2.0              # CONTRACT section 2: a visit that closes sooner bounced
SYSTEM_ROOM = "*"           # the room of alerts about livewall itself

AS_OF = itemgetter(0)


@dataclass
class Condition:
    """A rule that holds now in one room (for one product or user: `subject`)."""
    rule: str
    room: str
    figures: dict
    subject: str | None = None
    events: int | None = None   # event rules: offending events since the last evaluation; None: a level
    session: str | None = None
    as_of: float | None = None


@dataclass
class View:
    """What a room rule judges at one evaluation: the engine's metrics and product rows, event time `now` and
    the wall-clock time (None offline)."""
    m: dict
    products: list
    now: float
    wall: float | None


class Rule(NamedTuple):
    """A rule as registered (insights/rules/__init__.py).

    Room rules: `check(state, room, view, p)` yields (subject, figures, events) for what holds now; `room` is
    the room's RiskState (its shared records and snapshot samples), `p` the rule's settings. System rules:
    `check(state, r, wall, config, since)` returns Conditions. `state`: a class (or any callable) making the
    rule's own state, one per room and session (system rules: one per job, given its start); its `OBSERVES`
    maps the event types it takes in to its methods `(self, ev, ts, room)`."""
    name: str
    check: Callable
    state: Callable | None = None


def params(config: dict, room: str, rule: str) -> dict:
    """A rule's settings for one room: defaults, then the rule's own, then the room's."""
    room_over = ((config.get("rooms") or {}).get(room) or {}).get(rule) or {}
    return {**(config.get("defaults") or {}), **(config.get("rules") or {}).get(rule, {}), **room_over}


def evict(window, before: float, on_drop=None) -> None:
    while window and window[0][0] <= before:
        item = window.popleft()
        if on_drop is not None:
            on_drop(item)


def short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def spans(longest: float, step) -> list:
    """The spans a scan tries, ending now: every `step` seconds up to `longest`; `longest` alone if no step."""
    if not step or step <= 0:
        return [longest]
    n = max(1, math.ceil(longest / step - 1e-9))
    return [step * k for k in range(1, n)] + [longest]
