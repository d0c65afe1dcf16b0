"""Runtime settings: the constants every part shares, and the command line and environment of every entry point
(CONTRACT section 4).

The options several commands take are declared here once (`parser`, `add_store_options`,
`add_sender_token_options`); each entry point adds only its own: `python app.py` and `python -m server` take
`Settings.from_args`, `python -m engine`, `python -m insights` and `python -m feeds.simulator` start from
`parser`, `python app.py users|tokens` add the store options to each subcommand, `python -m feeds.replay` and
the simulator take the sender's token options.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8050
DEFAULT_HOST = "127.0.0.1"
# POST /api/events bodies above this get 413 (the contract asks for at least 4 MiB).
MAX_BODY_BYTES = 8 * 1024 * 1024
# The engine publishes at most this many frames per room per second (CONTRACT asks 2–10 Hz); 8 rather than 4
# takes ~50 ms off event-to-screen latency at no measurable cost in throughput (bench/push.py, bench/ingest.py).
FRAME_HZ = 8.0
# The simulator saves each room's resume record this often (and after every ad control), so a restart, even
# after a SIGKILL, continues every running session (feeds/simulator.py `run_with`).
RESUME_EVERY_S = 2.0
# An outage up to this much event time is caught up, session and all; after a longer one a room's running
# session ends at its last event and a new one starts (simulating hours of missed events would take minutes).
RESUME_MAX_GAP_S = 1800.0
# The web process's Redis calls: each answers or fails within this (a stalled Redis then gets a 503 with
# Retry-After, CONTRACT section 3, instead of a request hanging); connecting gets less.
WEB_REDIS_TIMEOUT_S = 1.0
WEB_REDIS_CONNECT_TIMEOUT_S = 0.5
RETRY_AFTER_S = 2
# /healthz answers within this, Redis or not.
HEALTH_TIMEOUT_S = 0.8
# A user's signed session lasts this long (a shift and then some); a wall PC stays signed in by a device link.
SESSION_MAX_AGE_S = 12 * 3600
# Share links (server/links.py): a person's link always expires (a day unless asked otherwise, a month at most);
# a control-room PC's device link may last until revoked, or up to ten years.
SHARE_LINK_DEFAULT_S = 24 * 3600
SHARE_LINK_MAX_S = 30 * 24 * 3600
DEVICE_LINK_MAX_S = 10 * 365 * 24 * 3600
# Browsers keep a cookie at most 400 days: a device link without expiry sets its cookie for that long.
LINK_COOKIE_MAX_S = 400 * 24 * 3600
# A link's cookie outlives the link by this much, so that its screen, reloaded, says the link has expired
# instead of showing a bare sign-in form.
LINK_COOKIE_GRACE_S = 7 * 24 * 3600
# Failed sign-ins allowed per user name and per client address within the window, before 429 until it ends.
LOGIN_MAX_FAILURES_PER_USER = 5
LOGIN_MAX_FAILURES_PER_ADDRESS = 20
LOGIN_WINDOW_S = 15 * 60
# The one-time sign-in link printed at start without an admin password: one use, within this time.
ONCE_LINK_TTL_S = 15 * 60
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# Resolving credentials that live in Redis (a session, a token, a link) waits at most this long: while Redis is
# away a request gets 503 at once, as ingest does, rather than hanging behind the client's retries.
IDENTIFY_TIMEOUT_S = 1.5
# A screen that has had no frame of a running session for this long says how old its data is instead of "live".
SCREEN_STALE_S = 10
# A room whose session ended this long ago leaves the wall's rotation and the matrix (it comes back when a new
# session starts); until then it shows, marked "ended", so the control room sees the end of the session.
# `--ended-grace-minutes` (python app.py, python -m server) or LIVEWALL_ENDED_GRACE_MINUTES.
ENDED_GRACE_MINUTES = 10.0


REDIS_URL_ENV = "LIVEWALL_REDIS_URL"
# A program sending events looks for its token in these, in order (feeds/publisher.py `token_from`).
TOKEN_ENV = ("LIVEWALL_TOKEN", "LIVEWALL_INGEST_TOKEN")


def default_data_dir() -> Path:
    return Path(os.environ.get("LIVEWALL_DATA_DIR") or Path.home() / ".livewall")


def add_store_options(p: argparse.ArgumentParser, data_dir: bool = True,
                      redis_help: str = "redis://, rediss://, unix:// or redis-cluster://host:port[,host:port...] "
                                        f"(env {REDIS_URL_ENV}; default: the data dir's embedded Redis)") -> None:
    """--redis-url and --data-dir: which store a command works on."""
    p.add_argument("--redis-url", default=os.environ.get(REDIS_URL_ENV), help=redis_help)
    if data_dir:
        p.add_argument("--data-dir", type=Path, default=default_data_dir(),
                       help="where the embedded Redis and anything else on disk live (env LIVEWALL_DATA_DIR, "
                            "default ~/.livewall)")


def parser(prog: str, description: str,
           redis_help: str = f"redis://, rediss://, unix:// or redis-cluster://... (env {REDIS_URL_ENV})"
           ) -> argparse.ArgumentParser:
    """The command line of a part that runs on its own (`python -m engine`, ...): --redis-url, then its own."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    add_store_options(p, data_dir=False, redis_help=redis_help)
    return p


def require_redis_url(p: argparse.ArgumentParser, redis_url: str | None, what: str) -> str:
    if not redis_url:
        p.error(f"--redis-url (or {REDIS_URL_ENV}) is required to run {what} on its own")
    return redis_url


def add_sender_token_options(p: argparse.ArgumentParser) -> None:
    """--token-file and --token for a command that sends events; read them back with feeds.publisher.token_from."""
    p.add_argument("--token-file", help=f"a file holding the token (default: env {' or '.join(TOKEN_ENV)})")
    p.add_argument("--token", help="the token itself; it shows in `ps` to every user of this machine: prefer "
                                   "--token-file or the environment")


@dataclass
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    redis_url: str | None = None
    feed: str = "sim"
    ingest_token: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    rooms: int = 4
    insights_every_s: float = 10.0
    sim_speed: float = 1.0
    session_minutes: float = 120.0
    allowed_hosts: frozenset[str] = frozenset(LOOPBACK_HOSTS)
    admin_password: str | None = field(default=None, repr=False)
    ended_grace_minutes: float = ENDED_GRACE_MINUTES

    @classmethod
    def from_args(cls, argv: list[str] | None = None) -> "Settings":
        p = argparse.ArgumentParser(prog="python app.py", description="livewall: the live-commerce control room")
        add_store_options(p)
        p.add_argument("--port", type=int, default=DEFAULT_PORT)
        p.add_argument("--host", default=DEFAULT_HOST)
        p.add_argument("--feed", default="sim", choices=["sim", "none"], help="'none': no simulated rooms")
        p.add_argument("--rooms", type=int, default=4, help="how many simulated rooms")
        p.add_argument("--ingest-token", default=os.environ.get("LIVEWALL_INGEST_TOKEN"))
        p.add_argument("--ingest-token-file", type=Path, help="a file whose first line is the ingest token")
        p.add_argument("--admin-password-file", type=Path,
                       help="a file whose first line is the password of the user admin (else LIVEWALL_ADMIN_PASSWORD)")
        p.add_argument("--allowed-hosts", default="",
                       help="comma-separated host names the server answers to, besides loopback and --host")
        p.add_argument("--insights-every", type=float, default=10.0, help="seconds between insight runs")
        p.add_argument("--sim-speed", type=float, default=1.0,
                       help="simulated rooms: event time per wall-clock second (a demo or test at 10x)")
        p.add_argument("--session-minutes", type=float, default=120.0, help="simulated rooms: a session's length")
        p.add_argument("--ended-grace-minutes", type=float,
                       default=float(os.environ.get("LIVEWALL_ENDED_GRACE_MINUTES", ENDED_GRACE_MINUTES)),
                       help="a room whose session ended this long ago leaves the wall's rotation and matrix")
        a = p.parse_args(argv)
        ingest_token = _first_line(a.ingest_token_file) if a.ingest_token_file else a.ingest_token
        admin_password = (_first_line(a.admin_password_file) if a.admin_password_file
                          else os.environ.get("LIVEWALL_ADMIN_PASSWORD"))
        return cls(host=a.host, port=a.port, redis_url=a.redis_url, feed=a.feed, ingest_token=ingest_token or None,
                   data_dir=a.data_dir, rooms=a.rooms, insights_every_s=a.insights_every,
                   allowed_hosts=allowed_hosts(a.host, a.allowed_hosts), admin_password=admin_password or None,
                   sim_speed=a.sim_speed, session_minutes=a.session_minutes,
                   ended_grace_minutes=max(0.0, a.ended_grace_minutes))


def _first_line(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError as e:
        raise SystemExit(f"livewall: cannot read {path}: {e.strerror}") from None
    return (text.splitlines() or [""])[0].strip()


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def allowed_hosts(host: str, extra: str) -> frozenset[str]:
    """The names a request's Host may carry: loopback, the address listened on (unless a wildcard), and
    --allowed-hosts. Anything else is refused, so that a rebound DNS name cannot reach the server."""
    names = set(LOOPBACK_HOSTS) | {x.strip().lower() for x in extra.split(",") if x.strip()}
    if host not in ("0.0.0.0", "::", ""):
        names.add(host.lower())
    return frozenset(names)


def refuse_open_listening(settings: Settings) -> None:
    """Beyond loopback, anyone on the network could send events or sign in as nobody knows whom."""
    if is_loopback(settings.host) or (settings.ingest_token and settings.admin_password):
        return
    missing = [what for what, have in (
        ("an ingest token (LIVEWALL_INGEST_TOKEN or --ingest-token-file F)", settings.ingest_token),
        ("an admin password (LIVEWALL_ADMIN_PASSWORD or --admin-password-file F)", settings.admin_password))
        if not have]
    raise SystemExit(f"livewall: listening on {settings.host} needs {' and '.join(missing)}; "
                     f"or listen on 127.0.0.1 only")
