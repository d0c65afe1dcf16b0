"""Accounts in Redis, and `python app.py users add|remove` (CONTRACT section 4 "Accounts").

A user is a hash under `keys.user(name)`: role, rooms, an argon2 hash of the password, and a version that every
session carries. Setting a password or removing the user changes or drops the version, so that user's
sessions end at once, in every web process.
"""
from __future__ import annotations

import argparse
import re
import secrets
import sys
from pathlib import Path

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from feeds.schema import ROOM_RE
from server.auth import ROLES
from settings import add_store_options
from store import embedded, keys
from store.connect import sync_client

NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}\Z")
ADMIN = "admin"
hasher = PasswordHasher()
# Checked when the user is unknown, so that a wrong name takes as long as a wrong password.
DUMMY_HASH = hasher.hash(secrets.token_hex(16))


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError("a user name is 1-64 letters, digits and _ . @ -")
    return name


def parse_rooms(text: str | None) -> frozenset[str] | None:
    """`a,b` -> {a, b}; None or "" -> None (every room)."""
    if not text:
        return None
    rooms = frozenset(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in rooms if not ROOM_RE.match(x)]
    if bad:
        raise ValueError(f"not a room name: {bad[0]!r}")
    return rooms or None


def put(client: redis.Redis, name: str, role: str, rooms: frozenset[str] | None, password: str | None) -> None:
    """Create or update a user. A new password (or none: the user can then sign in only by a one-time link)
    gets a new version, which ends the user's sessions; the same password again keeps them."""
    check_name(name)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key = keys.user(name)
    old = client.hget(key, "hash")
    fields = {"role": role, "rooms": "*" if rooms is None else ",".join(sorted(rooms))}
    if password is None:
        if old is None:
            fields.update(hash="", version=secrets.token_hex(8))
    elif not verify(old, password):
        fields.update(hash=hasher.hash(password), version=secrets.token_hex(8))
    client.hset(key, mapping=fields)


def remove(client: redis.Redis, name: str) -> bool:
    return bool(client.delete(keys.user(check_name(name))))


def verify(stored: bytes | str | None, password: str) -> bool:
    """Whether `password` matches a stored hash; a missing or empty hash matches nothing (in as much time)."""
    stored = stored.decode() if isinstance(stored, bytes) else stored
    try:
        return hasher.verify(stored or DUMMY_HASH, password) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False


def read_password(stream=sys.stdin) -> str:
    """One line: the password (a secret never goes on a command line, where `ps` shows it)."""
    password = stream.readline().rstrip("\r\n")
    if not password:
        raise ValueError("give the password as one line on standard input")
    return password


def _client_for(redis_url: str | None, data_dir: Path):
    """A client on the store the app uses, and the embedded server started for this command (or None): a
    running app's embedded Redis is reached through its socket in the data dir."""
    if redis_url:
        return sync_client(redis_url, retries=2), None
    directory = data_dir / "redis"
    sock = directory / "redis.sock"
    if sock.exists():
        client = sync_client(f"unix://{sock}", retries=0)
        try:
            client.ping()
            return client, None
        except (redis.ConnectionError, OSError):
            client.close()
    server = embedded.start(directory)
    return sync_client(server.url, retries=2), server


def cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python app.py users", description="add or remove livewall users")
    sub = p.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create or update a user; the password is read as one line from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--rooms", help="comma-separated rooms the user may see (default: every room)")
    rm = sub.add_parser("remove", help="remove a user; their sessions end at once")
    rm.add_argument("name")
    for sp in (add, rm):
        add_store_options(sp)
    a = p.parse_args(argv)
    try:
        check_name(a.name)
        rooms = parse_rooms(a.rooms) if a.action == "add" else None
        password = read_password() if a.action == "add" else None
    except ValueError as e:
        print(f"users: {e}", file=sys.stderr)
        return 2
    client, server = _client_for(a.redis_url, a.data_dir)
    try:
        if a.action == "add":
            put(client, a.name, a.role, rooms, password)
            print(f"user {a.name}: {a.role}, rooms: {', '.join(sorted(rooms)) if rooms else 'every room'}")
        elif remove(client, a.name):
            print(f"user {a.name} removed; their sessions have ended")
        else:
            print(f"users: no user {a.name!r}", file=sys.stderr)
            return 1
    finally:
        client.close()
        if server is not None:
            server.stop()
    return 0
