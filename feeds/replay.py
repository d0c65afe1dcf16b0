"""Replaying a file of events into livewall: `python -m feeds.replay FILE [options]`, or `read_events()`.

    python -m feeds.replay FILE [--url http://127.0.0.1:8050] [--token-file F] [--speed X]
                                [--format auto|ndjson|csv|taobao] [--room R] [--platform P]
                                [--shift-to-now] [--id-prefix P] [--limit N]

`--speed 1` (the default) replays in real time, `10` ten times faster, pacing by the events' `ts`; `0` or `max`
sends as fast as the server takes them. `--shift-to-now` moves every `ts` by the same amount so that the
first event happens now. `--room` and `--platform` replace those fields of every event. Ids are kept, so a
second run of the same file is all duplicates; `--id-prefix` makes new ids to replay it again as new events.

Formats (`auto` decides by the file name, then by the first line):
- ndjson: one event per line, CONTRACT section 1.
- csv: the same fields as columns, with a header row. `ts`, `amount`, `price`, `cost`, `target_roi` become
  numbers; `qty`, `stock`, `count`, `impressions`, `clicks` integers; `fan` (README, "Audience and channels")
  a boolean from `true`/`false`; an empty cell is an absent field.
- taobao: the Alibaba Tianchi UserBehavior layout, no header: `user_id,item_id,category_id,behavior,ts`, with
  behavior `pv`, `cart`, `fav` or `buy`. All rows go to one room (`--room`, default `taobao-replay`,
  platform `taobao`), mapped as follows:

| UserBehavior                 | livewall events, at the row's ts                                             |
|------------------------------|------------------------------------------------------------------------------|
| the first row of the file    | `session_start` first                                                        |
| a user's first row           | `enter` with source `recommend` (the data has no traffic source), then the row |
| `pv` (item page view)        | `product_view` then `product_click`: opening an item page is a click on its card, so the replay's CTR is 1 by construction |
| `cart`                       | `cart_add`, qty 1                                                            |
| `fav` (favourite an item)    | `like`, count 1, with the item in an extra `sku` field: interest in a product, not in the account, so not a `follow` (涨粉) |
| `buy`                        | `order` then `pay`, qty 1, order_id `<room>:<tag>:<row>`, amount = the item's price |
| a user's last row            | `leave` at that row's ts + a dwell of 3–120 s derived from the user_id, emitted in ts order among the other rows |
| the end of the file          | `session_end` at the last event's ts                                         |

The data has no audience or traffic channel: no user profile (gender, age, city), no follow state or earlier
visits, no sub-channel. So the replay's enters carry none of the audience fields nor `channel` (its viewers
show as `unknown`, its visits under channel `none`), and it has no fan-club joins or negative feedback; a
`fav` stays a `like`, which the interaction rate counts. Nothing is made up for them.

The data has no prices: an item's price is 9.9 + (blake2b(item_id) mod 390) yuan, 9.9 to 398.9, the same on
every run. `category_id` is dropped; users and skus keep the dataset's ids. Event ids are
`<room>:<tag>:<row>:<kind>`, where row is the line number from 1 and tag a hash of the file's first line, so
a re-run of the file is deduplicated while another file replayed into the same room is not.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import heapq
import itertools
import sys
import time
from typing import Iterable, Iterator

import orjson

from feeds.publisher import DEFAULT_URL, Publisher, PublishError
from feeds.schema import PLATFORMS
from settings import add_sender_token_options

NUMBER_FIELDS = frozenset(("ts", "amount", "price", "cost", "target_roi"))
INT_FIELDS = frozenset(("qty", "stock", "count", "impressions", "clicks"))
BOOL_FIELDS = {"fan": {"true": True, "false": False}}
TAOBAO_BEHAVIORS = ("pv", "cart", "fav", "buy")
TAOBAO_ROOM = "taobao-replay"
PROGRESS_EVERY_S = 10.0


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def item_price(item_id: str) -> float:
    return round(9.9 + _hash(item_id) % 390, 1)


def detect_format(path: str) -> str:
    lower = str(path).lower()
    if lower.endswith((".ndjson", ".jsonl", ".json")):
        return "ndjson"
    with open(path, encoding="utf-8-sig") as f:
        first = next((line for line in f if line.strip()), "")
    if first.lstrip().startswith("{"):
        return "ndjson"
    cells = next(csv.reader([first]), [])
    if "type" in cells and "ts" in cells:
        return "csv"
    if len(cells) == 5 and cells[3] in TAOBAO_BEHAVIORS:
        return "taobao"
    raise ValueError(f"{path}: cannot tell the format from its first line; use --format")


def read_events(path: str, fmt: str = "auto", room: str | None = None,
                platform: str | None = None) -> Iterator[dict]:
    """The file's events, lazily, in file order (taobao: in ts order, with enters and leaves added)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "taobao":
        return read_taobao(path, room or TAOBAO_ROOM, platform or "taobao")
    if fmt == "ndjson":
        events = read_ndjson(path)
    elif fmt == "csv":
        events = read_csv(path)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return _override(events, room, platform) if room or platform else events


def read_ndjson(path: str) -> Iterator[dict]:
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise ValueError(f"{path}:{lineno}: not JSON: {e}") from None


def _cell(field: str, text: str):
    """A CSV cell as the contract's type; a cell that does not convert stays text, for the server to reject."""
    try:
        if field in NUMBER_FIELDS:
            return float(text)
        if field in INT_FIELDS:
            return int(text)
        if field in BOOL_FIELDS:
            return BOOL_FIELDS[field].get(text.strip().lower(), text)
    except ValueError:
        pass
    return text


def read_csv(path: str) -> Iterator[dict]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            # Cells beyond the header land under the key None; missing cells are None: both are absent.
            yield {k: _cell(k, v) for k, v in row.items() if k and v}


def _override(events: Iterable[dict], room: str | None, platform: str | None) -> Iterator[dict]:
    for ev in events:
        if isinstance(ev, dict):
            ev = dict(ev)
            if room:
                ev["room"] = room
            if platform:
                ev["platform"] = platform
        yield ev


def read_taobao(path: str, room: str = TAOBAO_ROOM, platform: str = "taobao") -> Iterator[dict]:
    """UserBehavior rows as livewall events (the mapping table above). Reads the file twice: the first
    pass finds each user's last row, where their visit ends."""
    last_row: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        first_line = f.readline()
        f.seek(0)
        for n, row in enumerate(csv.reader(f), 1):
            if row:
                last_row[row[0]] = n
    tag = hashlib.blake2b(first_line.encode(), digest_size=3).hexdigest()
    prefix = f"{room}:{tag}"

    def event(key: str, type_: str, ts: float, **fields) -> dict:
        return {"id": f"{prefix}:{key}", "room": room, "platform": platform, "ts": ts, "type": type_, **fields}

    leaves: list[tuple] = []   # (ts, row, user): visits waiting to end, released in ts order
    entered: set[str] = set()
    end_ts = None
    with open(path, newline="", encoding="utf-8-sig") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row:
                continue
            if len(row) < 5 or row[3] not in TAOBAO_BEHAVIORS:
                raise ValueError(f"{path}:{n}: expected user_id,item_id,category_id,behavior(pv|cart|fav|buy),ts")
            user, item, _category, behavior, raw_ts = row[:5]
            try:
                ts = float(raw_ts)
            except ValueError:
                raise ValueError(f"{path}:{n}: ts {raw_ts!r} is not a number") from None
            if end_ts is None:
                yield event("start", "session_start", ts, title="Taobao UserBehavior replay")
            while leaves and leaves[0][0] <= ts:
                leave_ts, k, who = heapq.heappop(leaves)
                yield event(f"{k}:leave", "leave", leave_ts, user=who)
            end_ts = ts if end_ts is None else max(end_ts, ts)
            if user not in entered:
                entered.add(user)
                yield event(f"{n}:enter", "enter", ts, user=user, source="recommend")
            if behavior == "pv":
                yield event(f"{n}:view", "product_view", ts, user=user, sku=item)
                yield event(f"{n}:click", "product_click", ts, user=user, sku=item)
            elif behavior == "cart":
                yield event(f"{n}:cart", "cart_add", ts, user=user, sku=item, qty=1)
            elif behavior == "fav":
                yield event(f"{n}:like", "like", ts, user=user, count=1, sku=item)
            else:
                order = dict(user=user, sku=item, order_id=f"{prefix}:{n}", amount=item_price(item), qty=1)
                yield event(f"{n}:order", "order", ts, **order)
                yield event(f"{n}:pay", "pay", ts, **order)
            if last_row[user] == n:
                heapq.heappush(leaves, (ts + 3 + _hash(user) % 118, n, user))
    while leaves:
        leave_ts, k, who = heapq.heappop(leaves)
        end_ts = max(end_ts, leave_ts)
        yield event(f"{k}:leave", "leave", leave_ts, user=who)
    if end_ts is not None:
        yield event("end", "session_end", end_ts)


def shift_to(events: Iterable[dict], now: float) -> Iterator[dict]:
    """Every ts moved by one offset, so that the first event is at `now`."""
    offset = None
    for ev in events:
        ts = ev.get("ts") if isinstance(ev, dict) else None
        if isinstance(ts, (int, float)) and not isinstance(ts, bool):
            if offset is None:
                offset = now - ts
            ev = {**ev, "ts": round(ts + offset, 3)}
        yield ev


def with_id_prefix(events: Iterable[dict], prefix: str) -> Iterator[dict]:
    for ev in events:
        if isinstance(ev, dict) and isinstance(ev.get("id"), str):
            ev = {**ev, "id": prefix + ev["id"]}
        yield ev


def paced(events: Iterable[dict], speed: float) -> Iterator[dict]:
    """Yield each event when its ts is due: (ts - first ts) / speed seconds after the first one."""
    start = None
    for ev in events:
        ts = ev.get("ts") if isinstance(ev, dict) else None
        if isinstance(ts, (int, float)) and not isinstance(ts, bool):
            if start is None:
                start = (ts, time.monotonic())
            wait = start[1] + (ts - start[0]) / speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        yield ev


def parse_speed(text: str) -> float:
    """0 means as fast as possible."""
    if text.lower() == "max":
        return 0.0
    speed = float(text)
    if not speed >= 0:
        raise ValueError("--speed must be >= 0 or 'max'")
    return speed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m feeds.replay", description="send a file of events to livewall")
    p.add_argument("file")
    p.add_argument("--url", default=DEFAULT_URL)
    add_sender_token_options(p)
    p.add_argument("--speed", default="1", help="1 = real time, 10 = ten times faster, 0 or max = no pacing")
    p.add_argument("--format", default="auto", choices=["auto", "ndjson", "csv", "taobao"])
    p.add_argument("--room", help="replace the room of every event (taobao: default taobao-replay)")
    p.add_argument("--platform", choices=PLATFORMS, help="replace the platform of every event")
    p.add_argument("--shift-to-now", action="store_true", help="move all ts so that the first event is now")
    p.add_argument("--id-prefix", default="", help="prepend to every id, to replay a file again as new events")
    p.add_argument("--limit", type=int, help="send only the first N events")
    a = p.parse_args(argv)
    try:
        speed = parse_speed(a.speed)
    except ValueError as e:
        p.error(str(e))

    events = read_events(a.file, a.format, a.room, a.platform)
    if a.limit is not None:
        events = itertools.islice(events, a.limit)
    if a.shift_to_now:
        events = shift_to(events, time.time())
    if a.id_prefix:
        events = with_id_prefix(events, a.id_prefix)
    if speed:
        events = paced(events, speed)

    pub = Publisher(a.url, token=a.token, token_file=a.token_file)
    sent, failed = 0, False
    next_progress = time.monotonic() + PROGRESS_EVERY_S
    try:
        for ev in events:
            pub.send(ev)
            sent += 1
            if time.monotonic() >= next_progress:
                print(f"{sent} events sent", file=sys.stderr)
                next_progress += PROGRESS_EVERY_S
    except (ValueError, OSError) as e:   # a bad file: still deliver what was read before the problem
        print(f"reading {a.file} stopped after {sent} events: {e}", file=sys.stderr)
        failed = True
    except PublishError as e:
        print(f"sending stopped after {sent} events: {e}", file=sys.stderr)
        return 1
    try:
        result = pub.close()
    except PublishError as e:
        print(f"sending failed: {e}", file=sys.stderr)
        return 1
    rejected = result["rejected"]
    print(f"{sent} events sent: {result['accepted']} accepted, {result['duplicates']} duplicates, "
          f"{len(rejected)} rejected")
    for r in rejected[:5]:
        print(f"  event {r['index']} ({r['id']}): {r['error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
