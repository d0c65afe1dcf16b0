"""Who the simulated viewers are: the audience fields of an `enter`, its traffic sub-channel, fan-club joins
and negative feedback (README, "Audience and channels").

Traits that belong to a person (gender, age band, city tier) come from a hash of the user id, so a viewer
keeps them across visits and sessions. Fan and returning status come from what the room has seen: the
account's fans are the simulator's initial past viewers plus whoever follows; a viewer is returning once
they have left the room before. Chance draws use streams of their own (one per traffic group), so the
simulator's other streams, and with them its common random numbers, are untouched.
"""
from __future__ import annotations

import random
import zlib

# (value, weight); "unknown" is what a platform shows for viewers it has no portrait of
GENDER_W = (("f", 0.58), ("m", 0.37), ("unknown", 0.05))
AGE_W = (("18-23", 0.14), ("24-30", 0.27), ("31-40", 0.30), ("41-50", 0.17), ("50+", 0.08), ("unknown", 0.04))
CITY_W = (("1", 0.09), ("new1", 0.17), ("2", 0.19), ("3", 0.22), ("4", 0.17), ("5", 0.10), ("unknown", 0.06))
# sub-channels of each source, with their shares (CHANNELS in feeds/schema.py maps them back)
CHANNEL_W = {
    "recommend": (("feed", 0.74), ("plaza", 0.16), ("nearby", 0.10)),
    "paid": (("qianchuan_pc", 0.62), ("suixintui", 0.28), ("brand_ad", 0.10)),
    "short_video": (("short_video", 1.0),),
    "follow": (("follow", 1.0),),
    "search": (("search", 1.0),),
    "other": (("profile", 0.45), ("other", 0.55)),
}
NEG_REASONS = ("不感兴趣", "内容低质", "重复推荐", "广告太多")
FAN_CLUB_P = {True: 0.03, False: 0.004}    # per visit that stays, by whether the viewer is a fan
NEGATIVE_P = {"paid": 0.02, "recommend": 0.012}
NEGATIVE_P_OTHER = 0.004
KEEP_USERS = 50_000                         # seen viewers and fans remembered per room (oldest forgotten)


def _pick(weights: tuple, x: float) -> str:
    for value, w in weights:
        x -= w
        if x < 0:
            return value
    return weights[-1][0]


def _unit(text: str) -> float:
    return zlib.crc32(text.encode()) / 2 ** 32


class Audience:
    def __init__(self, room: str, seed, fans: list[str]):
        self._rngs = {g: random.Random(f"{room}|{seed}|audience|{g}") for g in ("organic", "paid")}
        self.fans: dict[str, None] = dict.fromkeys(fans)    # ordered sets, so the oldest can be forgotten
        self.seen: dict[str, None] = dict.fromkeys(fans)

    def enter_fields(self, user: str, source: str, group: str) -> dict:
        rng = self._rngs[group]
        return {
            "channel": _pick(CHANNEL_W[source], rng.random()),
            "fan": user in self.fans,
            "visit": "returning" if user in self.seen else "first",
            "gender": _pick(GENDER_W, _unit(user + "|g")),
            "age": _pick(AGE_W, _unit(user + "|a")),
            "city_tier": _pick(CITY_W, _unit(user + "|c")),
        }

    def reactions(self, user: str, source: str, group: str, ts: float, stay: float) -> list[tuple]:
        """(ts, type, fields) of what this visit adds: a fan-club join, a negative feedback."""
        rng = self._rngs[group]
        out = []
        if stay > 8 and rng.random() < FAN_CLUB_P[user in self.fans]:
            out.append((ts + rng.uniform(5, stay), "fan_club_join", {"user": user}))
        if rng.random() < NEGATIVE_P.get(source, NEGATIVE_P_OTHER) * (3 if stay < 2 else 1):
            out.append((ts + min(stay, rng.uniform(0.2, 20)), "negative_feedback",
                        {"user": user, "reason": rng.choice(NEG_REASONS)}))
        return out

    def followed(self, user: str) -> None:
        _remember(self.fans, user)

    def left(self, user: str) -> None:
        _remember(self.seen, user)


def _remember(d: dict, user: str) -> None:
    if user in d:
        return
    d[user] = None
    if len(d) > KEEP_USERS:
        del d[next(iter(d))]
