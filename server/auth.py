"""Who is asking: identities, roles and the signed user session (CONTRACT section 3 "Who may do what").

Three kinds of credentials resolve to one `Identity`: a bearer token (the configured ingest token, or one an
admin made: server/tokens.py), the `lw_session` cookie of a signed-in user, and the `lw_link` cookie of a share
or device link (server/links.py). Every check elsewhere is `has_role` and `can_read` on that identity.
"""
from __future__ import annotations

import hmac
import secrets as _secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from server import links, tokens
from settings import SESSION_MAX_AGE_S
from store import keys

ROLES = ("viewer", "assistant", "manager", "admin")   # each can do what the ones before it can
SESSION_COOKIE = "lw_session"


@dataclass(frozen=True)
class Identity:
    name: str                          # who acted, as recorded in the audit log: the user name;
                                       # "token:<label>" for a token; "link:<label>" for a share/device link
    role: str                          # one of ROLES
    rooms: frozenset[str] | None       # the rooms it may read (and act on); None = every room
    kind: str                          # "user" | "token" | "link"
    scopes: frozenset[str] = frozenset({"read"})   # tokens: {"ingest"}, {"read"} or both; users/links {"read"}
    screens: tuple[str, ...] | None = None         # a link: the paths it may open (e.g. "/wall"); None = any


def has_role(who: Identity | None, role: str) -> bool:
    return who is not None and ROLES.index(who.role) >= ROLES.index(role)


def can_read(who: Identity | None, room: str) -> bool:
    return who is not None and "read" in who.scopes and (who.rooms is None or room in who.rooms)


async def secret(r) -> bytes:
    """The signing secret, shared by every web process through Redis: made once, by whichever comes first."""
    key = await r.get(keys.SECRET)
    if key is None:
        await r.set(keys.SECRET, _secrets.token_bytes(32), nx=True)
        key = await r.get(keys.SECRET)
    return key


def _serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="lw-session")


async def session_cookie(r, name: str, version: str) -> str:
    """The value of `lw_session` for a user who just signed in."""
    return _serializer(await secret(r)).dumps({"u": name, "v": version})


def _rooms(field: bytes | None) -> frozenset[str] | None:
    text = (field or b"*").decode()
    return None if text == "*" else frozenset(x for x in text.split(",") if x)


async def user_identity(r, name: str) -> tuple[Identity, str] | None:
    """A stored user as an identity, with its current version; None when there is no such user."""
    rec = await r.hgetall(keys.user(name))
    if not rec or rec.get(b"role", b"").decode() not in ROLES:
        return None
    who = Identity(name=name, role=rec[b"role"].decode(), rooms=_rooms(rec.get(b"rooms")), kind="user")
    return who, rec.get(b"version", b"").decode()


async def _session(r, value: str) -> Identity | None:
    try:
        data = _serializer(await secret(r)).loads(value, max_age=SESSION_MAX_AGE_S)
    except BadSignature:   # also a session older than its max age (SignatureExpired)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        return None
    found = await user_identity(r, data["u"])
    if found is None or not hmac.compare_digest(found[1], str(data.get("v", ""))):
        return None   # removed, or the password changed since this session began
    return found[0]


def ingest_identity() -> Identity:
    return Identity(name="token:ingest", role="viewer", rooms=None, kind="token", scopes=frozenset({"ingest"}))


async def identify(r, headers, cookies, query, ingest_token: str | None = None) -> Identity | None:
    """The caller's identity, or None without (valid) credentials. Raises links.LinkRefused for a link cookie
    that is expired, revoked or tampered with, so that a screen can say so instead of asking for a password.
    `headers`, `cookies` and `query` are mappings (Starlette's, or plain dicts)."""
    auth = headers.get("authorization") or ""
    if auth[:7].lower() == "bearer ":
        bearer = auth[7:].strip()
        if ingest_token and hmac.compare_digest(bearer.encode(), ingest_token.encode()):
            return ingest_identity()
        return await tokens.lookup(r, bearer) if bearer else None
    session = cookies.get(SESSION_COOKIE)
    if session:
        who = await _session(r, session)
        if who is not None:
            return who
    link = cookies.get(links.LINK_COOKIE)
    if link:
        return await links.lookup(r, link)
    return None
