"""Which worker does a room's work: a registry of live workers, a fair assignment, and fenced leases in Redis.

Several processes of one kind (engine workers, insight-job processes) share the rooms. Safety comes from the
lease alone: `lw:{room}:lease:<kind>` holds "<worker>#<epoch>", set NX with a TTL and renewed by its holder;
the epoch comes from INCR on `lw:{room}:fence:<kind>` in the same script, so every acquisition gets a token no
earlier holder ever had. A write that must not come from a former holder (the engine's checkpoint) runs in a
script that first compares the lease with the writer's token: an expired lease reads as nil, a lease taken over
reads as another token, and in both cases nothing is written. The lease and the room's data share the `{room}`
hash tag, so this works on a Redis Cluster with one call per room.

Who should hold which room is only a wish, computed alike by every worker from the registry (a ZSET of worker
-> last beat): rooms in name order each go to the highest-ranked worker (rendezvous hash of worker and room)
that has fewer than its fair share (rooms / workers; the remainder one each to the first workers to reach
it). So the spread is even, and a worker joining or leaving moves few rooms. A worker lets go of a room
wished elsewhere (after its own last write), and takes a room wished to it once the lease is free: after a
release at once, after a death when the TTL runs out. Workers that disagree for a moment (views of the
registry a beat apart) cannot both hold a room; they only wait.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid

import orjson
import redis

from store import keys

ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '#' .. epoch, 'PX', ARGV[2])
return epoch
"""
RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
SAFETY = 0.8   # a holder trusts its lease for this share of the TTL after the renewal was sent
log = logging.getLogger("livewall.leases")


def worker_id(kind: str) -> str:
    """Unique per process and start: a restarted worker is a new worker (its old consumer's entries are claimed)."""
    return f"{kind}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _rank(worker: str, room: str) -> bytes:
    return hashlib.blake2b(f"{worker}\0{room}".encode(), digest_size=8).digest()


def assign(rooms, workers) -> dict[str, str]:
    """room -> the worker that should hold it: balanced rendezvous hashing (see the module docstring)."""
    workers = sorted(workers)
    if not workers:
        return {}
    rooms = sorted(rooms)
    base, extra = divmod(len(rooms), len(workers))   # `extra` workers hold one room more than the others
    load = dict.fromkeys(workers, 0)
    out = {}
    for room in rooms:
        for w in sorted(workers, key=lambda w: _rank(w, room), reverse=True):
            if load[w] < base or (load[w] == base and extra):
                if load[w] == base:
                    extra -= 1
                out[room] = w
                load[w] += 1
                break
    return out


class Registry:
    """The live workers of a kind: each beats into a ZSET (score: wall-clock ms) and a HASH of what it reports."""

    def __init__(self, r: redis.Redis, kind: str, worker: str, ttl_s: float):
        self.r, self.kind, self.worker, self.ttl_s = r, kind, worker, ttl_s
        self.beats = 0

    def beat(self, report: dict | None = None) -> list[str]:
        """Say we are alive (and what we hold); returns the live workers, us included."""
        now = time.time()
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(keys.workers(self.kind), {self.worker: now * 1000})
        pipe.zremrangebyscore(keys.workers(self.kind), 0, (now - self.ttl_s) * 1000)
        pipe.zrange(keys.workers(self.kind), 0, -1)
        if report is not None:
            pipe.hset(keys.worker_beats(self.kind), self.worker, orjson.dumps({**report, "ts": now}))
        got = pipe.execute()
        self.beats += 1
        if self.beats % 100 == 1:
            beats(self.r, self.kind)   # drops the reports of workers long gone
        return [w.decode() for w in got[2]]

    def leave(self) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.zrem(keys.workers(self.kind), self.worker)
        pipe.hdel(keys.worker_beats(self.kind), self.worker)
        pipe.execute()


def beats(r, kind: str, keep_s: float = 60.0) -> dict[str, dict]:
    """worker -> its last report (with `ts`), dropping reports older than keep_s (workers long gone)."""
    out, old = {}, []
    now = time.time()
    for w, blob in (r.hgetall(keys.worker_beats(kind)) or {}).items():
        rec = orjson.loads(blob)
        if now - rec["ts"] > keep_s:
            old.append(w)
        else:
            out[w.decode()] = rec
    if old:
        r.hdel(keys.worker_beats(kind), *old)
    return out


def summary(beats: dict[str, dict], rooms, now: float, fresh_s: float) -> dict:
    """The health of a kind's workers from their beats: a worker is live while its beat is younger than
    fresh_s; a room is owned while a live worker reports it. `ts`, `lag_s`, `started` read like the single
    engine's heartbeat did: the newest beat, the largest lag and the earliest start among the live workers."""
    live = {w: b for w, b in beats.items() if now - b["ts"] < fresh_s}
    owned = {room for b in live.values() for room in b.get("rooms", ())}
    return {"ts": max((b["ts"] for b in beats.values()), default=None),
            "lag_s": max((b.get("lag_s") or 0.0 for b in live.values()), default=0.0),
            "started": min((b.get("started") or b["ts"] for b in live.values()), default=None),
            "workers": {w: {"age_s": round(now - b["ts"], 3), "lag_s": b.get("lag_s"), "rooms": len(b.get("rooms", ())),
                            "live": w in live} for w, b in sorted(beats.items())},
            "unowned": sorted(set(rooms) - owned)}


class Leases:
    """The leases one worker holds, of one kind: room -> (token, monotonic time until which it may act)."""

    def __init__(self, r: redis.Redis, kind: str, worker: str, ttl_s: float):
        self.r, self.kind, self.worker, self.ttl_s = r, kind, worker, ttl_s
        self.ttl_ms = int(ttl_s * 1000)
        self.held: dict[str, tuple[str, float, float]] = {}   # room -> (token, valid until, renewed at)
        self.lock = threading.Lock()   # the renewing thread and the worker's loop both change `held`
        self._acquire = r.register_script(ACQUIRE)
        self._renew = r.register_script(RENEW)
        self._release = r.register_script(RELEASE)

    def token(self, room: str) -> str | None:
        got = self.held.get(room)
        return got[0] if got else None

    def valid(self, room: str) -> bool:
        """Held, and surely not expired yet: only then may the holder read for the room or write for it."""
        got = self.held.get(room)
        return got is not None and time.monotonic() < got[1]

    def acquire(self, room: str) -> bool:
        sent = time.monotonic()
        epoch = self._acquire(keys=[keys.lease(room, self.kind), keys.fence(room, self.kind)],
                              args=[self.worker, self.ttl_ms])
        if not epoch:
            return False
        with self.lock:
            self.held[room] = (f"{self.worker}#{int(epoch)}", sent + self.ttl_s * SAFETY, sent)
        return True

    def renew_due(self) -> list[str]:
        """Renew the leases a third of a TTL old; returns the rooms whose lease turned out lost."""
        lost = []
        with self.lock:
            held = list(self.held.items())
        for room, (token, _until, renewed) in held:
            now = time.monotonic()
            if now - renewed < self.ttl_s / 3:
                continue
            kept = self._renew(keys=[keys.lease(room, self.kind)], args=[token, self.ttl_ms])
            with self.lock:
                if self.held.get(room, (None,))[0] != token:
                    continue   # released or dropped meanwhile
                if kept:
                    self.held[room] = (token, now + self.ttl_s * SAFETY, now)
                else:
                    del self.held[room]
                    lost.append(room)
        return lost

    def release(self, room: str) -> None:
        with self.lock:
            got = self.held.pop(room, None)
        if got is not None:
            self._release(keys=[keys.lease(room, self.kind)], args=[got[0]])

    def drop(self, room: str) -> None:
        """Forget a lease found lost (no call: it is someone else's now)."""
        with self.lock:
            self.held.pop(room, None)


class Share:
    """One worker's part of a kind's rooms: beat, renew, let go of what is wished elsewhere, take what is
    wished here and free. `tend` is called from the worker's own loop (no thread: a worker that stalls stops
    renewing, which is the point)."""

    def __init__(self, r: redis.Redis, kind: str, ttl_s: float, worker: str | None = None):
        self.worker = worker or worker_id(kind)
        self.ttl_s = ttl_s
        self.registry = Registry(r, kind, self.worker, ttl_s)
        self.leases = Leases(r, kind, self.worker, ttl_s)
        self.tended = float("-inf")
        self.lost: set[str] = set()      # found lost by the renewing thread, for the next tend
        self.report: dict | None = None  # the worker's latest report, beaten by the renewing thread too

    def keep_renewing(self, stop: threading.Event) -> threading.Thread:
        """Renew the leases and beat from a thread of their own: a loop step that takes longer than a lease
        (a big batch on a busy machine) must not cost the worker its rooms, only a stall of the whole process
        should. Safety never depends on this: the fenced writes do. The thread's calls should go through a
        client of their own (`Share(renew_client...)`), apart from connections the worker may kill."""
        def loop():
            while not stop.wait(self.ttl_s / 6):
                try:
                    lost = self.leases.renew_due()
                    self.registry.beat(self.report)
                except redis.RedisError as e:
                    log.debug("lease renewal failed (%s); the loop's own tend retries", e)
                    continue
                if lost:
                    with self.leases.lock:
                        self.lost.update(lost)
        t = threading.Thread(target=loop, name=f"{self.registry.kind}-leases", daemon=True)
        t.start()
        return t

    def held(self) -> list[str]:
        with self.leases.lock:
            return sorted(self.leases.held)

    def due(self) -> bool:
        return time.monotonic() - self.tended >= self.ttl_s / 6

    def tend(self, rooms, report: dict | None, let_go) -> tuple[list[str], list[str]]:
        """Returns (rooms gained, rooms no longer held). `let_go(room)` runs before a wished-elsewhere room's
        lease is released, while it is still held: the holder's last fenced write."""
        self.tended = time.monotonic()
        self.report = report
        live = self.registry.beat(report)
        gone = self.leases.renew_due()
        with self.leases.lock:
            gone += [room for room in self.lost if room not in gone]
            self.lost.clear()
        wished = assign(rooms, live)
        with self.leases.lock:
            held = list(self.leases.held)
        for room in held:
            if wished.get(room) != self.worker:
                if self.leases.valid(room):
                    let_go(room)
                self.leases.release(room)
                gone.append(room)
        gained = [room for room, w in wished.items()
                  if w == self.worker and room not in self.leases.held and self.leases.acquire(room)]
        if (gained or gone) and report is not None:
            with self.leases.lock:
                self.report = {**report, "rooms": sorted(self.leases.held)}
            self.registry.beat(self.report)   # health sees the change now
        return gained, gone

    def leave(self, let_go) -> None:
        """A clean stop: last writes, leases released and the registry left, so others take over at once."""
        with self.leases.lock:
            held = list(self.leases.held)
        for room in held:
            if self.leases.valid(room):
                let_go(room)
            self.leases.release(room)
        self.registry.leave()
