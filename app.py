"""livewall: `python app.py` starts the whole system on one machine (CONTRACT section 4).

This file only wires the parts together: the embedded Redis (when no URL is given), the engine, the insight
jobs and the simulator as child processes, and the web process (Dash pages, HTTP API, websocket) in this one.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import uvicorn
from dash import Dash

import callbacks
from feeds import ingest
from server import alert_actions, api, guard, parts, push, share_routes, signin, suggestion_actions, tokens, users
from settings import LOOPBACK_HOSTS, Settings, is_loopback
from store import embedded
from store.connect import async_client, sync_client


def build(redis_url: str, ingest_token: str | None = None,
          allowed_hosts: frozenset[str] = frozenset(LOOPBACK_HOSTS)) -> Dash:
    """The web process: Dash on its FastAPI backend, with the API and the websocket on the same server."""
    app = Dash(__name__, backend="fastapi", title="livewall", use_pages=True, pages_folder="",
               suppress_callback_exceptions=True, update_title=None)
    r = async_client(redis_url)
    signin.add_routes(app.server, r)
    ingest.add_routes(app.server, r, ingest_token)
    alert_actions.add_routes(app.server, r)
    suggestion_actions.add_routes(app.server, r)
    share_routes.add_routes(app.server, r)
    api.add_routes(app.server, r)
    push.add_routes(app.server, redis_url, r)
    callbacks.register(app)
    # Screens get their data from the /ws hub, one socket per page. Dash's renderer would open a second one
    # (to /_dash-ws-callback, through a SharedWorker) that nothing uses, whenever the backend can serve it.
    app.backend.websocket_capability = False
    # Dash 4.4 on FastAPI sets itself up (assets, scripts, callbacks) on the first request to one of its own
    # routes, and a page path such as /wall is not one: the first screen opened after a start would come
    # without its JavaScript. Set up now, when every screen is registered; the pages router first, since its
    # clientside callback (the tab title) must be among the scripts the setup collects.
    for hook in app.backend._before_request_funcs:
        if hook.__name__.startswith("router"):
            hook()
    app._setup_server()
    # Added last, so it is the outermost layer: no route, Dash's included, runs before its checks.
    app.server.add_middleware(guard.Guard, r=r, allowed_hosts=allowed_hosts, ingest_token=ingest_token)
    return app


def serve(app: Dash, host: str, port: int) -> None:
    # No per-message deflate: compressing each frame once per socket was ~85% of the hub's cost per screen
    # (bench/push.py); frames are ~8 KB at 4 Hz, ~30 KB/s a screen uncompressed.
    uvicorn.run(app.server, host=host, port=port, log_level="warning", ws="websockets-sansio",
                ws_per_message_deflate=False)


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


def private_data_dir(path: Path) -> None:
    """The data dir holds the append-only file (every event, every account): readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o700)
        for f in files:
            if not os.path.islink(os.path.join(root, f)):
                os.chmod(os.path.join(root, f), 0o600)


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
    refuse_open_listening(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = logging.getLogger("livewall")
    server = None
    if settings.redis_url:
        redis_url = settings.redis_url
    else:
        private_data_dir(settings.data_dir)
        server = embedded.start(settings.data_dir / "redis")
        redis_url = server.url
        log.info("embedded redis-server in %s", server.directory)
    sign_in = set_up_admin(redis_url, settings)
    children = [parts.start("engine", "--redis-url", redis_url),
                parts.start("insights", "--redis-url", redis_url, "--every", str(settings.insights_every_s))]
    if settings.feed == "sim":
        children.append(parts.start("feeds.simulator", "--redis-url", redis_url, "--rooms", str(settings.rooms)))
    try:
        app = build(redis_url, settings.ingest_token, settings.allowed_hosts)
        log.info("livewall on http://%s:%d  (wall: /wall, matrix: /wall?mode=matrix, tablet: /assistant/<room>, "
                 "manager: /manager, API: /api/rooms)%s",
                 settings.host, settings.port, sign_in)
        serve(app, settings.host, settings.port)
    finally:
        parts.stop(children)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
