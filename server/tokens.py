"""Bearer tokens for programs (CONTRACT section 3): scoped to rooms (or every room) and to `ingest` and/or `read`,
made and revoked by an admin.

A token is 32 random bytes, shown once when it is made. Redis keeps only its SHA-256 (a slow password hash
would add nothing against 256 random bits, and every API call looks one up), so a copy of the store gives no
usable token. A revoked token is gone from both hashes at once and its open sockets are closed.
"""
from __future__ import annotations

import hashlib
import secrets
import time

import orjson

from feeds.schema import ROOM_RE
from server import auth
from store import keys

SCOPES = ("ingest", "read")
PREFIX = "lwt_"   # makes a leaked token recognisable (secret scanners, logs)
LABEL_MAX = 64


class Invalid(ValueError):
    """A request to make a token (or a link) that cannot be honoured; the text is for the caller."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_label(label) -> str:
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX or not label.isprintable():
        raise Invalid(f"`label` must be 1-{LABEL_MAX} printable characters")
    return label.strip()


def check_rooms(rooms) -> list[str] | None:
    """None (every room) or a non-empty list of room names."""
    if rooms is None:
        return None
    if isinstance(rooms, str):
        rooms = [x for x in rooms.split(",") if x]
    if not isinstance(rooms, list) or not rooms or not all(isinstance(x, str) and ROOM_RE.match(x) for x in rooms):
        raise Invalid("`rooms` must be null (every room) or a non-empty list of room names")
    return sorted(set(rooms))


def _check_scopes(scopes) -> list[str]:
    if isinstance(scopes, str):
        scopes = [scopes]
    if not isinstance(scopes, list) or not scopes or not all(s in SCOPES for s in scopes):
        raise Invalid("`scopes` must be a non-empty list of 'ingest' and/or 'read'")
    return sorted(set(scopes))


def identity(rec: dict) -> "auth.Identity":
    rooms = rec["rooms"]
    return auth.Identity(name=f"token:{rec['label']}", role="viewer", kind="token",
                         rooms=None if rooms is None else frozenset(rooms), scopes=frozenset(rec["scopes"]))


async def create(r, label, scopes, rooms, created_by: str) -> dict:
    """Make a token; the reply is the only place its secret ever appears."""
    rec = {"id": secrets.token_hex(6), "label": check_label(label), "scopes": _check_scopes(scopes),
           "rooms": check_rooms(rooms), "created": time.time(), "created_by": created_by}
    if any(t["label"] == rec["label"] for t in await listing(r)):
        # the label names the token in the audit log ("token:<label>"): two alike could not be told apart
        raise Invalid(f"a token labelled {rec['label']!r} exists; revoke it or pick another label")
    token = PREFIX + secrets.token_urlsafe(32)
    rec["hash"] = _digest(token)
    async with r.pipeline(transaction=True) as p:
        p.hset(keys.TOKENS, rec["id"], orjson.dumps(rec))
        p.hset(keys.TOKEN_HASHES, rec["hash"], rec["id"])
        await p.execute()
    return {**_public(rec), "token": token}


def _public(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "hash"}


async def listing(r) -> list[dict]:
    """Every token, oldest first, without secrets."""
    recs = [orjson.loads(v) for v in (await r.hgetall(keys.TOKENS)).values()]
    return [_public(x) for x in sorted(recs, key=lambda x: x["created"])]


async def revoke(r, token_id: str) -> dict | None:
    """Revoke a token at once (its open sockets too); None when there is no such token."""
    blob = await r.hget(keys.TOKENS, token_id)
    if blob is None:
        return None
    rec = orjson.loads(blob)
    async with r.pipeline(transaction=True) as p:
        p.hdel(keys.TOKENS, token_id)
        p.hdel(keys.TOKEN_HASHES, rec["hash"])
        p.publish(keys.REVOKED_CHANNEL, identity(rec).name)
        await p.execute()
    return _public(rec)


async def lookup(r, bearer: str) -> "auth.Identity | None":
    """The token's Identity, or None for a revoked or unknown token."""
    token_id = await r.hget(keys.TOKEN_HASHES, _digest(bearer))
    blob = await r.hget(keys.TOKENS, token_id) if token_id else None
    return identity(orjson.loads(blob)) if blob else None
