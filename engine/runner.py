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

Many workers: any number of engine processes share the rooms (store/leases.py: a registry, a balanced wish of
who holds which room, a fenced lease per room). Each worker is its own consumer in every room's group. A room
comes to a worker with its checkpoint and with every entry pending in the group, whoever it was delivered to:
since a checkpoint acknowledges in the same atomic step exactly what it holds, every entry still pending was
never applied to that checkpoint, so the new holder claims them all (XAUTOCLAIM) and applies them, in stream
order, before it reads new ones. The checkpoint is a script that first compares the room's lease with the
worker's token (fencing): a worker that stalled past its lease cannot write its stale state over the new
holder's, nor acknowledge anything. A worker only reads for and publishes rooms whose lease it surely still
holds (its own clock, with a margin); entries a stalled worker's read still took after it lost the lease stay
pending on its consumer, and the holder claims them at its next checkpoint.
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
from settings import ENGINE_LEASE_S, FRAME_HZ, parser, require_redis_url
from store import deadletters, fanout, keys, wire
from store.connect import clustered, raw_stream_reads, read_groups, sync_client
from store.leases import Share, worker_id
from store.parts import gc_keeper, stop_on_signals

log = logging.getLogger("livewall.engine")

CLIENT_NAME = "livewall-engine"   # + the worker id: every connection's name, to find our orphans after an error
BATCH = 2000              # entries per stream per read
BLOCK_MS = 100
CHECKPOINT_S = 3.0        # how much work a crash can cost us to replay, at least this often...
CHECKPOINT_SHARE = 0.1    # ...unless pickling big rooms would then take more than this share of the engine
FRAME_PRODUCTS = 30       # product rows carried by a live frame (the API serves them all)
FRAME_MINUTES = 60        # series minutes carried by a live frame
STATE_VERSION = 6         # bump when the pickled state's shape changes: old checkpoints are then replayed
# The checkpoint, fenced: KEYS lease, state, events; ARGV token, state, group, ids to acknowledge...
CHECKPOINT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[2], ARGV[2])
local n = 0
for i = 4, #ARGV, 1000 do
  n = n + redis.call('XACK', KEYS[3], ARGV[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return n
"""


def _sid(entry_id: bytes) -> tuple[int, int]:
    ms, _, n = entry_id.partition(b"-")
    return int(ms), int(n)


class Engine:
    def __init__(self, client: redis.Redis, worker: str | None = None, lease_s: float = ENGINE_LEASE_S,
                 lease_client: redis.Redis | None = None):
        """`lease_client`: for the leases and the registry, apart from the connections recover() ends."""
        self.r = raw_stream_reads(client)
        self.share = Share(lease_client or client, "engine", lease_s, worker)
        self.consumer = self.share.worker   # our name in every room's consumer group
        self._checkpoint = client.register_script(CHECKPOINT)
        self.rooms: dict[str, Room] = {}
        self.unacked: dict[str, list[bytes]] = {}
        self.known = 0
        self.due: dict[str, float] = {}   # room -> earliest monotonic time its next frame may go out
        self.saved: dict[str, float] = {}     # room -> monotonic time of its last checkpoint
        self.save_cost: dict[str, float] = {}  # room -> seconds its last checkpoint took
        self.lag_s = 0.0
        self.started = time.time()   # in the heartbeat: a beat from before this engine started is no evidence
        self.dead: dict[str, set] = {}        # room -> stream ids set aside as dead letters
        self.broken = False   # a Redis call failed: recover() before reading on

    # -- rooms ----------------------------------------------------------------------------------------

    def tend(self) -> None:
        """Beat, renew our leases, hand rooms over and take rooms on: every few tenths of a second, and at once
        when a room is new."""
        n = self.r.scard(keys.ROOMS)
        if n == self.known and not self.share.due():
            return
        rooms = [raw.decode() for raw in self.r.smembers(keys.ROOMS)]
        report = {"started": self.started, "lag_s": self.lag_s, "rooms": sorted(self.rooms)}
        _gained, gone = self.share.tend(rooms, report, self._hand_over)
        for name in gone:
            self._forget(name)
        # every room held and not open yet: those just gained, and any whose opening an error cut short
        for name in [name for name in self.share.held() if name not in self.rooms]:
            self._open(name)
        self.known = n

    def _hand_over(self, name: str) -> None:
        """The room is wished to another worker: our last checkpoint, so it starts where we stop."""
        if name in self.rooms:
            self.checkpoint([name], force=True)

    def _forget(self, name: str) -> None:
        for d in (self.rooms, self.unacked, self.due, self.saved, self.save_cost, self.dead):
            d.pop(name, None)

    def _mine(self) -> list[str]:
        """The rooms we may read for and publish now: their lease surely still ours."""
        return [name for name in self.rooms if self.share.leases.valid(name)]

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
        self._claim(name)          # delivered before a crash (to any worker), after the checkpoint was taken
        self._read_pending(room)
        room.dirty = True

    def _claim(self, name: str) -> int:
        """Move every entry pending in the room's group to us (we hold its lease); forget the idle consumers."""
        stream = keys.events(name)
        start, n = "0-0", 0
        while True:
            got = self.r.xautoclaim(stream, keys.GROUP, self.consumer, 0, start_id=start, count=BATCH)
            n += len(got[1])
            start = got[0]
            if start in (b"0-0", "0-0"):
                break
        for c in self.r.xinfo_consumers(stream, keys.GROUP):
            if _text(c["name"]) != self.consumer and not int(c["pending"]):
                self.r.xgroup_delconsumer(stream, keys.GROUP, c["name"])
        if n:
            log.info("room %s: %d pending entries claimed", name, n)
        return n

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
            got = read_groups(self.r, keys.GROUP, self.consumer, {stream: start}, count=BATCH)
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
        deliver entries to nobody later, then apply what our pending lists hold that we have not applied.
        On a cluster (connections per node; no single client id to keep) the kill is left out: an entry
        delivered late to our consumer is still caught, by the next checkpoint's look at what stays pending."""
        for c in [] if clustered(self.r) else self._orphans():
            try:
                self.r.client_kill_filter(_id=c["id"])
            except redis.ResponseError:
                pass   # it ended by itself meanwhile
        for room in list(self.rooms.values()):
            self._read_pending(room)
        self.broken = False

    def _orphans(self) -> list[dict]:
        me = self.r.client_id()
        return [c for c in self.r.client_list()
                if c.get("name") == client_name(self.consumer) and int(c["id"]) != me]

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
        self.tend()
        mine = self._mine()
        if mine:
            streams = {keys.events(name): ">" for name in mine}
            got = read_groups(self.r, keys.GROUP, self.consumer, streams, count=BATCH, block=self._block_ms())
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
        for name in self._mine():
            room = self.rooms[name]
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
            token = self.share.leases.token(name)
            blob = pickle.dumps((STATE_VERSION, room), protocol=pickle.HIGHEST_PROTOCOL)
            if token is None or self._checkpoint(keys=[keys.lease(name, "engine"), keys.state(name), keys.events(name)],
                                                 args=[token, blob, keys.GROUP, *ack]) == -1:
                log.warning("room %s: our lease is gone (a stall?); another worker holds it now", name)
                self.share.leases.drop(name)
                self._forget(name)
                continue
            # what stays pending now was delivered and never applied: a lost reply we did not notice, or a
            # read by a worker that held the room before us and had stalled
            summary = self.r.xpending(keys.events(name), keys.GROUP)
            ack.clear()
            if int(summary.get("pending") or 0):
                left = _pending_of(summary, self.consumer)
                if int(summary["pending"]) > left:
                    self._claim(name)
                log.warning("room %s: %d pending entries were never applied; re-reading them", name,
                            int(summary["pending"]))
                self.broken = True
            self.saved[name] = time.monotonic()
            self.save_cost[name] = self.saved[name] - began


def _pending_of(summary, consumer: str) -> int:
    if isinstance(summary, list):   # a cluster's MULTI returns XPENDING unparsed: [count, min, max, [[name, n]]]
        return sum(int(n) for name, n in summary[3] or [] if _text(name) == consumer)
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
    fanout.frame(pipe, room.name, blob)


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


def client_name(worker: str) -> str:
    return f"{CLIENT_NAME}-{worker}"


def run(redis_url: str, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    worker = worker_id("engine")
    # no retries by redis-py: see the module's docstring; this loop waits out outages and recovers
    engine = Engine(sync_client(redis_url, retries=0, name=client_name(worker)), worker,
                    lease_client=sync_client(redis_url, retries=0, name=f"{client_name(worker)}-leases"))
    engine.share.keep_renewing(stop)
    log.info("engine worker %s", worker)
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
        engine.share.leave(engine._hand_over)
    except redis.RedisError:
        pass


def main(argv: list[str] | None = None) -> None:
    p = parser("python -m engine", "livewall metrics engine")
    redis_url = require_redis_url(p, p.parse_args(argv).redis_url, "the engine")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(redis_url, stop_on_signals())
