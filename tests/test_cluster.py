"""livewall on a real three-master Redis Cluster: ingest, the engine and screens, exact figures, several web
processes, and a master failing over to its replica while events flow.

Every Redis here is a real redis-server in cluster mode (store/cluster.py); the app and the web processes are
real processes, the screen a real headless Chromium.
"""
from __future__ import annotations

import threading
import time

import httpx
import orjson
import pytest

from store import cluster as local_cluster, keys, wire
from tests.cluster import Balancer, client, flush, rooms_per_master
from tests.conftest import Part, System, free_port, wait_until
from tests.events import arrive_late, random_session
from tests.reference import reference
from tests.test_faults import same
from tests.test_wall import ev, gmv, live_room


def session_in(room: str, seed: int) -> list[dict]:
    """A messy session (tests/events.py) moved to `room`; its ids stay those of its seed."""
    evs = arrive_late(random_session(seed, span=900.0, users=150, skus=6, prior="none", end=False), seed)
    return [{**e, "room": room} for e in evs]


def post_all(s: System, events: list[dict], size: int = 500) -> tuple[int, int]:
    accepted = duplicates = 0
    for i in range(0, len(events), size):
        got = s.post(events[i:i + size])
        assert not got["rejected"], got["rejected"][:3]
        accepted += got["accepted"]
        duplicates += got["duplicates"]
    return accepted, duplicates


def assert_room_matches_reference(http: httpx.Client, room: str, events: list[dict]) -> None:
    want = reference(events)["metrics"]

    def caught_up():
        r = http.get(f"/api/rooms/{room}/metrics")
        return r.status_code == 200 and r.json()["as_of"] == want["as_of"] and r.json()["visits"] == want["visits"] \
            and r.json()["gmv"] == want["gmv"] and r.json()
    got = wait_until(caught_up, timeout=40, what=f"the engine to catch up with every event of {room}")
    problems = same({**want, "room": room}, got)
    ref = reference(events)
    problems += same(ref["products"], http.get(f"/api/rooms/{room}/products", params={"limit": 100000}
                                               ).json()["products"], ".products")
    problems += same(ref["series"], http.get(f"/api/rooms/{room}/series").json()["series"], ".series")
    assert not problems, "\n".join(problems[:30])


@pytest.fixture(scope="module")
def on_cluster(redis_cluster, tmp_path_factory):
    """The whole app (`python app.py --redis-url redis-cluster://...`) on the session's cluster."""
    flush(redis_cluster)
    s = System(redis_cluster.url, free_port(), tmp_path_factory.mktemp("cluster-app") / "app.log").start()
    yield s
    s.stop()


def test_metrics_equal_the_reference_with_rooms_on_every_master(redis_cluster, on_cluster):
    rooms = rooms_per_master(redis_cluster, 1, prefix="exact")
    sessions = {room: session_in(room, seed) for seed, room in enumerate(rooms, start=21)}
    for room, events in sessions.items():
        assert post_all(on_cluster, events) == (len(events), 0)
    for room, events in sessions.items():
        assert_room_matches_reference(on_cluster.http, room, events)
    # the same ids again, in their own room and moved to another: duplicates everywhere, nothing changes
    a, b, _c = rooms
    assert post_all(on_cluster, sessions[a]) == (0, len(sessions[a]))
    assert post_all(on_cluster, [{**e, "room": b} for e in sessions[a]]) == (0, len(sessions[a]))
    with client(redis_cluster) as rc:
        for room, events in sessions.items():
            assert rc.xlen(keys.events(room)) == len(events)
            assert rc.scard(keys.room_ids(room)) == len(events)
    for room, events in sessions.items():
        assert_room_matches_reference(on_cluster.http, room, events)


def web_process(url: str, port: int, log) -> Part:
    part = Part(["-m", "server", "--redis-url", url, "--port", str(port)], log=log).start()
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200, timeout=90,
               what=f"web process on {port}")
    return part


def live_within(page, room: str, s: System, amount: float, expect: str, seconds: float = 5.0) -> float:
    """Seconds until the wall (just cut off from its web process) is open again and shows a pay sent now."""
    t0 = time.monotonic()
    page.wait_for_function("document.getElementById('wall')?.dataset.conn === 'open'", timeout=seconds * 1000)
    s.post([ev(room, "pay", user=f"p{amount}", sku="k1", order_id=f"po{amount}", amount=amount)])
    page.wait_for_function(f"document.querySelector('{gmv(room)}')?.textContent === '{expect}'",
                           timeout=seconds * 1000)
    return time.monotonic() - t0


def test_screens_move_between_web_processes_and_resync(redis_cluster, on_cluster, page, tmp_path):
    """Two web processes (`python -m server`) behind a load balancer. The one serving a wall is killed with
    SIGKILL: the wall reconnects through the balancer to the other and is live again within 5 s; the killed one
    is started again, the other killed, and the wall comes back to the restarted one. The session cookie made
    by the app's own web process is good on both (the signing secret lives in Redis)."""
    ports = [free_port(), free_port()]
    webs = [web_process(redis_cluster.url, p, tmp_path / f"web{i}.log") for i, p in enumerate(ports)]
    lb = Balancer(free_port(), ports).start()
    url = f"http://127.0.0.1:{lb.port}"
    try:
        room = rooms_per_master(redis_cluster, 1, prefix="moving")[2]
        on_cluster.post(live_room(room))
        on_cluster.metrics_when(room, lambda m: m["paid_orders"] == 3)
        page.context.add_cookies([{"name": "lw_session", "value": on_cluster.session(), "url": url,
                                   "httpOnly": True, "sameSite": "Lax"}])
        page.goto(f"{url}/wall?room={room}&lang=en")
        page.wait_for_function(f"document.querySelector('{gmv(room)}')?.textContent === '¥597.00'", timeout=40000)
        webs[0].kill()
        assert live_within(page, room, on_cluster, 1.0, "¥598.00") < 5.0
        webs[0].start()
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{ports[0]}/healthz").status_code == 200, timeout=90,
                   what="the killed web process back")
        webs[1].kill()
        assert live_within(page, room, on_cluster, 2.0, "¥600.00") < 5.0
    finally:
        lb.stop()
        for w in webs:
            w.stop()


def test_alerts_and_frames_reach_a_socket_on_a_cluster(redis_cluster, on_cluster):
    """An alert (a cluster-wide PUBLISH, heard on any node) and a room's frames (SPUBLISH in its slot) both
    reach a websocket of the web process."""
    from websockets.sync.client import connect
    room = rooms_per_master(redis_cluster, 1, prefix="notice")[1]
    on_cluster.post(live_room(room))
    on_cluster.metrics_when(room, lambda m: m["paid_orders"] == 3)
    ws_url = on_cluster.url.replace("http", "ws") + f"/ws?rooms={room}"
    with connect(ws_url, additional_headers={"Cookie": f"lw_session={on_cluster.session()}",
                                             "Origin": on_cluster.url}) as ws:
        def next_of(kind, room_=None, timeout=10.0):
            end = time.monotonic() + timeout
            while (left := end - time.monotonic()) > 0:
                try:
                    msg = orjson.loads(ws.recv(timeout=left))
                except TimeoutError:
                    break
                # the risk job's own alerts on the room (stock_low...) may come too: only ours counts
                if kind == "alert" and msg.get("kind") == kind and msg["alert"]["id"] != "cl-1":
                    continue
                if msg.get("kind") == kind and (room_ is None or msg.get("room") == room_):
                    return msg
            return None

        def until_heard(send, kind, room_=None):
            """The socket's subscriptions are made as it arrives: send again until one is heard."""
            for attempt in range(10):
                send(attempt)
                if (msg := next_of(kind, room_, timeout=1.5)) is not None:
                    return msg
            raise AssertionError(f"no {kind} message reached the socket")

        alert = {"id": "cl-1", "rule": "stock_out_on_stage", "room": room, "severity": "critical",
                 "state": "firing", "started": time.time(), "figures": {"stock": 0},
                 "title": {"zh": "讲解中商品售罄", "en": "On-stage product sold out"}}
        with client(redis_cluster) as rc:
            heard = until_heard(lambda _: rc.publish(keys.NOTICE_CHANNEL, orjson.dumps({"kind": "alert",
                                                                                      "alert": alert})), "alert")
        assert heard["alert"]["id"] == "cl-1"
        frame = until_heard(lambda i: on_cluster.post([ev(room, "pay", user=f"n{i}", sku="k1", order_id=f"n{i}",
                                                          amount=1.0)]), "frame", room)
        while frame is not None and frame["metrics"]["gmv"] == 597.0:   # the greeting's, or one from before
            frame = next_of("frame", room)
        assert frame is not None and frame["metrics"]["gmv"] > 597.0


# ---- failover ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def replicated(tmp_path_factory):
    """Three masters with one replica each."""
    c = local_cluster.start(tmp_path_factory.mktemp("replicated"), masters=3, replicas=1)
    yield c
    c.stop()


class Sender(threading.Thread):
    """Sends batches of pays as a publisher does: a batch that fails (503 while the cluster fails over, or no
    answer) is sent again with the same ids until it is answered. Keeps the ids the ingest answered accepted."""

    def __init__(self, s: System, room: str):
        super().__init__(daemon=True)
        self.s, self.room = s, room
        self.http = httpx.Client(base_url=s.url, timeout=10, cookies=s.http.cookies)
        self.halt = threading.Event()
        self.accepted: list[dict] = []
        self.failures = 0
        self.batches = 0

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            batch = [ev(self.room, "pay", user=f"f{n + i}", sku="k1", order_id=f"fo{n + i}", amount=1.0)
                     for i in range(50)]
            n += len(batch)
            while True:
                try:
                    resp = self.http.post("/api/events", json=batch)
                    if resp.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                self.failures += 1
                time.sleep(0.05)
            got = resp.json()
            assert not got["rejected"]
            # a resend after a lost answer may find some stored already: answered duplicate, yet ours
            self.accepted += batch if got["accepted"] + got["duplicates"] == len(batch) else []
            self.batches += 1


class Watcher(threading.Thread):
    """A screen's socket on one room: keeps the paid orders of the newest frame it got. Frames published while
    the web process subscribes again after the slot moved are missed; the resync that follows makes up."""

    def __init__(self, s: System, room: str):
        super().__init__(daemon=True)
        self.s, self.room = s, room
        self.paid_orders = None
        self.halt = threading.Event()

    def run(self) -> None:
        from websockets.sync.client import connect
        with connect(self.s.url.replace("http", "ws") + f"/ws?rooms={self.room}",
                     additional_headers={"Cookie": f"lw_session={self.s.session()}", "Origin": self.s.url}) as ws:
            while not self.halt.is_set():
                try:
                    msg = orjson.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                if msg.get("kind") == "resync":   # as a screen does (assets/livewall-socket.js)
                    ws.send(wire.RESYNC_REQUEST)
                elif msg.get("kind") == "frame" and msg.get("room") == self.room:
                    self.paid_orders = msg["metrics"]["paid_orders"]


def test_master_fails_over_while_events_flow_and_nothing_acknowledged_is_lost(replicated, tmp_path):
    flush(replicated)
    s = System(replicated.url, free_port(), tmp_path / "app.log").start()
    try:
        room = "failover"
        s.post(live_room(room, buyers=0))
        with client(replicated) as rc:
            master = rc.get_node_from_key(keys.events(room))
        replica = next(n for n in replicated.nodes if n.port != master.port
                       and n.client().info("replication").get("master_port") == master.port)
        watcher = Watcher(s, room)
        watcher.start()
        sender = Sender(s, room)
        sender.start()
        wait_until(lambda: sender.batches >= 20, timeout=30, what="events flowing")
        with replica.client() as r:
            assert r.execute_command("CLUSTER FAILOVER")
        wait_until(lambda: replicated.roles().get(replica.port) == "master", timeout=20, what="the replica promoted")
        before = sender.batches
        wait_until(lambda: sender.batches >= before + 20, timeout=30, what="events flowing after the failover")
        sender.halt.set()
        sender.join(30)
        pays = sender.accepted
        with client(replicated) as rc:
            assert rc.get_node_from_key(keys.events(room)).port == replica.port
            stored = [e for e in (orjson.loads(f[b"e"]) for _sid, f in rc.xrange(keys.events(room))) if e["type"] == "pay"]
        ids = [e["id"] for e in stored]
        assert len(ids) == len(set(ids)), "an event stored twice"
        assert {e["id"] for e in pays} <= set(ids), "an accepted event was lost"
        m = s.metrics_when(room, lambda m: m["paid_orders"] == len(ids), timeout=40)
        assert m["gmv"] == float(len(ids))
        # the screen's frames came on after the room's slot moved (server/shards.py subscribed again)
        wait_until(lambda: watcher.paid_orders == len(ids), timeout=15, what="the screen's last frame")
        watcher.halt.set()
        print(f"failover: {len(ids)} pays, {sender.failures} failed sends resent")
    finally:
        s.stop()
