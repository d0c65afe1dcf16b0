"""Every Redis key name in one place.

Per-room keys carry the room as a hash tag (`{room}`) so that a room's stream, state and snapshot share a
Redis Cluster slot and can be written together in one MULTI.
"""

ROOMS = "lw:rooms"                # SET of every room that has accepted an event
IDS = "lw:ids"                    # SET of every accepted event id (the idempotency keys)
SESSIONS = "lw:sessions"          # HASH session id -> room
ENGINE_HEARTBEAT = "lw:engine:hb"  # JSON: last loop time, lag, the engine's start time
GROUP = "engine"                  # consumer group of the engine on every room stream
FRAMES_PATTERN = "lw:frames:*"    # pub/sub: one channel per room, payload = frame JSON
ALERTS = "lw:alerts"              # STREAM: every alert change, in order (history)
NOTICE_CHANNEL = "lw:notices"     # pub/sub: alert changes and fresh insights, for every screen
SIM_CLOCK = "lw:sim:clock"        # JSON: the simulator's event time and control position at its last save
SIM_CONTROLS = "lw:sim:controls"  # STREAM of control commands for the simulator process (feeds/simulator.py)
SIM_TRUTH = "lw:sim:truth"        # HASH room -> JSON truth(), refreshed by the simulator's run loop


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


def frames(room: str) -> str:
    return f"lw:frames:{room}"


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
DEAD_LETTERS = "lw:dead"           # STREAM of every dead letter, newest last (approximately capped)
DEAD_SEEN = "lw:dead:seen"         # SET of what was already set aside: a replay does not set it aside again
DEAD_COUNT = "lw:dead:count"       # counter of dead letters ever set aside (the stream is capped)


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
