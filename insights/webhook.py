"""Alerts to a chat group: a WeCom (企业微信), DingTalk (钉钉) or Feishu (飞书) bot webhook.

`Webhook.offer` never waits: alerts go into a bounded queue and one background thread posts them, retrying
with backoff. When the bot is down long enough to fill the queue, new alerts are dropped (and counted),
because the screens have them anyway and the rule job must not slow down.
Settings (rules.yaml `webhook:`): url, format (wecom | dingtalk | feishu), min_severity, secret (signing).

What viewers wrote (product names, user names, comments: the message's quoted parts, see alerts.QUOTED) is
plain text in the chat: it can never become a link, an image, a mention, a heading or formatting, and it carries
no invisible format characters. The message fits its bot's limit, quoted parts shortened first.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import queue
import re
import threading
import time
import unicodedata
import urllib.parse

import httpx

from insights.alerts import FSI, PDI

log = logging.getLogger("livewall.webhook")

RANK = {"info": 0, "warning": 1, "critical": 2}
LABEL = {"info": ("提示", "info"), "warning": ("警告", "warning"), "critical": ("严重", "CRITICAL")}

# The most a message's text may take, in UTF-8 bytes, per format. WeCom documents 4,096 bytes for markdown
# content (errcode 40058 beyond it). DingTalk and Feishu document none for the text that we could find: users
# report DingTalk refusing bodies over 20,000 bytes (errcode 460101) and rendering long markdown as plain text,
# and Feishu refusing messages over 30 KB (code 19036). 4,000 bytes for both, well inside what is reported.
LIMIT_BYTES = {"wecom": 4096, "dingtalk": 4000, "feishu": 4000}
QUOTE_CHARS = 80      # a quoted part longer than this is cut: a 7,000-character product name keeps the alert's sense
CUT_NOTE = "\n\n…（内容过长，全文见 livewall）(cut: full text on livewall)"

# Markdown, HTML, mention and table syntax of the chat formats (WeCom, DingTalk, Feishu, and Slack's <...|...>
# which some relays pass on) as look-alike full-width forms: the readers see the text, no renderer sees syntax.
# A backslash escape would not do: the bots' markdown is not CommonMark, and some show the backslash.
_SYNTAX = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "*": "＊", "_": "＿", "~": "～", "`": "｀",
                         "#": "＃", "@": "＠", "|": "｜", "\\": "＼", "&": "＆", "!": "！"})
_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
_SCHEME = re.compile(r":(?=//)")
_DOMAIN_DOT = re.compile(r"(?<=[0-9A-Za-z-])\.(?=[A-Za-z])")   # evil.example: a link a chat client would make
_QUOTED = re.compile(f"{FSI}(.*?){PDI}", re.S)


def plain(text: str) -> str:
    """Text on one line, without control or invisible format (Cf: bidi controls, zero-width) characters."""
    text = _BREAKS.sub(" ", text)
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))


def quoted(text: str) -> str:
    """A viewer's text: plain, shortened, its markup syntax inert, and no address in it that a chat client
    would turn into a link."""
    text = plain(text)
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS - 1] + "…"
    return _DOMAIN_DOT.sub("\u2024", _SCHEME.sub("：", text.translate(_SYNTAX)))


def sentence(message: str) -> str:
    """An alert's message for the chat: its quoted parts (FSI ... PDI) as `quoted`, the rest (the rule's own
    words and figures, from rules.yaml) as `plain`."""
    parts = _QUOTED.split(message)
    return "".join(quoted(p) if i % 2 else plain(p) for i, p in enumerate(parts))


def fit(text: str, limit: int) -> str:
    """`text` within `limit` UTF-8 bytes, cut on a character boundary with a note that it was cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = limit - len(CUT_NOTE.encode())
    return data[:room].decode(errors="ignore").rstrip() + CUT_NOTE


def text_of(alert: dict, markdown: bool = True) -> tuple[str, str]:
    """(title, body) of an alert, Chinese first, English below; the body is markdown unless told otherwise."""
    zh, en = LABEL.get(alert["severity"], ("", alert["severity"]))
    room = plain(alert["room"])
    title = f"[{zh}] {plain(alert['title']['zh'])} · {room}"
    head = f"**{title}**" if markdown else title
    body = (f"{head}\n{sentence(alert['message']['zh'])}\n\n"
            f"[{en}] {plain(alert['title']['en'])} · {room}: {sentence(alert['message']['en'])}")
    return title, body


def request(alert: dict, conf: dict, now: float) -> tuple[str, dict]:
    """The URL and JSON body to post for one alert, in the bot's format (signed when there is a secret)."""
    fmt = conf.get("format", "wecom")
    title, body = text_of(alert, markdown=fmt != "feishu")
    return message(title, body, conf, now)


def message(title: str, body: str, conf: dict, now: float) -> tuple[str, dict]:
    """The URL and JSON body to post a message already made safe (`plain`, `quoted`), within the bot's limit:
    markdown for WeCom and DingTalk, plain text for Feishu."""
    url, fmt, secret = conf["url"], conf.get("format", "wecom"), conf.get("secret") or ""
    if fmt not in LIMIT_BYTES:
        raise ValueError(f"unknown webhook format {fmt!r}: wecom, dingtalk or feishu")
    body = fit(body, LIMIT_BYTES[fmt])
    if fmt == "dingtalk":
        payload = {"msgtype": "markdown", "markdown": {"title": title, "text": body}}
        if secret:
            ms = str(int(now * 1000))
            digest = hmac.new(secret.encode(), f"{ms}\n{secret}".encode(), hashlib.sha256).digest()
            sign = urllib.parse.quote_plus(base64.b64encode(digest))
            url += ("&" if "?" in url else "?") + f"timestamp={ms}&sign={sign}"
        return url, payload
    if fmt == "feishu":
        payload = {"msg_type": "text", "content": {"text": body}}
        if secret:
            s = str(int(now))
            digest = hmac.new(f"{s}\n{secret}".encode(), b"", hashlib.sha256).digest()
            payload = {"timestamp": s, "sign": base64.b64encode(digest).decode(), **payload}
        return url, payload
    return url, {"msgtype": "markdown", "markdown": {"content": body}}


def accepted(resp: httpx.Response) -> bool:
    """2xx, and the bot's own code (errcode / code / StatusCode) is 0 when it sends one."""
    if not resp.is_success:
        return False
    try:
        data = resp.json()
    except ValueError:
        return True
    if not isinstance(data, dict):
        return True
    code = next((data[k] for k in ("errcode", "code", "StatusCode") if k in data), 0)
    return code == 0


class Webhook:
    def __init__(self, size: int = 100, attempts: int = 4, backoff_s: float = 0.5, timeout_s: float = 5.0):
        self.queue: queue.Queue = queue.Queue(size)
        self.attempts, self.backoff_s, self.timeout_s = attempts, backoff_s, timeout_s
        self.thread: threading.Thread | None = None
        self.sent = self.failed = self.dropped = 0

    def offer(self, alert: dict, conf: dict | None) -> bool:
        """Queue an alert for the bot if one is configured and the alert is severe enough; never blocks."""
        if not conf or not conf.get("url"):
            return False
        if RANK.get(alert["severity"], 0) < RANK.get(conf.get("min_severity", "critical"), 2):
            return False
        if self.thread is None:
            self.thread = threading.Thread(target=self._work, name="alert-webhook", daemon=True)
            self.thread.start()
        try:
            self.queue.put_nowait((alert, dict(conf)))
            return True
        except queue.Full:
            self.dropped += 1
            log.warning("webhook queue full: alert %s not sent to the bot", alert["id"])
            return False

    def _work(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while True:
                alert, conf = self.queue.get()
                try:
                    self._deliver(client, alert, conf)
                finally:
                    self.queue.task_done()

    def _deliver(self, client: httpx.Client, alert: dict, conf: dict) -> None:
        for attempt in range(self.attempts):
            try:
                url, payload = request(alert, conf, time.time())
                if accepted(client.post(url, json=payload)):
                    self.sent += 1
                    return
            except httpx.HTTPError as e:
                log.info("webhook attempt %d failed: %s", attempt + 1, e)
            except ValueError as e:   # a bad format in the settings: retrying will not help
                log.error("webhook: %s", e)
                break
            if attempt + 1 < self.attempts:
                time.sleep(self.backoff_s * 2 ** attempt)
        self.failed += 1
        log.warning("webhook gave up on alert %s", alert["id"])

    def join(self) -> None:
        """Wait until everything queued has been sent or given up (for tests and shutdown)."""
        self.queue.join()
