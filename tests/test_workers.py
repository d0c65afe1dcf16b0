"""Many engine workers and job processes share the rooms (store/leases.py): real processes on a real
redis-server. Each room has one owner at a time; a worker killed, stalled or joining moves rooms; the figures
equal the independent computation (tests/reference.py) exactly, whatever moved when."""
from __future__ import annotations

import signal
import threading
import time

import httpx
import orjson
import pytest
import redis

from engine.runner import Engine
from feeds.ingest import ingest_sync
from settings import ENGINE_LEASE_S
from store import keys
from store.leases import assign
from server import users
from store.connect import sync_client
from tests.cluster import rooms_per_master
from tests.conftest import ADMIN_PASSWORD, Part, free_port, sign_in, wait_until
from tests.reference import reference
from tests.test_faults import redis_dir, same, session_events  # noqa: F401 - redis_dir is a fixture

ROOMS = [f"w{i}" for i in range(6)]


def room_events(i: int, room: str | None = None) -> list[dict]:
    return [{**e, "room": room or ROOMS[i]} for e in session_events(300 + i)]


def interleaved(per_room: list[list[dict]], size: int = 250) -> list[list[dict]]:
    """Batches of one room each, the rooms taking turns: every room's stream grows all along."""
    batches, i = [], 0
    while any(i < len(evs) for evs in per_room):
        batches += [evs[i:i + size] for evs in per_room if i < len(evs)]
        i += size
    return batches


class Deployment:
    """A web process and engine workers (each `python -m engine`) on one redis-server or a Redis Cluster."""

    def __init__(self, tmp_path, url: str, rooms: list[str] = ROOMS):
        self.tmp_path, self.url, self.rooms = tmp_path, url, rooms
        self.r = sync_client(url)
        port = free_port()
        self.web = Part(["-m", "server", "--redis-url", url, "--port", str(port)], log=tmp_path / "web.log").start()
        self.base = f"http://127.0.0.1:{port}"
        self.workers: list[Part] = []
        self.http = None
        self.per_room = [room_events(i, room) for i, room in enumerate(rooms)]

    def worker(self) -> Part:
        n = len(self.workers) + 1
        w = Part(["-m", "engine", "--redis-url", self.url], log=self.tmp_path / f"engine-{n}.log").start()
        self.workers.append(w)
        return w

    def ready(self) -> None:
        probe = httpx.Client(base_url=self.base, timeout=30)
        wait_until(lambda: probe.get("/healthz").status_code == 200, timeout=60, what="web and engine up")
        probe.close()
        users.put(self.r, "admin", "admin", None, ADMIN_PASSWORD)
        self.http = sign_in(self.base)

    def post(self, batches, pace_s: float = 0.0) -> None:
        for batch in batches:
            time.sleep(pace_s)
            resp = self.http.post("/api/events", json=batch)
            assert resp.status_code == 200 and not resp.json()["rejected"], resp.text

    def owners(self) -> dict[str, str]:
        """room -> the worker holding its lease now."""
        out = {}
        for room in self.rooms:
            v = self.r.get(keys.lease(room, "engine"))
            if v:
                out[room] = v.decode().rsplit("#", 1)[0]
        return out

    def reported(self) -> dict[str, set]:
        """worker -> the rooms its last beat says it holds."""
        return {w.decode(): set(orjson.loads(b)["rooms"]) for w, b in self.r.hgetall(keys.worker_beats("engine")).items()}

    def spread(self, workers: int) -> dict[str, str]:
        """Wait until `workers` live workers hold the rooms as the wish says, each room once; returns owners."""
        def settled():
            live = [w.decode() for w in self.r.zrange(keys.workers("engine"), 0, -1)]
            owners = self.owners()
            if len(live) != workers or set(owners) != set(self.rooms) or owners != assign(self.rooms, live):
                return None
            held = self.reported()
            mine = [held.get(w, set()) for w in live]
            if sum(len(m) for m in mine) != len(self.rooms) or set().union(*mine) != set(self.rooms):
                return None   # a room reported by two workers, or not yet by its owner
            return owners
        return wait_until(settled, timeout=30, what=f"the rooms spread over {workers} workers")

    def assert_exact(self) -> None:
        problems = []
        for room, evs in zip(self.rooms, self.per_room):
            ref = reference(evs)
            want = ref["metrics"]

            def caught_up(room=room, want=want):
                r = self.http.get(f"/api/rooms/{room}/metrics")
                m = r.status_code == 200 and r.json()
                return m and m["as_of"] == want["as_of"] and m["visits"] == want["visits"] and \
                    m["gmv"] == want["gmv"] and m
            got = wait_until(caught_up, timeout=60, what=f"room {room} to catch up")
            problems += same(want, got, room)
            products = self.http.get(f"/api/rooms/{room}/products", params={"limit": 100000}).json()["products"]
            problems += same(ref["products"], products, f"{room}.products")
            problems += same(ref["series"], self.http.get(f"/api/rooms/{room}/series").json()["series"],
                             f"{room}.series")
        assert not problems, "\n".join(problems[:30])

    def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        for w in self.workers:
            if w.proc and w.proc.poll() is None and w.proc.returncode is None:
                try:
                    w.proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
            w.stop()
        self.web.stop()
        self.r.close()


@pytest.fixture
def cluster(tmp_path, redis_dir):  # noqa: F811 - the fixture imported above
    server, _port = redis_dir
    c = Deployment(tmp_path, server.url)
    yield c
    c.stop()


@pytest.fixture
def on_redis_cluster(tmp_path, redis_cluster, cluster_url):
    """The same on a real three-master Redis Cluster (store/cluster.py), two rooms on each master."""
    c = Deployment(tmp_path, cluster_url, rooms_per_master(redis_cluster, 2, prefix="w"))
    yield c
    c.stop()


def test_two_workers_share_the_rooms_exactly(cluster):
    cluster.worker()
    cluster.worker()
    cluster.ready()
    batches = interleaved(cluster.per_room)
    cluster.post(batches[:len(batches) // 3])
    owners = cluster.spread(2)
    assert len(set(owners.values())) == 2 and sorted(list(owners.values()).count(w) for w in set(owners.values())) \
        == [3, 3], owners
    cluster.post(batches[len(batches) // 3:])
    cluster.assert_exact()
    health = cluster.http.get("/healthz").json()
    assert health["ok"] and not health["unowned_rooms"] and len(health["engine_workers"]) == 2, health


def test_a_killed_workers_rooms_move_within_seconds_exactly(cluster):
    kill_one_of_two(cluster)


def test_on_a_redis_cluster_two_workers_share_the_rooms_and_survive_a_kill(on_redis_cluster):
    kill_one_of_two(on_redis_cluster)


def kill_one_of_two(cluster: Deployment) -> None:
    cluster.worker()
    victim = cluster.worker()
    cluster.ready()
    batches = interleaved(cluster.per_room)
    third = len(batches) // 3
    cluster.post(batches[:third])
    owners = cluster.spread(2)
    mine = [room for room, w in owners.items() if str(victim.proc.pid) in w]
    assert mine, owners
    # the rest over ~10 s: the rooms move while events flow
    sending = threading.Thread(target=cluster.post, args=(batches[third:], 10 / (len(batches) - third)))
    sending.start()
    # kill while the victim holds applied-but-unacknowledged entries of its rooms, after a checkpoint of them:
    # the survivor loads that and claims the rest, rather than replaying the log
    wait_until(lambda: any(cluster.r.exists(keys.state(room)) and
                           cluster.r.xpending(keys.events(room), keys.GROUP)["pending"] for room in mine),
               timeout=20, what="entries delivered to the victim and not yet checkpointed")
    victim.kill()
    killed = time.monotonic()
    survivor = cluster.spread(1)
    moved_s = time.monotonic() - killed
    assert moved_s < ENGINE_LEASE_S + 3, f"the rooms took {moved_s:.1f} s to move"
    assert len(set(survivor.values())) == 1
    sending.join()
    cluster.assert_exact()


def test_a_third_worker_joins_and_takes_its_share_exactly(cluster):
    cluster.worker()
    cluster.worker()
    cluster.ready()
    batches = interleaved(cluster.per_room)
    third = len(batches) // 3
    cluster.post(batches[:third])
    before = cluster.spread(2)
    sending = threading.Thread(target=cluster.post, args=(batches[third:2 * third],))
    sending.start()
    cluster.worker()   # joins while events flow
    after = cluster.spread(3)
    sending.join()
    assert sorted(list(after.values()).count(w) for w in set(after.values())) == [2, 2, 2], after
    assert any(before[room] != after[room] for room in ROOMS)
    cluster.post(batches[2 * third:])
    cluster.assert_exact()
    # leaving cleanly hands the rooms over at once, not after the lease
    cluster.workers[-1].stop()
    left = time.monotonic()
    cluster.spread(2)
    assert time.monotonic() - left < ENGINE_LEASE_S, "a clean stop should hand its rooms over before its lease ends"
    cluster.assert_exact()


def test_a_stalled_worker_cannot_overwrite_the_new_owners_checkpoint(cluster):
    cluster.worker()
    stalled = cluster.worker()
    cluster.ready()
    batches = interleaved(cluster.per_room)
    part = len(batches) // 3
    cluster.post(batches[:part])
    cluster.spread(2)
    sending = threading.Thread(target=cluster.post, args=(batches[part:2 * part],))
    sending.start()
    time.sleep(0.2)   # events flowing to both
    stalled.proc.send_signal(signal.SIGSTOP)
    cluster.spread(1)   # its lease ran out: the other worker holds every room
    sending.join()
    stalled.proc.send_signal(signal.SIGCONT)   # it wakes thinking it holds its rooms: the fence refuses it
    cluster.spread(2)   # back in the registry, it gets its share again, handed over by the other
    cluster.post(batches[2 * part:])
    cluster.assert_exact()
    # what is in the checkpoints is right too: every room from its checkpoint alone, by a fresh worker
    for w in cluster.workers:
        w.kill()
    cluster.worker()
    cluster.spread(1)
    cluster.post(batches)   # duplicates all: nothing may change
    cluster.assert_exact()


def test_the_fence_refuses_a_checkpoint_from_a_lost_lease(redis_url):
    """In-process, step by step: worker a holds the room, its lease is lost (it stalled), b takes the room;
    a's checkpoint writes nothing and acknowledges nothing."""
    r = redis.Redis.from_url(redis_url)
    evs = room_events(0)[:400]
    assert ingest_sync(r, evs[:200])["accepted"] == 200
    a = Engine(redis.Redis.from_url(redis_url), worker="a", lease_s=60)
    wait_until(lambda: a.step() >= 0 and "w0" in a.rooms and a.rooms["w0"].seq == 200, what="a to apply")
    a.checkpoint(force=True)
    assert ingest_sync(r, evs[200:])["accepted"] == 200
    wait_until(lambda: a.step() >= 0 and a.rooms["w0"].seq == 400, what="a to apply more, unacknowledged")
    assert a.unacked["w0"]
    # a stalls past its lease: the lease is gone and a leaves the registry; b takes the room
    r.delete(keys.lease("w0", "engine"))
    r.zrem(keys.workers("engine"), "a")
    b = Engine(redis.Redis.from_url(redis_url), worker="b", lease_s=60)
    b.step()
    assert "w0" in b.rooms and r.get(keys.lease("w0", "engine")).startswith(b"b#")
    b.checkpoint(force=True)
    state, pending = r.get(keys.state("w0")), r.xpending(keys.events("w0"), keys.GROUP)["pending"]
    a.checkpoint(force=True)   # a wakes and writes as if it still held the room
    assert r.get(keys.state("w0")) == state and r.xpending(keys.events("w0"), keys.GROUP)["pending"] == pending
    assert "w0" not in a.rooms, "a must drop the room it lost"
    assert b.rooms["w0"].seq == len(evs)
    r.close()


def test_each_room_is_judged_by_one_job_process(tmp_path, redis_dir):
    """Two insight-job processes: each room's alert is made once; a third joins, rooms move with their open
    alerts (adopted, not made again). On a redis-server of its own: no process of an earlier test can be in its
    registry."""
    server, _port = redis_dir
    redis_url = server.url
    r = redis.Redis.from_url(redis_url)
    parts = [Part(["-m", "engine", "--redis-url", redis_url], log=tmp_path / "engine.log").start()]
    jobs = [Part(["-m", "insights", "--redis-url", redis_url, "--every", "1", "--data-dir", str(tmp_path / "data")],
                 log=tmp_path / f"jobs-{n}.log")
            for n in range(3)]
    every = [*ROOMS, "*"]   # "*": the system rules' lease

    def spread(n: int) -> dict:
        def settled():
            live = [w.decode() for w in r.zrange(keys.workers("jobs"), 0, -1)]
            owners = {room: (r.get(keys.lease(room, "jobs")) or b"").decode().rsplit("#", 1)[0] for room in every}
            return len(live) == n and owners == assign(every, live) and owners
        return wait_until(settled, timeout=30, what=f"the rooms' jobs spread over {n} processes")

    def banned(room: str) -> list[dict]:
        return [rec for rec in (orjson.loads(v) for v in r.hvals(keys.ALERTS_BY_ID))
                if rec["rule"] == "banned_words" and rec["room"] == room]

    def comment(n: int) -> list[dict]:
        now = time.time()
        return [{"id": f"{room}-c{n}", "room": room, "ts": now - 1, "type": "comment", "user": f"spam{n}",
                 "text": "加微信私聊"} for room in ROOMS]
    try:
        for p in jobs[:2]:
            p.start()
        now = time.time()
        assert ingest_sync(r, [{"id": f"{room}-s", "room": room, "ts": now - 5, "type": "session_start"}
                               for room in ROOMS])["accepted"] == len(ROOMS)
        first = spread(2)
        assert len(set(first.values())) == 2
        assert ingest_sync(r, comment(1))["accepted"] == len(ROOMS)
        wait_until(lambda: all(banned(room) for room in ROOMS), timeout=20, what="a banned-words alert per room")
        # a few more runs of both processes' risk job (every 0.5 s): none may alert a room another judges
        time.sleep(2)
        assert all(len(banned(room)) == 1 for room in ROOMS), {room: banned(room) for room in ROOMS}
        jobs[2].start()
        second = spread(3)
        assert {room for room in every if first[room] != second[room]}, "the newcomer took no room"
        assert ingest_sync(r, comment(2))["accepted"] == len(ROOMS)
        # the new holder adopted the open alert: the new comment counts on it, not on a second alert
        wait_until(lambda: all(len(banned(room)) == 1 and banned(room)[0]["count"] == 2 for room in ROOMS),
                   timeout=20, what=f"each room's one alert counting both comments ({[banned(x) for x in ROOMS]})")
    finally:
        for p in jobs + parts:
            p.stop()
        r.close()


def test_assign_is_a_fair_share_each_room_once():
    rooms = [f"room{i}" for i in range(50)]
    for n in (1, 2, 3, 4, 7):
        workers = [f"engine-host-{i}" for i in range(n)]
        got = assign(rooms, workers)
        assert set(got) == set(rooms)
        loads = sorted(list(got.values()).count(w) for w in workers)
        assert loads[-1] - loads[0] <= 1, (n, loads)
        assert got == assign(list(reversed(rooms)), list(reversed(workers))), "every worker must wish alike"


def test_the_app_starts_several_engine_workers(tmp_path, redis_url):
    from tests.conftest import System
    s = System(redis_url, free_port(), tmp_path / "app.log", args=("--engine-workers", "2")).start()
    try:
        s.post([{"id": f"{room}-s", "room": room, "ts": time.time(), "type": "session_start"} for room in ROOMS])
        health = wait_until(lambda: (h := s.get("/healthz")) and len(h["engine_workers"]) == 2
                            and not h["unowned_rooms"] and h, timeout=20, what="two engine workers in /healthz")
        assert health["ok"] and {"engine", "engine-2"} <= set(health["parts"]), health
        assert sorted(w["rooms"] for w in health["engine_workers"].values()) == [3, 3], health
    finally:
        s.stop()
