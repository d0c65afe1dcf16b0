"""Alerts to a chat group: a WeCom (企业微信), DingTalk (钉钉) or Feishu (飞书) bot webhook.

`Webhook.offer` never waits: alerts go into a bounded queue and one background thread posts them, retrying
with backoff. When the bot is down long enough to fill the queue, new alerts are dropped (and counted),
because the screens have them anyway and the rule job must not slow down.
Settings (rules.yaml `webhook:`): url, format (wecom | dingtalk | feishu), min_severity, secret (signing).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import queue
import threading
import time
import urllib.parse

import httpx

log = logging.getLogger("livewall.webhook")

RANK = {"info": 0, "warning": 1, "critical": 2}
LABEL = {"info": ("提示", "info"), "warning": ("警告", "warning"), "critical": ("严重", "CRITICAL")}


def text_of(alert: dict) -> tuple[str, str]:
    """(title, markdown body) of an alert, Chinese first, English below."""
    zh, en = LABEL.get(alert["severity"], ("", alert["severity"]))
    title = f"[{zh}] {alert['title']['zh']} · {alert['room']}"
    body = (f"**{title}**\n{alert['message']['zh']}\n\n"
            f"[{en}] {alert['title']['en']} · {alert['room']}: {alert['message']['en']}")
    return title, body


def request(alert: dict, conf: dict, now: float) -> tuple[str, dict]:
    """The URL and JSON body to post for one alert, in the bot's format (signed when there is a secret)."""
    url, fmt, secret = conf["url"], conf.get("format", "wecom"), conf.get("secret") or ""
    title, body = text_of(alert)
    if fmt == "dingtalk":
        payload = {"msgtype": "markdown", "markdown": {"title": title, "text": body}}
        if secret:
            ms = str(int(now * 1000))
            digest = hmac.new(secret.encode(), f"{ms}\n{secret}".encode(), hashlib.sha256).digest()
            sign = urllib.parse.quote_plus(base64.b64encode(digest))
            url += ("&" if "?" in url else "?") + f"timestamp={ms}&sign={sign}"
        return url, payload
    if fmt == "feishu":
        payload = {"msg_type": "text", "content": {"text": body.replace("**", "")}}
        if secret:
            s = str(int(now))
            digest = hmac.new(f"{s}\n{secret}".encode(), b"", hashlib.sha256).digest()
            payload = {"timestamp": s, "sign": base64.b64encode(digest).decode(), **payload}
        return url, payload
    if fmt == "wecom":
        return url, {"msgtype": "markdown", "markdown": {"content": body}}
    raise ValueError(f"unknown webhook format {fmt!r}: wecom, dingtalk or feishu")


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
