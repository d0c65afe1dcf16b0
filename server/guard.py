"""The checks every request passes before any route sees it (CONTRACT section 3 "Who may do what").

A pure-ASGI middleware, in this order: the `Host` must be an allowed host (no DNS rebinding); a state change
(POST, PUT, PATCH, DELETE) with a foreign `Origin` is refused, and one whose body is not JSON too (a form or a
`text/plain` POST is what another site's page can send without asking); then the caller's identity is resolved
and put in `scope["state"]["identity"]`. Without one, the API answers 401, a page redirects to the sign-in page,
and `/ws` fails its handshake. Routes then check role and room with `need`.
"""
from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

import orjson
import redis
from starlette.datastructures import Headers, QueryParams
from starlette.requests import cookie_parser
from starlette.responses import RedirectResponse, Response

from server import auth, links
from settings import IDENTIFY_TIMEOUT_S, RETRY_AFTER_S

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Open without credentials: the health check, signing in and out, a one-time or share link (checked by its
# own route), and static files (the same for everyone; no data in them).
HEALTH_PATH = "/healthz"
OPEN_PATHS = frozenset({HEALTH_PATH, "/login", "/logout", "/api/login", "/api/logout", "/favicon.ico"})
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/", "/login/once/", "/s/")
# Credentials are checked by the route itself: ingest takes a token, or none when none is configured.
OWN_CHECK = frozenset({"/api/events"})
# A platform's push carries no identity of ours: its signature, checked by the route, is its credential
# (server/connector_routes.py). Exactly this path; every other /api/connectors route needs credentials.
PUSH_PATH = re.compile(r"^/api/connectors/[a-z0-9][a-z0-9_-]{0,31}/push$")
JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/json", "application/x-ndjson")


def json_error(status: int, reason: str, headers: dict | None = None) -> Response:
    return Response(orjson.dumps({"error": reason}), status_code=status, media_type="application/json",
                    headers=headers)


def identity(request) -> auth.Identity | None:
    """The identity the middleware resolved for this request (or websocket)."""
    return request.scope.get("state", {}).get("identity")


def need(request, role: str = "viewer", room: str | None = None) -> Response | None:
    """None when the caller may do this, else the response to send: 401 without credentials, 403 without the
    role or the room (or for a token that may not read)."""
    who = identity(request)
    if who is None:
        return json_error(401, "sign in first (POST /api/login), or send Authorization: Bearer <token>")
    if not auth.has_role(who, role):
        return json_error(403, f"{who.name} is a {who.role}; this needs a {role}")
    if "read" not in who.scopes:
        return json_error(403, "this token may only send events")
    if room is not None and not auth.can_read(who, room):
        return json_error(403, f"{who.name} may not see room {room!r}")
    return None


def own_origin(scope, host: str) -> str:
    """The server's own origin for this request: its scheme, and host and port from `Host`."""
    scheme = {"ws": "http", "wss": "https"}.get(scope["scheme"], scope["scheme"])
    return f"{scheme}://{host}"


def host_name(host: str) -> str:
    """`example.com` from `example.com:8050`, `::1` from `[::1]:8050`."""
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def is_page(path: str) -> bool:
    """A path a person opens in the browser (a screen), not one a script reads."""
    return not path.startswith(("/api/", "/_dash-", "/ws")) and path not in ("/openapi.json",)


def link_may_open(who: auth.Identity, path: str) -> bool:
    """A share or device link opens only its screens (and what those screens read)."""
    if who.screens is None or not is_page(path) or is_open(path):   # static files serve every screen
        return True
    return any(path == s or path.startswith(s.rstrip("/") + "/") for s in who.screens)


class Guard:
    def __init__(self, app, r, allowed_hosts: frozenset[str], ingest_token: str | None):
        self.app = app
        self.r = r
        self.allowed_hosts = allowed_hosts
        self.ingest_token = ingest_token

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if host_name(host).lower() not in self.allowed_hosts:
            return await self._refuse(scope, receive, send, json_error(
                400, f"host {host!r} is not allowed here (--allowed-hosts)"))
        origin = headers.get("origin")
        foreign = origin is not None and origin.lower() != own_origin(scope, host).lower()
        path = scope["path"]
        if scope["type"] == "websocket" and foreign:
            return await self._refuse(scope, receive, send, None)
        method = scope.get("method", "GET")
        if method in STATE_CHANGING:
            if foreign:
                return await self._refuse(scope, receive, send, json_error(
                    403, f"a request from {origin} may not change anything here"))
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            allowed = NDJSON_TYPES if path in OWN_CHECK else JSON_TYPES
            if kind not in allowed and (kind or _has_body(headers)):
                return await self._refuse(scope, receive, send, json_error(
                    415, f"send {' or '.join(allowed)} (Content-Type)"))
        if path == HEALTH_PATH:
            # who asks does not matter, and the answer must come within a second even while Redis stalls
            return await self.app(scope, receive, send)
        cookies = cookie_parser(headers.get("cookie", ""))
        refused = None
        try:
            who = await asyncio.wait_for(auth.identify(
                self.r, headers, cookies, QueryParams(scope.get("query_string", b"")), self.ingest_token),
                IDENTIFY_TIMEOUT_S)
        except links.LinkRefused as e:
            who, refused = None, e.reason
        except (redis.RedisError, OSError, asyncio.TimeoutError):
            if not is_open(path):
                return await self._refuse(scope, receive, send, json_error(
                    503, "data store unavailable: cannot check credentials now", headers={"Retry-After": str(RETRY_AFTER_S)}))
            who = None   # the health check and the sign-in page answer for themselves
        scope.setdefault("state", {})["identity"] = who
        if who is None and not (is_open(path) or path in OWN_CHECK or PUSH_PATH.match(path)):
            return await self._refuse(scope, receive, send, self._unsigned(scope, path, refused))
        if who is not None and not link_may_open(who, path):
            return await self._refuse(scope, receive, send, json_error(403, "this link does not open that page"))
        return await self.app(scope, receive, send)

    @staticmethod
    def _unsigned(scope, path: str, refused: str | None) -> Response:
        if scope["type"] == "http" and scope.get("method") == "GET" and is_page(path):
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
            why = f"&why=link-{refused}" if refused else ""
            return RedirectResponse(f"/login?next={quote(target, safe='')}{why}", status_code=303)
        if refused:
            return json_error(401, f"this link is {refused}; sign in or ask for a new link")
        return json_error(401, "sign in first (POST /api/login), or send Authorization: Bearer <token>")

    async def _refuse(self, scope, receive, send, response: Response | None):
        if scope["type"] == "websocket":
            # Closing before accepting fails the handshake (HTTP 403): the page never gets a frame.
            await send({"type": "websocket.close", "code": 1008})
            return
        await response(scope, receive, send)


def _has_body(headers: Headers) -> bool:
    return headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
