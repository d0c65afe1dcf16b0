"""Live-room interaction push: the signature check and the mapping of a push body to livewall events.

The scheme implemented (livewall's own; NOT the Douyin open platform's, whose live-room data push signature —
headers and digest — could not be confirmed from a public SDK or doc: a bridge that receives the platform's
push re-signs it this way, or this module gains the platform's scheme once it is confirmed):

    POST /api/connectors/<connector name>/push
    Content-Type: application/json
    X-Livewall-Timestamp: <Unix seconds>
    X-Livewall-Signature: sha256=<hex HMAC-SHA256 keyed with the connector's secret over
                                   "<timestamp>." + the raw body bytes>

A timestamp further than settings.PUSH_MAX_SKEW_S from now is refused (a replayed request), and so is a body
whose signature does not match (compared in constant time): 401, nothing stored. A replay inside the window
stores nothing new either, since each message's id makes its event id.

The body: {"room_id": "<the platform's live room id>", "messages": [{"msg_id", "msg_type", "user" (or
"sec_openid"), "content", "like_num", "timestamp" (seconds or milliseconds)}]}, with `msg_type` one of
comment, like, follow, share, fansclub (Douyin's names live_comment, live_like, live_follow, live_share,
live_fansclub are read too). A fan-club join becomes a `fan_club_join` (the audience extension's type); a
gift (or any other kind) is ignored and counted as such.
"""
from __future__ import annotations

import hashlib
import hmac
import time

from settings import PUSH_MAX_SKEW_S

KINDS = {"comment": "comment", "like": "like", "follow": "follow", "share": "share", "fansclub": "fan_club_join"}
MAX_TEXT = 500
MAX_LIKES = 1_000_000


class BadSignature(Exception):
    pass


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, sig: str | None, body: bytes, now: float | None = None) -> None:
    """BadSignature with the reason, unless the body is signed with `secret` at a timestamp within the window."""
    if not timestamp or not sig:
        raise BadSignature("missing X-Livewall-Timestamp or X-Livewall-Signature")
    try:
        ts = float(timestamp)
    except ValueError:
        raise BadSignature("X-Livewall-Timestamp is not a number") from None
    if not abs((now or time.time()) - ts) <= PUSH_MAX_SKEW_S:
        raise BadSignature(f"timestamp outside the {PUSH_MAX_SKEW_S:.0f} s window (a replay, or a wrong clock)")
    if not hmac.compare_digest(signature(secret, timestamp, body).encode(), sig.strip().encode()):
        raise BadSignature("signature does not match the body")


def to_events(connector: str, platform: str, room: str, messages: list) -> tuple[list[dict], int]:
    """(events, messages ignored). Anything odd in a message is left to the event judge (feeds/schema.py)."""
    events, ignored = [], 0
    for m in messages:
        if not isinstance(m, dict):
            ignored += 1
            continue
        raw = str(m.get("msg_type", "")).removeprefix("live_")
        kind = KINDS.get(raw)
        if kind is None:
            ignored += 1
            continue
        ts = m.get("timestamp", time.time())
        if isinstance(ts, (int, float)) and not isinstance(ts, bool) and ts > 1e11:
            ts = ts / 1000   # milliseconds
        e = {"id": f"push:{connector}:{m.get('msg_id')}", "room": room, "ts": ts, "type": kind,
             "platform": platform, "user": str(m.get("user") or m.get("sec_openid") or ""), "raw_kind": raw}
        if kind == "comment":
            e["text"] = str(m.get("content", ""))[:MAX_TEXT]
        if kind == "like":
            count = m.get("like_num", 1)
            e["count"] = min(MAX_LIKES, count) if isinstance(count, int) and not isinstance(count, bool) else count
        events.append(e)
    return events, ignored
