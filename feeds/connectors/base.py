"""What every polling connector shares: its errors, its pacing and backoff, its status, its loop.

A connector is an object with `name`, `kind`, `every_s` and `step()`: one round of work (poll, apply), which
returns the lag of what it read (seconds between the newest data and now) or None, and raises PlatformError
when the platform refuses. The loop runs `step` every `every_s`; after an error it waits twice as long each
time (up to settings.CONNECTOR_MAX_BACKOFF_S), or what the platform's Retry-After asks, and starts again.
Its state goes to the hash keys.CONNECTORS_STATUS, which /healthz and the manager's page read:

    {"kind", "ok", "last_success" (epoch s or null), "lag_s", "errors" (in a row), "errors_total",
     "last_error" (text, never a secret), "next_poll" (epoch s), "updated"}
"""
from __future__ import annotations

import logging
import threading
import time

import orjson

from settings import CONNECTOR_MAX_BACKOFF_S
from store import keys

log = logging.getLogger("livewall.connectors")


class PlatformError(Exception):
    """A platform refused or failed a call. `retry_after`: seconds it asked us to wait (rate limits)."""

    def __init__(self, message: str, code: int | str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class Status:
    """The connector's line in keys.CONNECTORS_STATUS."""

    def __init__(self, r, name: str, kind: str):
        self.r, self.name = r, name
        self.state = {"kind": kind, "ok": None, "last_success": None, "lag_s": None, "errors": 0,
                      "errors_total": 0, "last_error": None, "next_poll": None, "updated": None}
        old = r.hget(keys.CONNECTORS_STATUS, name)
        if old:   # a restart keeps the history: the last success and the error count
            prev = orjson.loads(old)
            for k in ("last_success", "errors_total", "last_error"):
                self.state[k] = prev.get(k)
            self.state["errors_total"] = self.state["errors_total"] or 0

    def success(self, lag_s: float | None, next_poll: float) -> None:
        now = time.time()
        self.state.update(ok=True, last_success=now, lag_s=None if lag_s is None else round(lag_s, 1), errors=0,
                          next_poll=next_poll)
        self._save(now)

    def failure(self, error: str, next_poll: float) -> None:
        self.state.update(ok=False, errors=self.state["errors"] + 1, errors_total=self.state["errors_total"] + 1,
                          last_error=error[:300], next_poll=next_poll)
        self._save(time.time())

    def _save(self, now: float) -> None:
        self.state["updated"] = now
        self.r.hset(keys.CONNECTORS_STATUS, self.name, orjson.dumps(self.state))


def wait_after(errors: int, every_s: float, retry_after: float | None) -> float:
    """Seconds to wait after the `errors`-th failure in a row."""
    backoff = min(CONNECTOR_MAX_BACKOFF_S, every_s * 2 ** (errors - 1)) if errors else every_s
    return max(backoff, retry_after or 0.0)


def run(connector, r, stop: threading.Event) -> None:
    """Run a connector's steps until `stop` is set."""
    status = Status(r, connector.name, connector.kind)
    while not stop.is_set():
        try:
            lag = connector.step()
        except PlatformError as e:
            wait = wait_after(status.state["errors"] + 1, connector.every_s, e.retry_after)
            status.failure(f"{e} (code {e.code})" if e.code is not None else str(e), time.time() + wait)
            log.warning("%s: %s; next try in %.1f s", connector.name, e, wait)
        except Exception as e:  # noqa: BLE001 - a connector goes on whatever one round did (Redis away, a bug)
            wait = wait_after(status.state["errors"] + 1, connector.every_s, None)
            try:
                status.failure(f"{type(e).__name__}: {e}", time.time() + wait)
            except Exception:  # noqa: BLE001 - the status lives in Redis, which may be what failed
                pass
            log.warning("%s: round failed (%s: %s); next try in %.1f s", connector.name, type(e).__name__, e, wait)
        else:
            wait = connector.every_s
            status.success(lag, time.time() + wait)
        stop.wait(wait)


def forget_others(r, names) -> None:
    """Drop the state of connectors no longer configured, so /healthz shows only those that run."""
    gone = [k for k in r.hkeys(keys.CONNECTORS_STATUS) if k.decode() not in set(names)]
    if gone:
        r.hdel(keys.CONNECTORS_STATUS, *gone)


def read_status(raw: dict) -> dict:
    """Name -> status, from HGETALL keys.CONNECTORS_STATUS."""
    return {k.decode() if isinstance(k, bytes) else k: orjson.loads(v) for k, v in raw.items()}
