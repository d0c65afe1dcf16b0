"""A client for `POST /api/events`, for programs that produce events.

    with Publisher("http://127.0.0.1:8050") as pub:   # token from LIVEWALL_TOKEN / LIVEWALL_INGEST_TOKEN
        pub.send(event)            # buffered; sent when batch_size events wait or the oldest waited max_wait_s
        result = pub.flush()       # {"accepted": n, "duplicates": n, "rejected": [{"index", "id", "error"}]}

Retrying is safe because an event's `id` is its idempotency key: a batch that reached the server before the
connection broke comes back as duplicates, never as double counts. So connection errors and 5xx answers are
retried with exponential backoff for up to `retry_for_s`; if that runs out, `PublishError` is raised and the
events stay buffered for the next flush. A 4xx (401: wrong token) raises `PublishError` at once and drops the
batch, which could never succeed. A batch whose body would exceed 4 MiB or 10,000 events, or that a server
refuses with 413, is sent in halves. Events the server
rejects one by one are not errors: they come back in `rejected`, `index` counting every event given to this
publisher from 0.

The token comes from `token=`, else the file `token_file=`, else the environment (`LIVEWALL_TOKEN`, then
`LIVEWALL_INGEST_TOKEN`): a token given on a command line shows in `ps` to every user of the machine, so the
commands built on this (replay, the simulator) take `--token-file` and the environment first.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
import orjson

from settings import TOKEN_ENV

DEFAULT_URL = "http://127.0.0.1:8050"
# Every server takes bodies of 4 MiB (CONTRACT section 3); larger batches are split before sending, because a
# server refusing a large body may close the connection before the client has finished writing it.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_EVENTS = 10_000   # events in one body (CONTRACT section 1): a server answers 413 to more


def token_from(token: str | None = None, token_file: str | Path | None = None) -> str | None:
    """The token to send: given, else the first line of a file, else the environment; None without one."""
    if token:
        return token
    if token_file:
        return Path(token_file).read_text().strip() or None
    return next((os.environ[k] for k in TOKEN_ENV if os.environ.get(k)), None)


class PublishError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status   # the HTTP status of a refused request; None when the server was unreachable


def _empty() -> dict:
    return {"accepted": 0, "duplicates": 0, "rejected": []}


class Publisher:
    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, batch_size: int = 500,
                 max_wait_s: float = 0.2, retry_for_s: float = 60.0, timeout_s: float = 30.0,
                 token_file: str | Path | None = None):
        headers = {"Content-Type": "application/json"}
        token = token_from(token, token_file)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.retry_for_s = retry_for_s
        self._cond = threading.Condition()
        self._buf: list[dict] = []
        self._base = 0              # the index of _buf[0] among all events given to this publisher
        self._oldest = 0.0          # when the oldest buffered event arrived (monotonic)
        self._result = _empty()     # what the server said since the last flush()
        self._error: Exception | None = None   # raised by the background flusher, re-raised to the caller
        self._timer: threading.Thread | None = None
        self._closed = False

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, event: dict) -> None:
        self.send_many((event,))

    def send_many(self, events) -> None:
        with self._cond:
            self._raise_pending()
            for ev in events:
                if not self._buf:
                    self._oldest = time.monotonic()
                self._buf.append(ev)
                if len(self._buf) >= self.batch_size:
                    self._send_full()
            if self._buf:
                self._ensure_timer()
                self._cond.notify()

    def flush(self) -> dict:
        """Send everything buffered; return the sums of the server's replies since the previous flush."""
        with self._cond:
            self._raise_pending()
            self._send_all()
            result, self._result = self._result, _empty()
            return result

    def close(self) -> dict:
        try:
            return self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify()
            if self._timer is not None:
                self._timer.join()
            self._http.close()

    # ---- internals (callers hold self._cond) -------------------------------------------------------------

    def _raise_pending(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _ensure_timer(self) -> None:
        if self._timer is None:
            self._timer = threading.Thread(target=self._flush_when_due, name="publisher-flush", daemon=True)
            self._timer.start()

    def _flush_when_due(self) -> None:
        """The background flusher: a lone event must not wait longer than max_wait_s for company."""
        with self._cond:
            while not self._closed:
                if not self._buf or self._error is not None:
                    self._cond.wait()
                    continue
                due = self._oldest + self.max_wait_s - time.monotonic()
                if due > 0:
                    self._cond.wait(due)
                    continue
                try:
                    self._send_all()
                except Exception as e:  # noqa: BLE001 - handed to the caller's next send/flush
                    self._error = e

    def _send_full(self) -> None:
        while len(self._buf) >= self.batch_size:
            self._send_batch(self.batch_size)

    def _send_all(self) -> None:
        while self._buf:
            self._send_batch(self.batch_size)

    def _send_batch(self, n: int) -> None:
        batch = self._buf[:n]
        try:
            reply = self._post(batch, self._base)
        except PublishError as e:
            if e.status is not None:   # refused: resending the same batch cannot help
                self._drop(len(batch))
            raise
        self._drop(len(batch))
        self._result["accepted"] += reply["accepted"]
        self._result["duplicates"] += reply["duplicates"]
        self._result["rejected"] += reply["rejected"]

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self._base += n
        self._oldest = time.monotonic()

    def _post(self, batch: list[dict], base: int) -> dict:
        body = b"" if len(batch) > MAX_EVENTS else orjson.dumps(batch)
        if (len(batch) > MAX_EVENTS or len(body) > MAX_BODY_BYTES) and len(batch) > 1:
            return self._post_halves(batch, base)
        resp = self._request(body)
        if resp.status_code == 413 and len(batch) > 1:   # a server with tighter limits: nothing was stored
            return self._post_halves(batch, base)
        if resp.status_code != 200:
            raise PublishError(f"POST /api/events refused: {resp.status_code} {_reason(resp)}", resp.status_code)
        reply = resp.json()
        rejected = [{"index": base + r["index"], "id": _id_of(batch[r["index"]]), "error": r["error"]}
                    for r in reply.get("rejected", [])]
        return {"accepted": reply["accepted"], "duplicates": reply["duplicates"], "rejected": rejected}

    def _post_halves(self, batch: list[dict], base: int) -> dict:
        half = len(batch) // 2
        first, second = self._post(batch[:half], base), self._post(batch[half:], base + half)
        return {"accepted": first["accepted"] + second["accepted"],
                "duplicates": first["duplicates"] + second["duplicates"],
                "rejected": first["rejected"] + second["rejected"]}

    def _request(self, body: bytes) -> httpx.Response:
        deadline = time.monotonic() + self.retry_for_s
        delay = 0.05
        while True:
            try:
                resp = self._http.post("/api/events", content=body)
                if resp.status_code < 500:
                    return resp
                problem = f"{resp.status_code} {_reason(resp)}"
            except httpx.TransportError as e:
                problem = f"{type(e).__name__}: {e}"
            if time.monotonic() + delay > deadline:
                raise PublishError(f"POST {self._http.base_url}/api/events failed for {self.retry_for_s:g} s: "
                                   f"{problem}")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _reason(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(body["error"]) if isinstance(body, dict) and "error" in body else resp.text[:200]


def _id_of(event) -> str | None:
    return event.get("id") if isinstance(event, dict) else None
