"""Exactly once on a real three-master Redis Cluster: ids are global across rooms on different slots, and the
two-step store (claim the id in its shard, then store in the room's slot) survives a crash between the steps."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from feeds import ingest
from store import keys
from store.connect import async_client, clustered
from tests.cluster import client, rooms_per_master, slot
from tests.events import E


@pytest.fixture
def rc(redis_cluster, cluster_url):
    c = client(redis_cluster)
    assert clustered(c)
    yield c
    c.close()


def judged(events):
    good, rejected = ingest._judge_each([ingest.orjson.dumps(e) for e in events])
    assert not rejected
    return good


def stream_ids(rc, room):
    return [ingest.orjson.loads(f[b"e"])["id"] for _sid, f in rc.xrange(keys.events(room))]


def test_rooms_are_on_different_masters(redis_cluster, rc):
    rooms = rooms_per_master(redis_cluster, 1)
    assert len({rc.get_node_from_key(keys.events(r)).name for r in rooms}) == 3
    assert len({slot(keys.events(r)) for r in rooms}) == 3


def test_same_id_in_another_room_is_a_duplicate(redis_cluster, rc):
    a, b, c = rooms_per_master(redis_cluster, 1)
    first = ingest.ingest_sync(rc, [E("enter", 1, room=a, id="x1", user="u"), E("enter", 1, room=a, id="x2", user="u")])
    assert first["accepted"] == 2
    again = ingest.ingest_sync(rc, [E("enter", 2, room=b, id="x1", user="u"), E("enter", 2, room=c, id="x2", user="u"),
                                    E("enter", 2, room=c, id="x3", user="u")])
    assert (again["accepted"], again["duplicates"]) == (1, 2)
    assert stream_ids(rc, a) == ["x1", "x2"]
    assert stream_ids(rc, b) == []
    assert stream_ids(rc, c) == ["x3"]
    assert {m.decode() for m in rc.smembers(keys.ROOMS)} >= {a, c}


def test_duplicates_within_one_batch(redis_cluster, rc):
    a, b, _c = rooms_per_master(redis_cluster, 1)
    batch = [E("enter", 1, room=a, id="d1", user="u"), E("enter", 1, room=a, id="d1", user="u"),
             E("enter", 1, room=b, id="d1", user="u"), E("enter", 1, room=b, id="d2", user="u")]
    assert ingest.store_sync(rc, judged(batch)) == [True, False, False, True]
    assert stream_ids(rc, a) == ["d1"] and stream_ids(rc, b) == ["d2"]


def test_retry_after_a_crash_between_the_steps(redis_cluster, rc):
    """Step (a) ran alone (the process died before step (b)): nothing is stored, the ids are this room's, and
    the resend stores each exactly once; a second resend is all duplicates; another room still cannot have them."""
    rooms = rooms_per_master(redis_cluster, 2)
    events = [E("enter", i, room=rooms[i % len(rooms)], id=f"c{i}", user=f"u{i}") for i in range(3000)]
    good = judged(events)
    half = good[:1500]
    assert all(ingest.claim_sync(rc, half))
    assert sum(rc.xlen(keys.events(r)) for r in rooms) == 0
    assert ingest.store_sync(rc, good) == [True] * 3000
    assert ingest.store_sync(rc, good) == [False] * 3000
    moved = [E("enter", 1, room=rooms[(i + 1) % len(rooms)], id=f"c{i}", user="u") for i in range(0, 3000, 7)]
    assert ingest.store_sync(rc, judged(moved)) == [False] * len(moved)
    for i, room in enumerate(rooms):
        assert stream_ids(rc, room) == [f"c{j}" for j in range(i, 3000, len(rooms))]


def test_crash_after_the_room_step_is_a_duplicate_on_resend(redis_cluster, rc):
    """Both steps ran but the answer was lost: the resend must not store a second copy."""
    a, = rooms_per_master(redis_cluster, 1)[:1]
    good = judged([E("enter", 1, room=a, id=f"z{i}", user="u") for i in range(10)])
    assert all(ingest.store_sync(rc, good))
    assert ingest.store_sync(rc, good) == [False] * 10
    assert rc.xlen(keys.events(a)) == 10


def test_async_store_on_the_cluster(redis_cluster, cluster_url):
    a, b, c = rooms_per_master(redis_cluster, 1)
    good = judged([E("enter", i, room=(a, b, c)[i % 3], id=f"y{i}", user="u") for i in range(5000)])

    async def go():
        r = async_client(cluster_url)
        try:
            return await ingest.store_async(r, good), await ingest.store_async(r, good)
        finally:
            await r.aclose()
    with ThreadPoolExecutor(1) as pool:   # a thread of its own: another test's event loop may run in this one
        first, second = pool.submit(asyncio.run, go()).result()
    assert first == [True] * 5000 and second == [False] * 5000
    with client(redis_cluster) as rc:
        assert sum(rc.xlen(keys.events(r)) for r in (a, b, c)) == 5000
