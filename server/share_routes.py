"""The routes of tokens and links: `/api/tokens` (admin), `/api/links` (manager and admin) and `/s/<token>`,
the address a share or device link is opened at.

The middleware (server/guard.py) has resolved the caller and refused foreign origins; each route here checks
the role itself, and that the caller is a person: a token or a link may read, never make or revoke credentials.
"""
from __future__ import annotations

import asyncio
import time

import redis
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from server import auth, guard, links, tokens, web
from settings import IDENTIFY_TIMEOUT_S, LINK_COOKIE_GRACE_S, LINK_COOKIE_MAX_S, RETRY_AFTER_S


def _caller(request: Request, role: str) -> tuple[auth.Identity | None, Response | None]:
    """(who, None) when the caller is a person with `role`, else (None, the 401 or 403 to send)."""
    who = guard.identity(request)
    if who is None:
        return None, web.error(401, "sign in first (or send Authorization: Bearer <token>)")
    if who.kind != "user" or not auth.has_role(who, role):
        # tokens and links read; making or revoking credentials takes a person with the role
        return None, web.error(403, f"only a signed-in {role} may do this")
    return who, None


def add_routes(server: FastAPI, r) -> None:
    @server.post("/api/tokens")
    async def make_token(request: Request):
        who, refused = _caller(request, "admin")
        if refused:
            return refused
        try:
            body = await web.body(request)
            made = await tokens.create(r, body.get("label"), body.get("scopes"), body.get("rooms"), who.name)
        except (web.BadBody, tokens.Invalid) as e:
            return web.error(400, str(e))
        return web.json(made, 201)

    @server.get("/api/tokens")
    async def list_tokens(request: Request):
        _who, refused = _caller(request, "admin")
        return refused or web.json({"tokens": await tokens.listing(r)})

    @server.delete("/api/tokens/{token_id}")
    async def revoke_token(token_id: str, request: Request):
        _who, refused = _caller(request, "admin")
        if refused:
            return refused
        gone = await tokens.revoke(r, token_id)
        return web.json({"revoked": gone}) if gone else web.error(404, f"no token {token_id!r}")

    @server.post("/api/links")
    async def make_link(request: Request):
        who, refused = _caller(request, "manager")
        if refused:
            return refused
        try:
            body = await web.body(request)
            made = await links.create(r, body.get("label"), body.get("screen"), body.get("rooms"),
                                      body.get("expires_in_s"), body.get("kind", "share"), who)
        except (web.BadBody, tokens.Invalid) as e:
            return web.error(400, str(e))
        return web.json(made, 201)

    @server.get("/api/links")
    async def list_links(request: Request):
        who, refused = _caller(request, "manager")
        if refused:
            return refused
        # a manager sees the links they made; an admin looks after everyone's
        return web.json({"links": await links.listing(r, None if auth.has_role(who, "admin") else who.name)})

    @server.delete("/api/links/{link_id}")
    async def revoke_link(link_id: str, request: Request):
        who, refused = _caller(request, "manager")
        if refused:
            return refused
        rec = await links.find(r, link_id)
        if rec is None:
            return web.error(404, f"no live link {link_id!r}")
        if rec["created_by"] != who.name and not auth.has_role(who, "admin"):
            return web.error(403, "only its maker or an admin may revoke this link")
        gone = await links.revoke(r, link_id)
        return web.json({"revoked": gone}) if gone else web.error(404, f"no live link {link_id!r}")

    @server.get("/s/{token}")
    async def open_link(token: str, request: Request):
        try:
            rec = await asyncio.wait_for(links.resolve(r, token), IDENTIFY_TIMEOUT_S)
        except links.LinkRefused as e:
            # the sign-in page says what happened to the link (the same page a screen gets once its link stops)
            return RedirectResponse(f"/login?why=link-{e.reason}", status_code=303)
        except (redis.RedisError, OSError, asyncio.TimeoutError):
            # an open path: the middleware lets it through when Redis cannot answer, so this route says so
            return web.error(503, "data store unavailable: cannot check this link now",
                             {"Retry-After": str(RETRY_AFTER_S)})
        resp = RedirectResponse(rec["screen"], status_code=303)
        life = LINK_COOKIE_MAX_S if rec["expires"] is None else \
            min(rec["expires"] - time.time() + LINK_COOKIE_GRACE_S, LINK_COOKIE_MAX_S)
        resp.set_cookie(links.LINK_COOKIE, token, max_age=int(life), httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")
        resp.headers["Cache-Control"] = "no-store"
        return resp
