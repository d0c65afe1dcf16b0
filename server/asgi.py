"""The web process: Dash pages, the HTTP API and the websocket on one server (Dash on its FastAPI backend,
under uvicorn). `python app.py` runs it beside its child processes; `python -m server` runs it alone.
"""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Callable

import httpx
import uvicorn
from dash import Dash

import callbacks
from server import pages
from feeds import ingest
from server import (alert_actions, api, connector_routes, guard, push, review_routes, share_routes, signin,
                    stage_actions, suggestion_actions)
from settings import ENDED_GRACE_MINUTES, LOOPBACK_HOSTS
from store.connect import async_client

ASSETS = Path(__file__).resolve().parent.parent / "assets"   # Dash would look beside this module


def build(redis_url: str, ingest_token: str | None = None,
          allowed_hosts: frozenset[str] = frozenset(LOOPBACK_HOSTS),
          parts_status: Callable[[], dict] | None = None, connectors: dict | None = None,
          data_dir: Path | None = None, ended_grace_minutes: float = ENDED_GRACE_MINUTES) -> guard.Guard:
    """The web process's ASGI app: the checks of server/guard.py around Dash, the API and the websocket.
    `data_dir`: where the archive of ended sessions is read (store/archive.py); None: the default data dir."""
    app = Dash(__name__, backend="fastapi", title="livewall", use_pages=True, pages_folder="",
               suppress_callback_exceptions=True, update_title=None, assets_folder=str(ASSETS))
    r = async_client(redis_url)
    signin.add_routes(app.server, r)
    ingest.add_routes(app.server, r, ingest_token)
    alert_actions.add_routes(app.server, r)
    suggestion_actions.add_routes(app.server, r)
    stage_actions.add_routes(app.server, r)
    share_routes.add_routes(app.server, r)
    connector_routes.add_routes(app.server, r, connectors)   # before api's catch-all 404 for /api/...
    review_routes.add_routes(app.server, r, data_dir)   # before api's catch-all 404 for /api/...
    api.add_routes(app.server, r, parts_status, data_dir)
    push.add_routes(app.server, redis_url, r)
    pages.register(ended_grace_minutes)
    callbacks.register(app)
    # Screens get their data from the /ws hub, one socket per page. Dash's renderer would open a second one
    # (to /_dash-ws-callback, through a SharedWorker) that nothing uses, whenever the backend can serve it.
    app.backend.websocket_capability = False
    _set_up_dash(app)
    # The outermost layer: no route, Dash's included, runs before its checks.
    return guard.Guard(app.server, r=r, allowed_hosts=allowed_hosts, ingest_token=ingest_token)


def _set_up_dash(app: Dash) -> None:
    """Dash 4.4 on FastAPI sets itself up (the pages router, then assets, scripts and callbacks) on the first
    request to one of its own routes, and a page path such as /wall is not one: the first screen opened
    after a start would come without its JavaScript. So make that first request now, in this process, when
    every screen is registered; it goes to Dash directly, not through the guard, and touches no Redis."""
    async def first_request() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app.server), base_url="http://setup") as c:
            (await c.get("/_dash-dependencies")).raise_for_status()
    asyncio.run(first_request())


def serve(asgi, host: str, port: int, sock: socket.socket | None = None) -> None:
    """Serve on host:port, or on `sock` when it was bound before (by `listen`)."""
    # No per-message deflate: compressing each frame once per socket was ~85% of the hub's cost per screen
    # (bench/push.py); frames are ~8 KB at 4 Hz, ~30 KB/s a screen uncompressed.
    config = uvicorn.Config(asgi, host=host, port=port, log_level="warning", ws="websockets-sansio",
                            ws_per_message_deflate=False)
    uvicorn.Server(config).run(sockets=[sock] if sock else None)
