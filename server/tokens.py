"""Bearer tokens for programs (CONTRACT section 3): scoped to rooms (or every room) and to `ingest` and/or `read`,
made and revoked by an admin.

A token is 32 random bytes, shown once when it is made. Redis keeps only its SHA-256 (a slow password hash
would add nothing against 256 random bits, and every API call looks one up), so a copy of the store gives no
usable token. A revoked token is gone from both hashes at once and its open sockets are closed.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import sys
import time

import orjson

from feeds.schema import ROOM_RE
from server import auth
from settings import add_store_options
from store import fanout, keys, wire
from store.connect import async_client, atomic

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
    # On a cluster the two writes are not one MULTI (atomic(r)): a crash between them leaves a record with no
    # hash to find it by, for a token whose secret was never handed out, which no one can use.
    async with r.pipeline(transaction=atomic(r)) as p:
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
    # On a cluster not one MULTI (atomic(r)): a crash between the HDELs leaves either a hash that leads to no
    # record, which `lookup` refuses, or a listed record that no hash leads to, which a second revoke removes.
    async with r.pipeline(transaction=atomic(r)) as p:
        p.hdel(keys.TOKENS, token_id)
        p.hdel(keys.TOKEN_HASHES, rec["hash"])
        fanout.publish(p, keys.REVOKED_CHANNEL, wire.revoked(identity(rec).name))
        await p.execute()
    return _public(rec)


async def lookup(r, bearer: str) -> "auth.Identity | None":
    """The token's Identity, or None for a revoked or unknown token."""
    token_id = await r.hget(keys.TOKEN_HASHES, _digest(bearer))
    blob = await r.hget(keys.TOKENS, token_id) if token_id else None
    return identity(orjson.loads(blob)) if blob else None


def cli(argv: list[str]) -> int:
    """`python app.py tokens add LABEL --scope ingest|read [--rooms a,b]`, `tokens list`, `tokens remove ID`:
    on the store the app uses, as `python app.py users` (server/users.py) does."""
    from server import users   # the command line only: finds the store a running app uses
    p = argparse.ArgumentParser(prog="python app.py tokens", description="bearer tokens for programs")
    sub = p.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="make a token; it is printed once")
    add.add_argument("label")
    add.add_argument("--scope", action="append", required=True, choices=SCOPES, help="ingest or read (or both)")
    add.add_argument("--rooms", help="comma-separated rooms (default: every room)")
    rm = sub.add_parser("remove", help="revoke a token at once")
    rm.add_argument("id")
    ls = sub.add_parser("list", help="every token, without secrets")
    for sp in (add, rm, ls):
        add_store_options(sp)
    a = p.parse_args(argv)
    data_dir, redis_url = a.data_dir, a.redis_url
    client, server = users._client_for(redis_url, data_dir)
    client.close()
    url = redis_url or (server.url if server else f"unix://{data_dir / 'redis' / 'redis.sock'}")
    try:
        return asyncio.run(_cli(a, url))
    finally:
        if server is not None:
            server.stop()


async def _cli(a, url: str) -> int:
    r = async_client(url)
    try:
        if a.action == "add":
            try:
                made = await create(r, a.label, a.scope, a.rooms, "cli")
            except Invalid as e:
                print(f"tokens: {e}", file=sys.stderr)
                return 2
            print(f"token {made['id']} ({made['label']}: {', '.join(made['scopes'])}; rooms: "
                  f"{', '.join(made['rooms']) if made['rooms'] else 'every room'}), shown this once:\n{made['token']}")
        elif a.action == "list":
            for t in await listing(r):
                print(f"{t['id']}  {t['label']}  {','.join(t['scopes'])}  "
                      f"{','.join(t['rooms']) if t['rooms'] else '*'}  by {t['created_by']}")
        elif await revoke(r, a.id) is None:
            print(f"tokens: no token {a.id!r}", file=sys.stderr)
            return 1
        else:
            print(f"token {a.id} revoked")
        return 0
    finally:
        await r.aclose()
