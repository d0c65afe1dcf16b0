"""The shop order poller every shop platform shares (抖店 today; Kuaishou 小店 and Taobao to come).

A shop platform is an `OrderSource`: it reads one page of orders updated in a time window and says, per order,
the newest update time and the events of its lines that belong to a live room livewall knows. The poller does
the rest the same way for every platform: a cursor (the newest update time read, keys.connector_cursor) saved
only after the window's events are stored, each poll reading `overlap_s` before it (an update can become
visible late), pages until the window is read. Event ids must be stable per line and kind
(`<platform>:<line id>:order|pay|refund`): reading a window again, after an overlap or a crash, then makes
duplicates, never a second count (the ingest's idempotency).

Built: feeds/connectors/doudian.py. Not built: Kuaishou 小店 (open.kwaixiaodian.com) and Taobao (淘宝开放平台)
sources; each needs its signed call, its order search by update time, and its line-to-room mapping, none of which
is confirmed here.
"""
from __future__ import annotations

import time
from typing import Protocol

from feeds import ingest
from settings import CONNECTOR_ORDER_OVERLAP_S, CONNECTOR_POLL_S
from store import keys


class OrderSource(Protocol):
    def page(self, start: int, end: int, page: int) -> tuple[list[dict], bool]:
        """Orders updated in [start, end] (epoch seconds), page `page` (from 0), oldest update first; and whether
        more pages follow."""

    def updated(self, order: dict) -> float:
        """The order's update time (epoch seconds)."""

    def events(self, order: dict) -> list[dict]:
        """The events of the order's lines in livewall's live rooms (none for other rooms' orders)."""


class Poller:
    def __init__(self, r, name: str, kind: str, source: OrderSource, cfg: dict):
        self.r, self.name, self.kind, self.source = r, name, kind, source
        self.every_s = float(cfg.get("poll_s", CONNECTOR_POLL_S))
        self.overlap_s = float(cfg.get("overlap_s", CONNECTOR_ORDER_OVERLAP_S))
        self.start_s = float(cfg.get("start_lookback_s", 3600))

    def step(self) -> float | None:
        now = int(time.time())
        raw = self.r.get(keys.connector_cursor(self.name))
        cursor = float(raw) if raw else now - self.start_s
        newest, page = cursor, 0
        while True:
            orders, more = self.source.page(int(cursor - self.overlap_s), now, page)
            events = []
            for o in orders:
                newest = max(newest, self.source.updated(o))
                events += self.source.events(o)
            if events:
                ingest.ingest_sync(self.r, events)
            if not more or not orders:
                break
            page += 1
        # only now: a crash before this line reads the window again, and its ids make the events duplicates
        self.r.set(keys.connector_cursor(self.name), repr(min(newest, now)))
        return max(0.0, time.time() - newest)
