"""livewall: `python app.py` starts the whole system on one machine (CONTRACT section 4).

This file only wires the parts together: the embedded Redis (when no URL is given), the engine, the insight
jobs and the simulator as child processes under a supervisor (store/parts.py), and the web process (Dash
pages, HTTP API, websocket: server/asgi.py) in this one. What would stop it from working (a port in use, a
data dir in use, a Redis that cannot be reached) ends it at once with one line saying what to do.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import NoReturn

import redis

from feeds.connectors import base as connector_base, config as connectors_config
from server import asgi, signin, tokens, users
from settings import CLUSTER_DEMO_MASTERS, Settings, is_loopback, refuse_open_listening
from store import cluster, embedded, parts
from store.connect import sync_client


def fail(message: str) -> NoReturn:
    """One line on stderr and a non-zero exit, before anything was started."""
    sys.exit(f"livewall: {message}")


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a port in use is found before anything else starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is in use (another livewall?): stop what uses it, or choose another "
                 "port with --port")
        fail(f"cannot listen on {host}:{port} ({e.strerror}): check --host and --port")
    sock.listen(2048)
    return sock


def lock_data_dir(directory: Path) -> None:
    """Hold the data dir for this process's lifetime: the descriptor stays open until the process ends, and
    the lock goes with it, even on SIGKILL (children do not inherit it)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / "livewall.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        fail(f"data dir {directory} is in use by another running livewall (pid {holder}): stop it, or give "
             "this one another --data-dir")
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())


def check_redis(url: str) -> None:
    try:
        client = sync_client(url, retries=0)
        client.ping()
        client.close()
    except (redis.RedisError, redis.exceptions.RedisClusterException, OSError, ValueError) as e:
        fail(f"cannot reach Redis at {url} ({e}): start it, or fix --redis-url / LIVEWALL_REDIS_URL (or leave "
             "both out for an embedded Redis)")


POLLING = ("qianchuan", "doudian")


def load_connectors(path: Path | None) -> dict:
    """The connectors' config, checked before anything starts (a wrong one ends the start with its reason)."""
    if path is None:
        return {}
    try:
        return connectors_config.load(path)
    except connectors_config.ConfigError as e:
        fail(f"connectors config: {e}")


def _exit_on_sigterm(signum, _frame) -> None:
    # uvicorn raises the SIGTERM it stopped on again once it is done; dying of it would skip main's `finally`,
    # and the children and the embedded Redis would all get their death signal at once, Redis going away
    # under the engine's last checkpoint and the simulator's last resume record.
    raise SystemExit(128 + signum)


def private_data_dir(path: Path) -> None:
    """The data dir holds the append-only file (every event, every account): readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o700)
        for f in files:
            if not os.path.islink(os.path.join(root, f)):
                os.chmod(os.path.join(root, f), 0o600)


def forget_old_connectors(redis_url: str, connectors: dict) -> None:
    client = sync_client(redis_url)
    try:
        connector_base.forget_others(client, [n for n, c in connectors.items() if c["kind"] in POLLING])
    finally:
        client.close()


def set_up_admin(redis_url: str, settings: Settings) -> str:
    """Create or update the user admin from the configured password; without one, make sure admin exists
    and return the one-time sign-in link for the startup line."""
    client = sync_client(redis_url)
    try:
        users.put(client, users.ADMIN, "admin", None, settings.admin_password)
        if settings.admin_password:
            return ""
        host = settings.host if is_loopback(settings.host) else "127.0.0.1"
        return f"  sign in: http://{host}:{settings.port}/login/once/{signin.make_once_link(client)}"
    finally:
        client.close()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["users"]:
        raise SystemExit(users.cli(argv[1:]))
    if argv[:1] == ["tokens"]:
        raise SystemExit(tokens.cli(argv[1:]))
    settings = Settings.from_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    refuse_open_listening(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = logging.getLogger("livewall")
    connectors = load_connectors(settings.connectors)
    sock = listen(settings.host, settings.port)
    supervisor = parts.Supervisor()
    if settings.redis_url:
        redis_url = settings.redis_url
        check_redis(redis_url)
    elif settings.cluster_demo:
        lock_data_dir(settings.data_dir)
        private_data_dir(settings.data_dir)
        try:
            demo = cluster.start(settings.data_dir / "cluster", masters=CLUSTER_DEMO_MASTERS)
        except RuntimeError as e:
            fail(f"the demo Redis Cluster did not start in {settings.data_dir / 'cluster'}: {e}")
        redis_url = demo.url
        log.info("demo Redis Cluster (%s) in %s: %s", demo.binary, demo.directory, redis_url)
        for node in demo.nodes:
            supervisor.add(f"redis-{node.port}", lambda node=node: demo.start_node(node) or node.proc, node.proc)
    else:
        lock_data_dir(settings.data_dir)
        private_data_dir(settings.data_dir)
        directory = settings.data_dir / "redis"
        try:
            first = embedded.start(directory)
        except RuntimeError as e:
            fail(f"the embedded Redis did not start in {directory}: {e}")
        redis_url = first.url
        log.info("embedded redis-server in %s", first.directory)
        # the same unix socket each time: a restarted Redis (reloading its append-only file) keeps the URL
        supervisor.add("redis", lambda: embedded.start(directory).proc, first.proc)
    try:
        sign_in = set_up_admin(redis_url, settings)
        forget_old_connectors(redis_url, connectors)
        for i in range(settings.engine_workers):
            supervisor.add("engine" if i == 0 else f"engine-{i + 1}", lambda: parts.start("engine", "--redis-url",
                                                                                          redis_url))
        public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
        supervisor.add("insights", lambda: parts.start("insights", "--redis-url", redis_url, "--every",
                                                       str(settings.insights_every_s),
                                                       "--data-dir", str(settings.data_dir),
                                                       "--daily-report-at", settings.daily_report_at,
                                                       "--report-tz", settings.report_tz, "--public-url", public_url))
        if settings.feed == "sim":
            supervisor.add("simulator", lambda: parts.start("feeds.simulator", "--redis-url", redis_url,
                                                            "--rooms", str(settings.rooms),
                                                            "--speed", str(settings.sim_speed),
                                                            "--session-minutes", str(settings.session_minutes)))
        for name, cfg in connectors.items():
            if cfg["kind"] in POLLING:   # a push connector is a route of the web process, not a part
                supervisor.add(f"connector:{name}", lambda name=name: parts.start(
                    "feeds.connectors", name, "--config", str(settings.connectors), "--redis-url", redis_url))
        try:
            web_app = asgi.build(redis_url, settings.ingest_token, settings.allowed_hosts, supervisor.status,
                                 connectors, settings.data_dir, settings.ended_grace_minutes)
        except connectors_config.ConfigError as e:
            fail(f"connectors config: {e}")
        log.info("livewall on http://%s:%d  (wall: /wall, matrix: /wall?mode=matrix, tablet: /assistant/<room>, "
                 "manager: /manager, API: /api/rooms)%s",
                 settings.host, settings.port, sign_in)
        asgi.serve(web_app, settings.host, settings.port, sock)
    finally:
        supervisor.stop()


if __name__ == "__main__":
    main()
