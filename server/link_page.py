"""The page a refused share or device link gets: what happened and what to do, in the screens' dark look, in
Chinese or English (`?lang=`, else the browser's Accept-Language). Plain HTML with nothing to load, so it
shows even on a wall PC whose link was just revoked."""
from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

# reason -> (HTTP status, (zh title, zh text), (en title, en text))
REASONS = {
    "expired": (410, ("此链接已过期", "分享链接有有效期。请向发给你链接的人要一个新链接。"),
                ("This link has expired", "Share links last for a set time. Ask whoever sent it for a new one.")),
    "revoked": (410, ("此链接已被撤销", "发链接的人已停用它。如仍需查看，请向他要一个新链接。"),
                ("This link has been revoked", "Whoever made it has turned it off. Ask them for a new one if you "
                                               "still need the screen.")),
    "invalid": (403, ("此链接无效", "链接可能复制不完整或被改动过。请重新复制完整的链接。"),
                ("This link is not valid", "It may have been copied incompletely or changed. Copy the whole link "
                                           "again.")),
}

STYLE = """
html, body { margin: 0; height: 100%; background: #070a12; color: #eef3ff;
  font-family: "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", "Liberation Sans", "DejaVu Sans", sans-serif; }
body { display: flex; align-items: center; justify-content: center;
  background: radial-gradient(ellipse at 20% -10%, #13204a 0%, rgba(5, 7, 13, 0) 55%), #070a12; }
main { max-width: 34rem; margin: 1.5rem; padding: 2.2rem 2.4rem; border-radius: 14px;
  background: linear-gradient(180deg, rgba(22, 32, 62, 0.85), rgba(12, 17, 32, 0.85));
  border: 1px solid rgba(140, 170, 255, 0.12); }
.brand { color: #8390ad; letter-spacing: 0.08em; font-size: 0.9rem; }
h1 { margin: 0.6rem 0 0.8rem; font-size: 1.7rem; color: #ffb020; }
p { color: #aab6d2; line-height: 1.6; margin: 0 0 1.4rem; }
a { color: #38d9f5; }
.other { font-size: 0.85rem; color: #8390ad; }
"""


def lang_of(query_lang: str | None, accept_language: str | None) -> str:
    if query_lang in ("zh", "en"):
        return query_lang
    return "zh" if (accept_language or "").lower().lstrip().startswith("zh") else "en"


def refused_page(reason: str, lang: str) -> HTMLResponse:
    status, zh, en = REASONS.get(reason, REASONS["invalid"])
    (title, text), (other_title, _) = (zh, en) if lang == "zh" else (en, zh)
    sign_in = "已有账号？<a href=\"/login\">登录</a>" if lang == "zh" else "Have an account? <a href=\"/login\">Sign in</a>"
    body = (f"<!doctype html><html lang=\"{'zh-CN' if lang == 'zh' else 'en'}\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>livewall · {escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main data-link-refused=\"{escape(reason)}\"><div class=\"brand\">livewall</div>"
            f"<h1>{escape(title)}</h1><p>{escape(text)}</p><p>{sign_in}</p>"
            f"<div class=\"other\" lang=\"{'en' if lang == 'zh' else 'zh-CN'}\">{escape(other_title)}</div>"
            f"</main></body></html>")
    # never cached: the same URL works again if a new link reuses the cookie
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
