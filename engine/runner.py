"""The engine process: consume every room's stream through a consumer group, keep exact state, publish.

Exactly once, across restarts: a room's state is checkpointed (pickled, with the stream id of the last
applied entry) in the same MULTI that XACKs exactly the entries it has applied. So every entry in this
consumer's pending list that the engine does not hold as applied-but-unacknowledged was never applied: after
a crash, and after any connection error, they are read back from the pending list and applied. An entry is
never acknowledged without having been applied, whatever its id.

Connection errors: a read of new entries (">") that timed out may still be served when a stalled Redis
wakes up, moving entries into the pending list on a connection nobody reads any more. Sending it again (as
redis-py's retries would) would then skip them: so the engine's client never retries by itself, and after an
error the engine first ends its older connections (CLIENT KILL) and then re-reads its pending list.
"""
from __future__ import annotations

import logging
import pickle
import threading
import time

import orjson
import redis

from engine.room import ApplyFailed, Room, rebuild
from feeds.schema import Invalid, admissible
from settings import FRAME_HZ, parser, require_redis_url
from store import deadletters, keys, wire
from store.connect import by_stream, raw_stream_reads, sync_client
from store.parts import gc_keeper, stop_on_signals

log = logging.getLogger("livewall.engine")

CONSUMER = "engine-1"
CLIENT_NAME = "livewall-engine"   # every engine connection's name, to find orphans after an error
BATCH = 2000              # entries per stream per read
BLOCK_MS = 100
CHECKPOINT_S = 3.0        # how much work a crash can cost us to replay, at least this often...
CHECKPOINT_SHARE = 0.1    # ...unless pickling big rooms would then take more than this share of the engine
FRAME_PRODUCTS = 30       # product rows carried by a live frame (the API serves them all)
FRAME_MINUTES = 60        # series minutes carried by a live frame
STATE_VERSION = 6         # bump when the pickled state's shape changes: old checkpoints are then replayed


def _sid(entry_id: bytes) -> tuple[int, int]:
    ms, _, n = entry_id.partition(b"-")
    return int(ms), int(n)


class Engine:
    def __init__(self, client: redis.Redis):
        self.r = raw_stream_reads(client)
        self.rooms: dict[str, Room] = {}
        self.unacked: dict[str, list[bytes]] = {}
        self.known = 0
        self.due: dict[str, float] = {}   # room -> earliest monotonic time its next frame may go out
        self.last_beat = 0.0
        self.saved: dict[str, float] = {}     # room -> monotonic time of its last checkpoint
        self.save_cost: dict[str, float] = {}  # room -> seconds its last checkpoint took
        self.lag_s = 0.0
        self.started = time.time()   # in the heartbeat: a beat from before this engine started is no evidence
        self.dead: dict[str, set] = {}        # room -> stream ids set aside as dead letters
        self.broken = False   # a Redis call failed: recover() before reading on

    # -- rooms ----------------------------------------------------------------------------------------

    def discover(self) -> None:
        n = self.r.scard(keys.ROOMS)
        if n == self.known:
            return
        for raw in self.r.smembers(keys.ROOMS):
            name = raw.decode()
            if name not in self.rooms:
                self._open(name)
        self.known = n

    def _open(self, name: str) -> None:
        stream = keys.events(name)
        try:
            self.r.xgroup_create(stream, keys.GROUP, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        room = _load_state(self.r.get(keys.state(name)))
        self.unacked[name] = []
        self.saved[name] = time.monotonic()
        if room is None:
            # no usable checkpoint: the whole log is delivered again, in order, to a fresh room; a new group
            # (rather than only moving it back) also empties the pending list, all of which comes again
            pipe = self.r.pipeline(transaction=True)
            pipe.xgroup_destroy(stream, keys.GROUP)
            pipe.xgroup_create(stream, keys.GROUP, id="0")
            pipe.execute()
            self.rooms[name] = Room(name)
            return
        self.rooms[name] = room
        self._read_pending(room)   # delivered to us before a crash, after the checkpoint was taken
        room.dirty = True

    def _read_pending(self, room: Room) -> None:
        """Apply every entry of our pending list that we have not applied: those delivered before a crash, or
        by a read whose reply was lost. After a lost reply they may lie below entries applied since, and
        are applied late, as late-arriving events are. All are read before any is applied, so that a rebuild
        set off by one of them replays the others once, not twice."""
        applied = set(self.unacked[room.name])
        stream = keys.events(room.name)
        start = b"0"
        missed = []
        while True:
            got = by_stream(self.r.xreadgroup(keys.GROUP, CONSUMER, {stream: start}, count=BATCH))
            entries = got[0][1] if got else []
            if not entries:
                break
            missed += [e for e in entries if e[0] not in applied]
            start = entries[-1][0]
        if missed and applied:
            log.warning("room %s: %d delivered entries were never applied (a reply lost to a connection "
                        "error); applying them now", room.name, len(missed))
        self._apply(room, missed)
        if room.needs_rebuild:
            self._rebuild(room.name)

    def recover(self) -> None:
        """After a connection error: end our older connections, so that a read still queued on one cannot
        deliver entries to nobody later, then apply what our pending lists hold that we have not applied."""
        me = self.r.client_id()
        for c in self.r.client_list():
            if c.get("name") == CLIENT_NAME and int(c["id"]) != me:
                try:
                    self.r.client_kill_filter(_id=c["id"])
                except redis.ResponseError:
                    pass   # it ended by itself meanwhile
        for room in list(self.rooms.values()):
            self._read_pending(room)
        self.broken = False

    def _apply(self, room: Room, entries: list) -> None:
        """Apply entries this engine has not applied (new ones, or pending ones a lost reply hid).

        No event may stop the engine. An entry is checked against today's schema before it touches the room
        (`_admit`): every handler in engine/metrics.py can only fail on what the schema rules out (a missing
        field, a wrong type, a sum overflowing a float), so an admitted event cannot fail half-way and leave
        the room half-changed. Copying the session before each event would cost more than applying it. Should
        one fail anyway (a bug), the room may be half-changed: it is rebuilt from its log without that entry."""
        name = room.name
        ack = self.unacked[name]
        covered = None   # after a rebuild: the log up to here is in the room already
        for entry_id, fields in entries:
            ack.append(entry_id)
            if covered is not None and _sid(entry_id) <= covered:
                continue
            if _sid(entry_id) > _sid(room.last_id):
                room.last_id = entry_id
            payload = fields[1] if len(fields) > 1 else None   # raw fields: [b"e", payload]
            ev = self._admit(name, entry_id, payload)
            if ev is None:
                continue
            try:
                room.apply(ev, room.seq)
            except Exception as e:  # noqa: BLE001 - see above
                self._dead(name, entry_id, payload, e)
                self._rebuild(name)
                room = self.rooms[name]
                covered = _sid(room.last_id)

    def _admit(self, name: str, entry_id: bytes, payload: bytes) -> dict | None:
        """The entry's event if the engine may apply it, else None (set aside as a dead letter)."""
        if entry_id in self.dead.get(name, ()):
            return None
        try:
            return admissible(payload)
        except Invalid as e:
            self._dead(name, entry_id, payload, e)
            return None

    def _dead(self, name: str, entry_id: bytes, payload, error: Exception) -> None:
        self.dead.setdefault(name, set()).add(entry_id)
        if deadletters.record(self.r, "engine", name, error, entry_id, bytes(payload or b"")):
            log.warning("room %s: entry %s set aside as a dead letter: %s", name, entry_id.decode(), error)

    def _rebuild(self, name: str) -> None:
        """Replay the current session's part of the room's log in (ts, arrival) order: for session boundaries
        that came late inside it (frozen sessions are never replayed: engine/room.py)."""
        old = self.rooms[name]
        log.info("rebuilding room %s's current session from its log (a session boundary arrived late)", name)
        events, ids = [], {}
        for seq, (_id, fields) in enumerate(self._log(name, old.last_id)):
            ev = self._admit(name, _id, fields.get(b"e"))
            if ev is not None:
                events.append((ev, seq))
                ids[seq] = _id
        try:
            self.rooms[name] = rebuild(old, events)
        except ApplyFailed as f:  # see _apply: once more without it
            self._dead(name, ids[f.seq], orjson.dumps(f.ev), f.error)
            self._rebuild(name)

    def _log(self, name: str, until: bytes):
        start = "-"
        while True:
            chunk = self.r.xrange(keys.events(name), min=start, max=until, count=10000)
            if not chunk:
                return
            yield from chunk
            if chunk[-1][0] == until or len(chunk) < 10000:
                return
            start = b"(" + chunk[-1][0]

    # -- the loop -------------------------------------------------------------------------------------

    def step(self) -> int:
        """Read and apply one batch; publish and checkpoint when due. Returns entries applied."""
        self.discover()
        if self.rooms:
            streams = {keys.events(name): ">" for name in self.rooms}
            got = by_stream(self.r.xreadgroup(keys.GROUP, CONSUMER, streams, count=BATCH, block=self._block_ms()))
        else:
            time.sleep(BLOCK_MS / 1000)
            got = []
        n = 0
        full = False
        newest_ms = 0
        for stream, entries in got:
            name = keys.room_of_events_key(stream.decode())
            room = self.rooms[name]
            self._apply(room, entries)
            if room.needs_rebuild:
                self._rebuild(name)
            n += len(entries)
            full = full or len(entries) == BATCH
            newest_ms = max(newest_ms, _sid(entries[-1][0])[0])
        # lag: how far behind the wall clock the entries we just applied were stored, while we are behind
        self.lag_s = max(0.0, time.time() - newest_ms / 1000) if full else 0.0
        now = time.monotonic()
        self.publish(now)
        self._checkpoint_due(now)
        return n

    def _block_ms(self) -> int:
        """Wait for entries no longer than until the next held-back frame is due."""
        pending = [self.due.get(name, 0.0) for name, room in self.rooms.items() if room.dirty]
        if not pending:
            return BLOCK_MS
        return max(1, min(BLOCK_MS, int((min(pending) - time.monotonic()) * 1000) + 1))

    def publish(self, now: float | None = None, force: set | None = None) -> None:
        """A frame for each changed room as soon as it changes, at most FRAME_HZ times a second per room
        (the rooms in `force` at once: their checkpoint comes next; without `now`, every changed room).

        Publishing on change rather than on one global tick saves a quiet room's screens up to a whole
        tick of waiting, and spreads busy rooms' frames instead of bunching them."""
        pipe = self.r.pipeline(transaction=False)
        wall = time.time()
        clock = time.monotonic()
        if now is None:
            now, force = clock, set(self.rooms)
        for name, room in self.rooms.items():
            for s in room.finished:
                _write_final(pipe, room, s)
            room.finished.clear()
            _write_late(pipe, room)
            held = self.due.get(name, 0.0) > now and not (force and name in force)
            if not room.dirty or held:
                continue
            if room.current is not None:
                _write_snapshot(pipe, room, wall)
            room.dirty = False
            self.due[name] = clock + 1 / FRAME_HZ
        if clock - self.last_beat >= 1 / FRAME_HZ:
            pipe.set(keys.ENGINE_HEARTBEAT, orjson.dumps({"ts": wall, "lag_s": self.lag_s, "rooms": len(self.rooms),
                                                           "started": self.started}))
            self.last_beat = clock
        if len(pipe):
            pipe.execute()

    def _checkpoint_due(self, now: float) -> None:
        """Checkpoint the most overdue room, one per step: pickling every big room at once would stall the
        engine, and every screen's frames with it, for seconds. A room is due CHECKPOINT_S after its last
        checkpoint, or later when rooms' pickling would otherwise take more than CHECKPOINT_SHARE of the time."""
        spent = sum(self.save_cost.values())
        every = max(CHECKPOINT_S, spent / CHECKPOINT_SHARE)
        due = [(self.saved.get(name, 0.0), name) for name, ack in self.unacked.items()
               if ack and now - self.saved.get(name, 0.0) >= every]
        if due:
            self.checkpoint([min(due)[1]])

    def checkpoint(self, names: list[str] | None = None, force: bool = False) -> None:
        """Checkpoint these rooms (all by default) that have entries to acknowledge; `force`: even without."""
        # snapshots first: a state checkpoint must never be ahead of what screens and the API can see
        names = list(self.unacked) if names is None else names
        self.publish(time.monotonic(), force=set(names))
        for name in names:
            ack = self.unacked[name]
            if not ack and not force:
                continue
            began = time.monotonic()
            room = self.rooms[name]
            pipe = self.r.pipeline(transaction=True)
            pipe.set(keys.state(name), pickle.dumps((STATE_VERSION, room), protocol=pickle.HIGHEST_PROTOCOL))
            if ack:
                pipe.xack(keys.events(name), keys.GROUP, *ack)
            # what stays pending for us now was delivered and never applied: a lost reply we did not notice
            pipe.xpending(keys.events(name), keys.GROUP)
            left = _pending_of(pipe.execute()[-1], CONSUMER)
            ack.clear()
            if left:
                log.warning("room %s: %d pending entries were never applied; re-reading them", name, left)
                self.broken = True
            self.saved[name] = time.monotonic()
            self.save_cost[name] = self.saved[name] - began


def _pending_of(summary: dict, consumer: str) -> int:
    return sum(int(c["pending"]) for c in summary.get("consumers") or [] if _text(c["name"]) == consumer)


def _text(x) -> str:
    return x.decode() if isinstance(x, bytes) else x


def _load_state(blob: bytes | None) -> Room | None:
    if not blob:
        return None
    try:
        version, room = pickle.loads(blob)
    except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is replaced by a replay
        log.warning("checkpoint unreadable (%s): replaying the room's log", e)
        return None
    return room if version == STATE_VERSION else None


def _write_snapshot(pipe, room: Room, wall: float) -> None:
    s = room.current
    metrics = s.metrics()
    metrics["room"] = room.name
    metrics["platform"] = room.platform
    products = s.product_rows()
    series = s.series()
    # the leaders, and whatever is on stage even before it sells
    shown = products[:FRAME_PRODUCTS] + [p for p in products[FRAME_PRODUCTS:] if p["on_stage"]]
    comments = [{"ts": ts, "user": u, "text": t} for ts, u, t in sorted(s.recent_comments)[-10:]]
    blob = wire.encode(wire.Frame(room=room.name, platform=room.platform, updated=wall, metrics=metrics,
                                  products=shown, product_count=len(products), series=series[-FRAME_MINUTES:],
                                  comments=comments))
    pipe.set(keys.snapshot(room.name), blob)
    pipe.set(keys.products(room.name), orjson.dumps(products))
    pipe.set(keys.series(room.name), orjson.dumps(series))
    pipe.hset(keys.session_list(room.name), s.id, orjson.dumps(_session_row(s)))
    pipe.hset(keys.SESSIONS, s.id, room.name)
    pipe.publish(keys.frames(room.name), blob)


def _session_row(s) -> dict:
    return {"session": s.id, "started": s.started, "ended": s.ended, "gmv": s.gmv / 100,
            "title": s.info.get("title")}


def _write_final(pipe, room: Room, s) -> None:
    final = {"room": room.name, "platform": room.platform, "metrics": {**s.metrics(), "room": room.name},
             "products": s.product_rows(), "series": s.series()}
    pipe.set(keys.session_final(room.name, s.id), orjson.dumps(final))
    pipe.hset(keys.session_list(room.name), s.id, orjson.dumps(_session_row(s)))
    pipe.hset(keys.SESSIONS, s.id, room.name)


def _write_late(pipe, room: Room) -> None:
    """The late records of frozen sessions that changed (kept beside their final figures, for the review)."""
    for sid in room.late_changed:
        pipe.set(keys.session_late(room.name, sid), orjson.dumps(room.late[sid]))
    room.late_changed.clear()


def run(redis_url: str, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    # no retries by redis-py: see the module's docstring; this loop waits out outages and recovers
    engine = Engine(sync_client(redis_url, retries=0, name=CLIENT_NAME))
    keep_gc = gc_keeper()
    while not stop.is_set():
        try:
            if engine.broken:
                engine.recover()
            engine.step()
            keep_gc()
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as e:
            # Redis is restarting or stalled: our state in memory is still right; carry on from it
            log.warning("redis unavailable (%s); retrying", e)
            engine.broken = True
            stop.wait(0.5)
    try:
        engine.checkpoint(force=True)
    except redis.RedisError:
        pass


def main(argv: list[str] | None = None) -> None:
    p = parser("python -m engine", "livewall metrics engine")
    redis_url = require_redis_url(p, p.parse_args(argv).redis_url, "the engine")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(redis_url, stop_on_signals())
