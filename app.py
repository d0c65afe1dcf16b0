"""livewall: `python app.py` starts the whole system on one machine (CONTRACT section 4).

This file only wires the parts together: the embedded Redis (when no URL is given), the engine, the insight
jobs and the simulator as child processes, and the web process (Dash pages, HTTP API, websocket) in this one.
"""
from __future__ import annotations

import logging

import uvicorn
from dash import Dash

import callbacks
from feeds import ingest
from server import alert_actions, api, parts, push, share_routes, suggestion_actions
from settings import Settings
from store import embedded
from store.connect import async_client


def build(redis_url: str, ingest_token: str | None = None) -> Dash:
    """The web process: Dash on its FastAPI backend, with the API and the websocket on the same server."""
    app = Dash(__name__, backend="fastapi", title="livewall", use_pages=True, pages_folder="",
               suppress_callback_exceptions=True, update_title=None)
    r = async_client(redis_url)
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
    return app


def serve(app: Dash, host: str, port: int) -> None:
    # No per-message deflate: compressing each frame once per socket was ~85% of the hub's cost per screen
    # (bench/push.py); frames are ~8 KB at 4 Hz, ~30 KB/s a screen uncompressed.
    uvicorn.run(app.server, host=host, port=port, log_level="warning", ws="websockets-sansio",
                ws_per_message_deflate=False)


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = logging.getLogger("livewall")
    server = None
    if settings.redis_url:
        redis_url = settings.redis_url
    else:
        server = embedded.start(settings.data_dir / "redis")
        redis_url = server.url
        log.info("embedded redis-server in %s", server.directory)
    children = [parts.start("engine", "--redis-url", redis_url),
                parts.start("insights", "--redis-url", redis_url, "--every", str(settings.insights_every_s))]
    if settings.feed == "sim":
        children.append(parts.start("feeds.simulator", "--redis-url", redis_url, "--rooms", str(settings.rooms)))
    try:
        app = build(redis_url, settings.ingest_token)
        log.info("livewall on http://%s:%d  (wall: /wall, matrix: /wall?mode=matrix, tablet: /assistant/<room>, "
                 "manager: /manager, API: /api/rooms)",
                 settings.host, settings.port)
        serve(app, settings.host, settings.port)
    finally:
        parts.stop(children)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
