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
# A room's engine work is leased to one worker at a time (store/leases.py): a dead worker's rooms move to the
# others this long after its last renewal, at most; a worker renews every third of it. Shorter moves rooms
# sooner after a crash but costs a renewal call per room more often, and a stall (a long GC, a swapped-out
# process) longer than this costs the worker its rooms.
ENGINE_LEASE_S = 3.0
# The same for the insight jobs' rooms (ads, re-run, risk): their runs are seconds apart anyway.
JOBS_LEASE_S = 5.0
# The simulator saves each room's resume record this often (and after every ad control), so a restart, even
# after a SIGKILL, continues every running session (feeds/simulator.py `run_with`).
RESUME_EVERY_S = 2.0
# An outage up to this much event time is caught up, session and all; after a longer one a room's running
# session ends at its last event and a new one starts (simulating hours of missed events would take minutes).
RESUME_MAX_GAP_S = 1800.0
# A fresh simulated room's first session ends this many minutes (wall clock, "A,B": staggered across rooms)
# after the start, so that `python app.py` has ended sessions to review within minutes; later ones last
# --session-minutes. The simulator's --first-session-minutes changes it ("0": full length).
SIM_FIRST_SESSION_MINUTES = "3,8"
# The web process's Redis calls: each answers or fails within this (a stalled Redis then gets a 503 with
# Retry-After, CONTRACT section 3, instead of a request hanging); connecting gets less.
WEB_REDIS_TIMEOUT_S = 1.0
WEB_REDIS_CONNECT_TIMEOUT_S = 0.5
RETRY_AFTER_S = 2
# Ad-spend suggestions (insights/ads.py): a suggestion is a snapshot, its figures fixed when made; one with the
# same proposal is kept for this much event time, then a fresh snapshot replaces it (marked "updated").
SUGGESTION_SNAPSHOT_MAX_AGE_S = 120.0
# A suggestion that goes against a change approved or applied on the same campaign within this much event time
# says so ("reverses −30% approved 23:41 by amy"); each room may set its own (ads config `reversal_notice_s`).
SUGGESTION_REVERSAL_NOTICE_S = 1800.0
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
# The archive (insights/archiver.py, store/archive.py): a session that ended with session_end is archived once its
# room has had no new figures for ARCHIVE_GRACE_S (events up to 60 s late still count in it); a session whose room
# has had no event for ARCHIVE_IDLE_S of wall time is archived as it stands (a feed that died without
# session_end). Both can be set in the environment (LIVEWALL_ARCHIVE_GRACE_S, LIVEWALL_ARCHIVE_IDLE_S).
ARCHIVE_GRACE_S = float(os.environ.get("LIVEWALL_ARCHIVE_GRACE_S", 65))
ARCHIVE_IDLE_S = float(os.environ.get("LIVEWALL_ARCHIVE_IDLE_S", 30 * 60))
ARCHIVE_EVERY_S = 5.0
# The review of a running session reads its events from the room's log on request; past this many log entries
# it comes without segments and per-minute sources (`partial: true`) until the session is archived.
LIVE_REVIEW_MAX_EVENTS = 300_000
# A screen that has had no frame of a running session for this long says how old its data is instead of "live".
SCREEN_STALE_S = 10
# Connectors to the platforms (feeds/connectors/): the config file read at start (--connectors F, else this name
# in the data dir when it exists), and how a connector paces itself.
CONNECTORS_FILE = "connectors.yaml"
CONNECTOR_POLL_S = 30.0           # a poller's default interval (per connector: `poll_s`)
CONNECTOR_TIMEOUT_S = 10.0        # one call to a platform answers within this, or counts as an error
CONNECTOR_MAX_BACKOFF_S = 300.0   # consecutive errors double the wait up to this (a Retry-After may ask more)
CONNECTOR_TOKEN_MARGIN_S = 600.0  # an OAuth access token is refreshed this long before it expires
CONNECTOR_ORDER_OVERLAP_S = 300.0  # an order poll starts this far before its cursor: late updates are read again
PUSH_MAX_SKEW_S = 300.0           # a push whose signed timestamp is further than this from now is a replay: 401
PUSH_MAX_BODY_BYTES = 1024 * 1024  # a push body over this gets 413
CLUSTER_DEMO_MASTERS = 3   # python app.py --cluster-demo
CLUSTER_POLL_MS = 20       # on a cluster, a read over many rooms' streams cannot block: it polls this often
# A room whose session ended this long ago leaves the wall's rotation and the matrix (it comes back when a new
# session starts); until then it shows, marked "ended", so the control room sees the end of the session.
# `--ended-grace-minutes` (python app.py, python -m server) or LIVEWALL_ENDED_GRACE_MINUTES.
ENDED_GRACE_MINUTES = 10.0


# The review's comparison with the past (insights/baseline.py): how many earlier ended sessions of the room make
# the baseline by default (`?n=` up to BASELINE_MAX_SESSIONS), and how long a computed baseline stays cached.
BASELINE_SESSIONS = 5
BASELINE_MAX_SESSIONS = 50
BASELINE_CACHE_S = 3600
# The daily report (insights/report.py) to the alert webhook's chat: when, in which timezone "yesterday" and the
# times it prints are taken, and the address its review links start with.
DAILY_REPORT_AT = "09:00"
REPORT_TZ = "Asia/Shanghai"
# A review export or report prints times in this zone (the platforms' and the teams' clock).
EXPORT_TZ = REPORT_TZ
# The HTML report lists this many products (the CSV and XLSX carry all of them).
EXPORT_HTML_PRODUCTS = 20

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


def parse_at(at: str) -> tuple[int, int]:
    """"HH:MM" (24 h) → (hour, minute); ValueError otherwise."""
    hh, _, mm = at.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f"a time of day is HH:MM, not {at!r}")
    return int(hh), int(mm)


def _time_of_day(at: str) -> str:
    if at:
        try:
            parse_at(at)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return at


def add_report_options(p: argparse.ArgumentParser) -> None:
    """The daily report's options (insights/report.py), taken by `python app.py` and `python -m insights`."""
    p.add_argument("--daily-report-at", default=DAILY_REPORT_AT, type=_time_of_day,
                   help=f"HH:MM: when yesterday's sessions go to the alert webhook's chat (default {DAILY_REPORT_AT}; "
                        "'' for no report)")
    p.add_argument("--report-tz", default=REPORT_TZ, help=f"the report's timezone (default {REPORT_TZ})")
    p.add_argument("--public-url", default=None,
                   help="the address people open livewall at, for the report's review links "
                        "(default http://<host>:<port>)")


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
    engine_workers: int = 1
    sim_speed: float = 1.0
    session_minutes: float = 120.0
    allowed_hosts: frozenset[str] = frozenset(LOOPBACK_HOSTS)
    admin_password: str | None = field(default=None, repr=False)
    connectors: Path | None = None
    daily_report_at: str = DAILY_REPORT_AT
    report_tz: str = REPORT_TZ
    public_url: str | None = None
    cluster_demo: bool = False
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
        p.add_argument("--engine-workers", type=int, default=1,
                       help="engine worker processes to start (they share the rooms; more run anywhere with "
                            "`python -m engine`)")
        p.add_argument("--sim-speed", type=float, default=1.0,
                       help="simulated rooms: event time per wall-clock second (a demo or test at 10x)")
        p.add_argument("--session-minutes", type=float, default=120.0, help="simulated rooms: a session's length")
        p.add_argument("--connectors", type=Path,
                       help=f"the platform connectors' config (default: {CONNECTORS_FILE} in the data dir, if any)")
        add_report_options(p)
        p.add_argument("--cluster-demo", action="store_true",
                       help="run on a local three-master Redis Cluster started in the data dir (Redis 7's "
                            "redis-server and redis-cli), to see the scale-out setup on one machine")
        p.add_argument("--ended-grace-minutes", type=float,
                       default=float(os.environ.get("LIVEWALL_ENDED_GRACE_MINUTES", ENDED_GRACE_MINUTES)),
                       help="a room whose session ended this long ago leaves the wall's rotation and matrix")
        a = p.parse_args(argv)
        if a.cluster_demo and a.redis_url:
            p.error("--cluster-demo starts its own cluster: leave out --redis-url")
        ingest_token = _first_line(a.ingest_token_file) if a.ingest_token_file else a.ingest_token
        admin_password = (_first_line(a.admin_password_file) if a.admin_password_file
                          else os.environ.get("LIVEWALL_ADMIN_PASSWORD"))
        return cls(host=a.host, port=a.port, redis_url=a.redis_url, feed=a.feed, ingest_token=ingest_token or None,
                   data_dir=a.data_dir, rooms=a.rooms, insights_every_s=a.insights_every,
                   engine_workers=max(1, a.engine_workers),
                   allowed_hosts=allowed_hosts(a.host, a.allowed_hosts), admin_password=admin_password or None,
                   sim_speed=a.sim_speed, session_minutes=a.session_minutes, daily_report_at=a.daily_report_at,
                   report_tz=a.report_tz, public_url=a.public_url, cluster_demo=a.cluster_demo,
                   ended_grace_minutes=max(0.0, a.ended_grace_minutes),
                   connectors=a.connectors or _if_exists(a.data_dir / CONNECTORS_FILE))


def _if_exists(path: Path) -> Path | None:
    return path if path.is_file() else None


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
