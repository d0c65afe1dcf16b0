"""Share links and device links: a read-only way into one screen and some rooms, without a password.

A link is `/s/<token>`, where the token is the link's id and expiry signed with the server's secret
(itsdangerous). Opening it sets the `lw_link` cookie to the same token and redirects to the screen. Redis keeps
the live links (`keys.LINKS`); revoking deletes the record, so a link that is signed right but unknown was
revoked. The order of the checks gives each refusal its reason: a bad signature is "invalid", a past expiry
"expired" (whatever the record), a missing record "revoked".

A share link is for a person (a manager sends a wall or a room to a phone) and always expires; a device link is
for a control-room PC that stays on a screen with nobody at it, and may last until it is revoked.
"""
from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
from itsdangerous import BadSignature, URLSafeSerializer

from feeds.schema import ROOM_RE
from server import auth
from server.tokens import Invalid, check_label, check_rooms
from settings import DEVICE_LINK_MAX_S, SHARE_LINK_DEFAULT_S, SHARE_LINK_MAX_S
from store import fanout, keys, wire
from store.connect import atomic

LINK_COOKIE = "lw_link"
KINDS = ("share", "device")
SCREEN_PATHS = ("/wall", "/manager")   # and /assistant/<room>
# the query parameters a screen understands (server/pages/): anything else is dropped from a link's screen
SCREEN_PARAMS = {"/wall": ("room", "rooms", "rotate", "mode", "lang"), "/manager": ("room", "session", "lang"),
                 "/assistant": ("lang",)}


class LinkRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason   # "expired" | "revoked" | "invalid"


def _serializer(secret: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="lw-link")


def check_screen(screen) -> tuple[str, str, set[str]]:
    """(path, the screen as a clean URL, the rooms the screen names) from what a manager asked for."""
    if not isinstance(screen, str) or not screen.startswith("/") or len(screen) > 1000:
        raise Invalid("`screen` must be a screen's path: /wall?..., /assistant/<room> or /manager?room=...")
    parts = urlsplit(screen)
    path, named = parts.path.rstrip("/") or "/", set()
    if path.startswith("/assistant/") and ROOM_RE.match(path[len("/assistant/"):]):
        named.add(path[len("/assistant/"):])
        allowed = SCREEN_PARAMS["/assistant"]
    elif path in SCREEN_PATHS:
        allowed = SCREEN_PARAMS[path]
    else:
        raise Invalid(f"no such screen: {path!r} (links open /wall, /assistant/<room> or /manager)")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k in allowed]
    for k, v in query:
        if k in ("room", "rooms"):
            named.update(x for x in v.split(",") if x)
    if not all(ROOM_RE.match(x) for x in named):
        raise Invalid("the screen names a room that is not a valid room name")
    return path, path + ("?" + urlencode(query) if query else ""), named


def _check_expiry(kind: str, expires_in_s) -> float | None:
    longest = DEVICE_LINK_MAX_S if kind == "device" else SHARE_LINK_MAX_S
    if expires_in_s is None:
        return None if kind == "device" else SHARE_LINK_DEFAULT_S
    if isinstance(expires_in_s, bool) or not isinstance(expires_in_s, (int, float)) \
            or not 1 <= expires_in_s <= longest:
        raise Invalid(f"`expires_in_s` must be a number of seconds from 1 to {longest:.0f}"
                      + (" (or null: until revoked)" if kind == "device" else ""))
    return float(expires_in_s)


async def create(r, label, screen, rooms, expires_in_s, kind, maker: "auth.Identity") -> dict:
    """Make a link; the reply's `url` (/s/<token>) is the only place the link itself appears. A link gives at most
    the rooms its maker may read."""
    if kind not in KINDS:
        raise Invalid("`kind` must be 'share' or 'device'")
    path, screen, named = check_screen(screen)
    rooms = check_rooms(rooms)
    if rooms is None and named:
        rooms = sorted(named)   # a screen of one room gives that room, and no other
    elif rooms is None and maker.rooms is not None:
        rooms = sorted(maker.rooms)
    elif rooms is not None and not named <= set(rooms):
        raise Invalid(f"the screen shows rooms the link does not give: {sorted(named - set(rooms))}")
    if maker.rooms is not None and not set(rooms) <= maker.rooms:
        raise Invalid(f"{maker.name} may not share rooms {sorted(set(rooms) - maker.rooms)}")
    if path.startswith("/assistant/") and rooms != sorted(named):
        raise Invalid("a tablet link gives its one room only")
    life = _check_expiry(kind, expires_in_s)
    now = time.time()
    rec = {"id": secrets.token_hex(6), "label": check_label(label), "kind": kind, "screen": screen, "path": path,
           "rooms": rooms, "created": now, "expires": None if life is None else now + life, "created_by": maker.name}
    if any(x["label"] == rec["label"] for x in await listing(r)):
        # the label names the link in the audit log ("link:<label>"): two live ones alike could not be told apart
        raise Invalid(f"a live link labelled {rec['label']!r} exists; revoke it or pick another label")
    await r.hset(keys.LINKS, rec["id"], orjson.dumps(rec))
    token = _serializer(await auth.secret(r)).dumps({"i": rec["id"], "e": rec["expires"]})
    return {**rec, "url": f"/s/{token}"}


async def listing(r, created_by: str | None = None) -> list[dict]:
    """The live links, newest first (all of them, or those one person made); expired ones are dropped."""
    now, out, gone = time.time(), [], []
    for link_id, blob in (await r.hgetall(keys.LINKS)).items():
        rec = orjson.loads(blob)
        if rec["expires"] is not None and rec["expires"] <= now:
            gone.append(link_id)
        elif created_by is None or rec["created_by"] == created_by:
            out.append(rec)
    if gone:
        await r.hdel(keys.LINKS, *gone)
    return sorted(out, key=lambda x: x["created"], reverse=True)


async def revoke(r, link_id: str) -> dict | None:
    """Revoke a link at once: its open sockets close, and its next page load is sent to the sign-in page that says
    the link was revoked. None when there is no such live link."""
    blob = await r.hget(keys.LINKS, link_id)
    if blob is None:
        return None
    rec = orjson.loads(blob)
    async with r.pipeline(transaction=atomic(r)) as p:   # a cluster refuses a MULTI with a PUBLISH in it
        p.hdel(keys.LINKS, link_id)
        fanout.publish(p, keys.REVOKED_CHANNEL, wire.revoked(_name(rec)))
        await p.execute()
    return rec


async def find(r, link_id: str) -> dict | None:
    blob = await r.hget(keys.LINKS, link_id)
    return orjson.loads(blob) if blob else None


def _name(rec: dict) -> str:
    return f"link:{rec['label']}"


async def resolve(r, value: str) -> dict:
    """The live link a token stands for; raises LinkRefused for an expired, revoked or tampered one."""
    try:
        data = _serializer(await auth.secret(r)).loads(value)
    except BadSignature:
        raise LinkRefused("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("i"), str):
        raise LinkRefused("invalid")
    expires = data.get("e")
    if expires is not None and expires <= time.time():
        raise LinkRefused("expired")
    rec = await find(r, data["i"])
    if rec is None:
        raise LinkRefused("revoked")
    return rec


def identity(rec: dict) -> "auth.Identity":
    """Read-only (role viewer) on the link's rooms, and its one screen."""
    rooms = rec["rooms"]
    return auth.Identity(name=_name(rec), role="viewer", kind="link",
                         rooms=None if rooms is None else frozenset(rooms), screens=(rec["path"],))


async def lookup(r, value: str) -> "auth.Identity":
    """The link's Identity; raises LinkRefused for an expired, revoked or tampered link."""
    return identity(await resolve(r, value))
