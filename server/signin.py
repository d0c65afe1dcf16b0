"""Signing in and out: `POST /api/login`, `POST /api/logout`, the sign-in and sign-out pages, and the one-time
sign-in link printed at start when no admin password is set (CONTRACT sections 3 and 4).

Failed attempts are counted in Redis per user and per client address; past the limit the answer is 429 with
`Retry-After` until the window ends, whatever the password. The pages are plain HTML in the screens' dark look,
in Chinese or English (`?lang=`, else the browser's language); they echo nothing from the request.
"""
from __future__ import annotations

import asyncio
import hashlib
import secrets

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from components.i18n import TEXT, text
from server import auth, links, users
from server.guard import json_error
from settings import (LOGIN_MAX_FAILURES_PER_ADDRESS, LOGIN_MAX_FAILURES_PER_USER, LOGIN_WINDOW_S,
                      ONCE_LINK_TTL_S, SESSION_MAX_AGE_S)
from store import keys
from store.connect import mget


def _once_key(token: str) -> str:
    return keys.once(hashlib.sha256(token.encode()).hexdigest())


def make_once_link(client, name: str = users.ADMIN) -> str:
    """A one-time sign-in token for `name` (sync client: made at start, before the server runs)."""
    token = secrets.token_urlsafe(24)
    client.set(_once_key(token), name, ex=ONCE_LINK_TTL_S)
    return token


def set_session(response: Response, request: Request, value: str) -> None:
    response.set_cookie(auth.SESSION_COOKIE, value, max_age=SESSION_MAX_AGE_S, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


async def _locked_for(r, names: list[str]) -> int:
    """Seconds until sign-in is allowed again for any of these counters (0: allowed now)."""
    limits = {"u": LOGIN_MAX_FAILURES_PER_USER, "a": LOGIN_MAX_FAILURES_PER_ADDRESS}
    counts = await mget(r, [keys.login_failures(n) for n in names])
    wait = 0
    for name, count in zip(names, counts):
        if count is not None and int(count) >= limits[name[0]]:
            wait = max(wait, await r.ttl(keys.login_failures(name)), 1)
    return wait


async def _failed(r, names: list[str]) -> None:
    pipe = r.pipeline(transaction=False)
    for n in names:
        pipe.set(keys.login_failures(n), 0, ex=LOGIN_WINDOW_S, nx=True)   # the window starts at the first
        pipe.incr(keys.login_failures(n))
    await pipe.execute()


def add_routes(server: FastAPI, r) -> None:
    @server.post("/api/login")
    async def login(request: Request):
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return json_error(400, "body is not JSON")
        name, password = (body.get("user"), body.get("password")) if isinstance(body, dict) else (None, None)
        if not isinstance(name, str) or not isinstance(password, str) or not users.NAME_RE.match(name):
            return json_error(400, 'send {"user": "<name>", "password": "<password>"}')
        counters = [f"u:{name}", f"a:{request.client.host if request.client else '-'}"]
        wait = await _locked_for(r, counters)
        if wait:
            return json_error(429, f"too many failed sign-ins; try again in {wait} s",
                              headers={"Retry-After": str(wait)})
        stored = await r.hmget(keys.user(name), "hash", "version")
        # argon2 takes tens of milliseconds of CPU on purpose: off the event loop, so screens keep streaming
        if not await asyncio.to_thread(users.verify, stored[0], password):
            await _failed(r, counters)
            return json_error(401, "wrong user name or password")
        await r.delete(keys.login_failures(counters[0]))
        found = await auth.user_identity(r, name)
        if found is None:
            return json_error(401, "wrong user name or password")
        who, version = found
        response = JSONResponse({"user": who.name, "role": who.role})
        set_session(response, request, await auth.session_cookie(r, who.name, version))
        return response

    @server.post("/api/logout")
    async def logout(request: Request):
        response = JSONResponse({"signed_out": True})
        for cookie in (auth.SESSION_COOKIE, links.LINK_COOKIE):
            response.delete_cookie(cookie, path="/", httponly=True, samesite="lax",
                                   secure=request.url.scheme == "https")
        return response

    @server.get("/login/once/{token}")
    async def once(token: str, request: Request):
        name = await r.getdel(_once_key(token))
        found = await auth.user_identity(r, name.decode()) if name else None
        if found is None:
            return RedirectResponse("/login?why=once-used", status_code=303)
        response = RedirectResponse("/", status_code=303)
        set_session(response, request, await auth.session_cookie(r, found[0].name, found[1]))
        return response

    @server.get("/login")
    async def login_page(request: Request):
        return HTMLResponse(page(_lang(request), "in", request.query_params.get("why")))

    @server.get("/logout")
    async def logout_page(request: Request):
        return HTMLResponse(page(_lang(request), "out", None))


def _lang(request: Request) -> str:
    asked = (request.query_params.get("lang") or request.headers.get("accept-language") or "").lower()
    return "zh" if asked.startswith("zh") else "en"


def page(lang: str, which: str, why: str | None) -> str:
    notice = f'<p class="lw-auth-notice">{text(why, lang)}</p>' \
        if why in TEXT and why.startswith(("link", "once")) else ""
    if which == "in":
        body = f"""{notice}
<form id="f" autocomplete="on">
  <label>{text("user", lang)}<input name="user" autocomplete="username" required autofocus></label>
  <label>{text("password", lang)}<input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">{text("sign_in", lang)}</button>
  <p class="lw-auth-error" id="err" role="alert"></p>
</form>"""
        script = SIGN_IN_JS.replace("WRONG", orjson.dumps(text("wrong", lang)).decode()) \
                           .replace("BUSY", orjson.dumps(text("busy", lang)).decode())
    else:
        body = f"""<form id="f"><button type="submit">{text("sign_out", lang)}</button></form>
<p id="done" hidden>{text("signed_out", lang)} <a href="/login?lang={lang}">{text("again", lang)}</a></p>"""
        script = SIGN_OUT_JS
    title = text("title_in" if which == "in" else "title_out", lang)
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}" class="lw-manager-page"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/assets/livewall-theme.css"><style>{CSS}</style></head>
<body><main class="lw-manager lw-auth"><div class="lw-auth-box"><h1><span class="lw-auth-mark">livewall</span>
{title}</h1>{body}</div></main><script>{script}</script></body></html>"""


CSS = """
body { margin: 0; }
.lw-auth { --panel: #0f1526; --text: #eef3ff; --text-2: #aab6d2; min-height: 100vh; display: flex;
  align-items: center; justify-content: center; color: var(--text); background: radial-gradient(ellipse at
  10% -20%, #14204a 0%, rgba(7, 10, 18, 0) 50%), #070a12; font-size: 15px; }
.lw-auth-box { width: min(360px, 90vw); padding: 28px 32px; background: var(--panel); border-radius: 12px;
  border: 1px solid rgba(140, 170, 255, 0.12); box-shadow: 0 12px 40px rgba(0, 0, 0, 0.45); }
.lw-auth h1 { font-size: 20px; margin: 0 0 20px; font-weight: 600; }
.lw-auth-mark { display: block; font-size: 13px; color: var(--gold); letter-spacing: .08em; margin-bottom: 4px; }
.lw-auth label { display: block; color: var(--text-2); font-size: 13px; margin-bottom: 14px; }
.lw-auth input { display: block; width: 100%; box-sizing: border-box; margin-top: 6px; padding: 9px 11px;
  font: inherit; color: var(--text); background: #070a12; border: 1px solid rgba(140, 170, 255, 0.25);
  border-radius: 6px; }
.lw-auth input:focus { outline: 2px solid var(--cyan); border-color: transparent; }
.lw-auth button { width: 100%; margin-top: 6px; padding: 10px; font: inherit; font-weight: 600; cursor: pointer;
  color: #070a12; background: var(--gold); border: 0; border-radius: 6px; }
.lw-auth button:disabled { opacity: .6; cursor: wait; }
.lw-auth-error { min-height: 1.4em; color: var(--red); margin: 12px 0 0; }
.lw-auth-notice { color: var(--amber); background: rgba(255, 176, 32, 0.08); border-left: 3px solid var(--amber);
  padding: 8px 12px; margin: 0 0 18px; line-height: 1.5; }
.lw-auth a { color: var(--cyan); }
"""

# `next` comes back only as a path on this site ("/x", never "//host" or "https://..."): no open redirect.
SIGN_IN_JS = """
(function () {
  var f = document.getElementById("f"), err = document.getElementById("err");
  var next = new URLSearchParams(location.search).get("next") || "/";
  if (next.charAt(0) !== "/" || next.charAt(1) === "/" || next.charAt(1) === "\\\\") next = "/";
  f.addEventListener("submit", function (e) {
    e.preventDefault();
    err.textContent = "";
    f.querySelector("button").disabled = true;
    fetch("/api/login", {method: "POST", headers: {"Content-Type": "application/json"}, credentials: "same-origin",
      body: JSON.stringify({user: f.user.value, password: f.password.value})
    }).then(function (resp) {
      if (resp.ok) { location.replace(next); return; }
      f.querySelector("button").disabled = false;
      err.textContent = resp.status === 429
        ? BUSY.replace("{s}", resp.headers.get("Retry-After") || "60") : WRONG;
    }, function () { f.querySelector("button").disabled = false; err.textContent = WRONG; });
  });
})();
"""

SIGN_OUT_JS = """
(function () {
  var f = document.getElementById("f");
  f.addEventListener("submit", function (e) {
    e.preventDefault();
    fetch("/api/logout", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}",
      credentials: "same-origin"}).then(function () { f.hidden = true; document.getElementById("done").hidden = false; });
  });
})();
"""
