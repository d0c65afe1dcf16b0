"""Every Redis key name in one place.

Per-room keys carry the room as a hash tag (`{room}`) so that a room's stream, state and snapshot share a
Redis Cluster slot and can be written together in one MULTI.
"""
import zlib

ROOMS = "lw:rooms"                # SET of every room that has accepted an event
IDS = "lw:ids"                    # SET of every accepted event id (the idempotency keys), on one Redis
ID_SHARDS = 64                    # on a cluster, ids are claimed in this many shards: never change it on a
                                  # store that holds events (an id would be looked for in another shard)
SESSIONS = "lw:sessions"          # HASH session id -> room
GROUP = "engine"                  # consumer group of the engine on every room stream
FRAMES_PATTERN = "lw:frames:*"    # pub/sub: one channel per room, payload = frame JSON
ALERTS = "lw:alerts"              # STREAM: every alert change, in order (history)
NOTICE_CHANNEL = "lw:notices"     # pub/sub: alert changes and fresh insights, for every screen
SIM_CLOCK = "lw:sim:clock"        # JSON: the simulator's event time and control position at its last save
SIM_CONTROLS = "lw:sim:controls"  # STREAM of control commands for the simulator process (feeds/simulator.py)
SIM_TRUTH = "lw:sim:truth"        # HASH room -> JSON truth(), refreshed by the simulator's run loop
ARCHIVED = "lw:archived"          # HASH session id -> JSON index row: sessions archived on disk (store/archive.py)


def workers(kind: str) -> str:
    """ZSET worker id -> wall-clock ms of its last beat: the live workers of a kind ("engine", "jobs")."""
    return f"lw:workers:{kind}"


def worker_beats(kind: str) -> str:
    """HASH worker id -> JSON of its last beat: {ts, started, rooms, lag_s, ...} (store/leases.py)."""
    return f"lw:workers:{kind}:beats"


def lease(room: str, kind: str) -> str:
    """STRING "<worker>#<epoch>" with a TTL: who does the room's work of this kind now (store/leases.py)."""
    return f"lw:{{{room}}}:lease:{kind}"


def fence(room: str, kind: str) -> str:
    """Counter: the epoch of the room's latest lease of this kind, part of the holder's fencing token."""
    return f"lw:{{{room}}}:fence:{kind}"


def events(room: str) -> str:
    return f"lw:{{{room}}}:events"


def state(room: str) -> str:
    return f"lw:{{{room}}}:state"


def snapshot(room: str) -> str:
    return f"lw:{{{room}}}:snap"


def products(room: str) -> str:
    return f"lw:{{{room}}}:products"


def series(room: str) -> str:
    return f"lw:{{{room}}}:series"


def session_list(room: str) -> str:
    return f"lw:{{{room}}}:sessions"


def session_final(room: str, session: str) -> str:
    return f"lw:{{{room}}}:final:{session}"


def session_late(room: str, session: str) -> str:
    """JSON: the late events of a frozen session, never in its final figures (engine/room.py)."""
    return f"lw:{{{room}}}:late:{session}"


def baseline_cache(room: str, sessions: str) -> str:
    """JSON, expiring: the minute-by-minute baseline of those earlier sessions (comma-joined ids), insights/baseline.py."""
    return f"lw:{{{room}}}:baseline:{sessions}"


DAILY_REPORT_SENT = "lw:report:sent"   # SET of the days (YYYY-MM-DD, report timezone) whose daily report went out


def id_shard(event_id: str) -> str:
    """HASH event id -> room that claimed it, on a Redis Cluster (feeds/ingest.py): the global id set split
    so that claims spread over the nodes. Tagged `{ids-N}`, a slot of its own."""
    return f"lw:ids:{{ids-{zlib.crc32(event_id.encode()) % ID_SHARDS}}}"


def room_ids(room: str) -> str:
    """SET of the ids stored in the room's stream, on a Redis Cluster: the check that makes the XADD once."""
    return f"lw:{{{room}}}:ids"


def frames(room: str) -> str:
    """pub/sub channel of a room's frames on one Redis (PUBLISH, matched by FRAMES_PATTERN)."""
    return f"lw:frames:{room}"


def frames_shard(room: str) -> str:
    """Sharded pub/sub channel of a room's frames on a Redis Cluster (SPUBLISH/SSUBSCRIBE, server/shards.py):
    in the room's slot, so a frame goes to the room's master alone."""
    return f"lw:{{{room}}}:frames"


def room_of_events_key(key: str) -> str:
    return key[key.index("{") + 1:key.rindex("}")]


def sim_resume(room: str) -> str:
    """zlib(pickle((version, SimRoom))): a simulated room's whole state, to continue its session after a restart."""
    return f"lw:{{{room}}}:sim:resume"


# Written by the insight jobs (insights/), read by the API and the screens.
ALERTS_BY_ID = "lw:alerts:byid"    # HASH alert id -> alert JSON (its latest state)
ALERTS_RECENT = "lw:alerts:recent"  # ZSET alert id scored by start time


def alerts_recent(room: str) -> str:
    return f"lw:{{{room}}}:alerts"


def suggestions(room: str) -> str:
    return f"lw:{{{room}}}:suggestions"


def suggestions_superseded(room: str) -> str:
    """HASH suggestion id -> the id of the snapshot that replaced it, so approving an outdated snapshot gets a
    clear 409 rather than a 404 (insights/ads.py writes it, insights/suggestions.py reads it)."""
    return f"lw:{{{room}}}:suggestions:superseded"


def recommendations(room: str) -> str:
    return f"lw:{{{room}}}:recommendations"


def ads_state(room: str) -> str:
    """JSON: the ads job's own per-room history and timers (insights/ads.py)."""
    return f"lw:{{{room}}}:ads:state"


def ads_config(room: str) -> str:
    """JSON: a room's ad-spend settings as a manager edited them (auto apply, largest step...)."""
    return f"lw:{{{room}}}:ads:config"


def ad_control(room: str) -> str:
    """HASH campaign -> the desired settings an adapter wrote (insights/adapter.py describes the value)."""
    return f"lw:{{{room}}}:ad:control"


def rerun_tally(room: str) -> str:
    """JSON: the re-run job's running tally of the room's products (insights/rerun.py)."""
    return f"lw:{{{room}}}:rerun:tally"


AUDIT = "lw:audit"                 # STREAM: every ad-spend proposal, decision and change (insights/audit.py)


# Dead letters (store/deadletters.py): events and job runs set aside because handling them raised.
# The three share a hash tag: one script writes them together on a Redis Cluster too.
DEAD_LETTERS = "lw:{dead}"         # STREAM of every dead letter, newest last (approximately capped)
DEAD_SEEN = "lw:{dead}:seen"       # SET of what was already set aside: a replay does not set it aside again
DEAD_COUNT = "lw:{dead}:count"     # counter of dead letters ever set aside (the stream is capped)


def dead_letters(room: str) -> str:
    return f"lw:{{{room}}}:dead"


# Accounts and sign-in (server/auth.py, server/users.py). No hash tags: each is read and written on its own.
SECRET = "lw:auth:secret"          # STRING: the 32 random bytes that sign sessions (SET NX by the first process)


def user(name: str) -> str:
    """HASH role, rooms ("*" = every room, else comma-separated), hash (argon2), version (a random nonce that
    every session carries: a new password or a removal changes it, which ends the sessions at once)."""
    return f"lw:user:{name}"


def login_failures(who: str) -> str:
    """Counter of failed sign-ins for `who` ("u:<name>" or "a:<client address>"), expiring with the window."""
    return f"lw:auth:fail:{who}"


def once(token_hash: str) -> str:
    """STRING user name: a one-time sign-in link, by the SHA-256 of its token, with a short TTL."""
    return f"lw:auth:once:{token_hash}"

# Tokens for programs and share/device links (server/tokens.py, server/links.py).
TOKENS = "lw:tokens"               # HASH token id -> JSON {id, label, scopes, rooms, created, created_by, hash}
TOKEN_HASHES = "lw:tokens:byhash"  # HASH SHA-256 of a token -> token id (the token itself is never stored)
LINKS = "lw:links"                 # HASH link id -> JSON {id, label, kind, screen, rooms, expires, ...}: the live
                                   # links; a signed link whose id is not here has been revoked
REVOKED_CHANNEL = "lw:revoked"     # pub/sub: the identity name of a revoked token or link; web processes close
                                   # its open sockets

# Connectors to the platforms (feeds/connectors/). No hash tags: each connector reads and writes its own keys.
CONNECTORS_STATUS = "lw:connectors"  # HASH connector name -> JSON {kind, ok, last_success, lag_s, errors, ...}


def connector_token(name: str) -> str:
    """JSON {access_token, refresh_token, expires_at}: a connector's OAuth tokens. A refresh token works once
    (the platform rotates it), so the latest must survive a restart; the data dir is the owner's only."""
    return f"lw:connector:{name}:token"


def connector_cursor(name: str) -> str:
    """STRING: an order poller's cursor, the update time (epoch seconds) up to which it has read."""
    return f"lw:connector:{name}:cursor"


def connector_spend(name: str) -> str:
    """HASH "<ad_id>:<YYYY-MM-DD>" -> JSON {cost, show, click (the day's cumulative figures at the last report),
    event (the ad_spend event made of it)}: written before the event is stored, so a restart stores it again
    (a duplicate, or the one lost) and never counts a report twice."""
    return f"lw:connector:{name}:spend"


def connector_applied(name: str) -> str:
    """HASH "<room>|<campaign>" -> the ad_control version this connector last carried to the platform."""
    return f"lw:connector:{name}:applied"


def compass(session: str) -> str:
    """JSON: the platform console's (罗盘) figures of a session, as imported (feeds/connectors/compass.py)."""
    return f"lw:compass:{session}"
