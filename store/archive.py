"""The archive of ended sessions on disk: `<data-dir>/archive/<room>/<session>/` holds

    events.parquet    every event of the session, in application order: typed common columns and `e`, the
                      event's whole JSON (lossless: unknown extra fields included)
    series.parquet    the engine's per-minute series
    products.parquet  the review's product rows (with `profit`)
    review.json       the review's head: everything but the product rows (insights/review.py)

and `<data-dir>/archive/index.json`, one small row per archived session (session, room, platform, title,
started, ended, ended_by, gmv, products, archived_at). The index is JSON rather than Parquet: it is rewritten
whole on each archive (a few hundred bytes a session) and read whole by the sessions listing; JSON needs no
schema for rows that gain a field later, and a person can read it.

Exactly once and crash-safe: a session is written into a temporary directory, flushed, then renamed into
place in one rename(2). The final directory existing IS the mark of an archived session: a rename onto an
existing directory fails, so nothing is ever archived twice, and a crash before the rename leaves only a
`.tmp-*` directory that `sweep` removes at the next start, after which the session is archived again.
The index is derived: rebuilt from the directories' review.json whenever a directory is missing from it.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SESSION_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}@[0-9]{1,16}$")
EVENT_COLUMNS = (("id", pa.string()), ("ts", pa.float64()), ("type", pa.string()), ("user", pa.string()),
                 ("sku", pa.string()), ("source", pa.string()), ("order_id", pa.string()), ("amount", pa.float64()),
                 ("qty", pa.int64()))
INDEX_FIELDS = ("session", "room", "platform", "title", "started", "ended", "ended_by", "gmv", "products_total",
                "archived_at")


def root(data_dir: Path) -> Path:
    return Path(data_dir) / "archive"


def room_of(session: str) -> str | None:
    """A session id names its room (engine/room.py `session_id`); None if it is not a session id."""
    return session.rsplit("@", 1)[0] if SESSION_RE.match(session) else None


def session_dir(data_dir: Path, session: str) -> Path:
    room = room_of(session)
    if room is None:
        raise ValueError(f"not a session id: {session!r}")
    return root(data_dir) / room / session


def is_archived(data_dir: Path, session: str) -> bool:
    return (session_dir(data_dir, session) / "review.json").is_file()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _parquet(path: Path, table: pa.Table, compression: str = "snappy") -> None:
    """snappy where a review reads the file (cheap to decode), zstd for the events (big, seldom read)."""
    pq.write_table(table, path, compression=compression)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def events_table(events: list[dict]) -> pa.Table:
    cols = {name: [ev.get(name) for ev in events] for name, _t in EVENT_COLUMNS}
    cols["amount"] = [float(x) if x is not None else None for x in cols["amount"]]
    cols["e"] = [orjson.dumps(ev).decode() for ev in events]
    schema = pa.schema([pa.field(n, t) for n, t in EVENT_COLUMNS] + [pa.field("e", pa.string())])
    return pa.Table.from_pydict(cols, schema=schema)


def frame_table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


def write(data_dir: Path, head: dict, products: pd.DataFrame, events: list[dict], series: list[dict],
          hook=None) -> bool:
    """Archive one session; False when it already was (by this or another process). `hook(step)` is called
    between steps (tests use it to kill the process mid-archive)."""
    final = session_dir(data_dir, head["session"])
    if final.exists():
        return False
    root(data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    final.parent.mkdir(exist_ok=True, mode=0o700)
    tmp = final.parent / f".tmp-{head['session']}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(mode=0o700)   # viewers' ids and comments: for the data dir's owner only, like Redis's files
    try:
        _parquet(tmp / "events.parquet", events_table(events), "zstd")
        hook and hook("events")
        _parquet(tmp / "series.parquet", pa.Table.from_pylist(series) if series else pa.table({"minute": []}))
        _parquet(tmp / "products.parquet", frame_table(products))
        hook and hook("products")
        _write_file(tmp / "review.json", orjson.dumps(head, option=orjson.OPT_SERIALIZE_NUMPY))
        for f in tmp.iterdir():
            f.chmod(0o600)
        _fsync_dir(tmp)
        try:
            os.rename(tmp, final)
        except OSError:   # ENOTEMPTY/EEXIST: archived meanwhile by another process
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        _fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    hook and hook("renamed")
    add_to_index(data_dir, head)
    return True


def sweep(data_dir: Path) -> int:
    """Remove what a crash mid-archive left (temporary directories): their sessions are archived again."""
    n = 0
    base = root(data_dir)
    if not base.is_dir():
        return 0
    for tmp in base.glob("*/.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
        n += 1
    return n


# -- the index -------------------------------------------------------------------------------------------------

def index_row(head: dict, archived_at: float | None = None) -> dict:
    row = {k: head.get(k) for k in INDEX_FIELDS}
    row["gmv"] = head["totals"]["gmv"]
    row["archived_at"] = archived_at or head.get("archived_at") or time.time()
    return row


def _index_path(data_dir: Path) -> Path:
    return root(data_dir) / "index.json"


def _locked(data_dir: Path):
    root(data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    f = open(root(data_dir) / ".index.lock", "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _save_index(data_dir: Path, rows: list[dict]) -> None:
    rows.sort(key=lambda r: r["started"] or 0, reverse=True)
    tmp = _index_path(data_dir).with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    _write_file(tmp, orjson.dumps({"sessions": rows}))
    os.replace(tmp, _index_path(data_dir))


def add_to_index(data_dir: Path, head: dict) -> None:
    with _locked(data_dir):
        rows = [r for r in read_index(data_dir) if r["session"] != head["session"]]
        _save_index(data_dir, rows + [index_row(head)])


def read_index(data_dir: Path) -> list[dict]:
    try:
        return orjson.loads(_index_path(data_dir).read_bytes())["sessions"]
    except (OSError, ValueError, KeyError):
        return []


def reindex(data_dir: Path) -> int:
    """Add every archived directory missing from the index (a crash between the rename and the index write,
    or a lost index.json). Returns how many were added."""
    base = root(data_dir)
    if not base.is_dir():
        return 0
    with _locked(data_dir):
        rows = read_index(data_dir)
        have = {r["session"] for r in rows}
        added = []
        for review in base.glob("*/*/review.json"):
            if review.parent.name in have or review.parent.name.startswith(".tmp-"):
                continue
            head = orjson.loads(review.read_bytes())
            added.append(index_row(head, review.stat().st_mtime))
        if added:
            _save_index(data_dir, rows + added)
        return len(added)


# -- reading back ----------------------------------------------------------------------------------------------

_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SESSIONS = 8   # reviews kept parsed in a web process: a manager pages through one review at a time


def read_review(data_dir: Path, session: str) -> tuple[dict, pd.DataFrame] | None:
    """(head, products) of an archived session, or None. Parsed once and kept (an archive never changes)."""
    path = session_dir(data_dir, session)
    key = str(path)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    try:
        head = orjson.loads((path / "review.json").read_bytes())
        products = pq.read_table(path / "products.parquet", use_threads=False).to_pandas()
    except FileNotFoundError:
        return None
    with _cache_lock:
        _cache[key] = (head, products)
        while len(_cache) > CACHE_SESSIONS:
            _cache.popitem(last=False)
    return head, products


def read_events(data_dir: Path, session: str) -> list[dict]:
    """The archived events, whole, in application order."""
    table = pq.read_table(session_dir(data_dir, session) / "events.parquet", columns=["e"])
    return [orjson.loads(e) for e in table.column("e").to_pylist()]


def read_series(data_dir: Path, session: str) -> list[dict]:
    return pq.read_table(session_dir(data_dir, session) / "series.parquet").to_pylist()
