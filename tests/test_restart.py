"""A restart rewrites no history: `python app.py` with simulated rooms, stopped (SIGTERM) or killed (SIGKILL)
and started again on the same data dir.

Running sessions continue with the same ids and their figures only grow; no ended session's figures change;
no session is backdated into one that ran; one product on stage at most; no alert fires because of the
restart; proposed ad-spend suggestions keep their ids. Plus the late-events rule end to end: an event late
into a frozen session shows in its review's `late` block and not in its totals.
"""
from __future__ import annotations

import signal
import time

import pytest
import redis

from feeds import simulator
from insights.risk import load_rules, RULES_FILE
from insights.rules.system import system_conditions
from store import keys
from tests.conftest import ADMIN_PASSWORD, Part, System, free_port, wait_until

ROOMS = ("douyin-01", "kuaishou-02")
# 5x event time and 3-minute sessions: the first start's 10-minute preroll leaves ended sessions behind,
# and a session runs ~36 s of wall time, long enough to be stopped in the middle
APP_ARGS = ["--rooms", "2", "--insights-every", "1", "--sim-speed", "5", "--session-minutes", "3"]
RESTART_RULES = {"engine_lag", "stale_data"}   # what a restart fired; never right after one here
# The rules a restart could fool (a burst of events, an empty baseline) fire after it only for an anomaly the
# simulator really made (its truth, as bench/alerts.py matches them): rule -> anomaly kinds
BURSTS = {"bounce_storm": ("bounce_storm",), "viewer_drop": ("viewer_drop", "bounce_storm"),
          "buyer_burst": ("order_burst",), "instant_orders": ("order_burst",), "comment_flood": ("comment_flood",),
          "banned_words": ("banned_words",), "refund_spike": ("refund_spike",), "paid_stall": ("roi_crash",)}


class SimSystem(System):
    """The whole app with its simulated rooms and its embedded Redis in a data dir."""

    def __init__(self, data_dir, port: int, log):
        super().__init__("", port, log, feed="sim")
        self.part = Part(["app.py", "--data-dir", str(data_dir), "--port", str(port), *APP_ARGS],
                         env={"LIVEWALL_ADMIN_PASSWORD": ADMIN_PASSWORD}, log=log)


def sessions(s: System, room: str) -> dict:
    return {row["session"]: row for row in s.get(f"/api/rooms/{room}/sessions")["sessions"]}


def record(s: System) -> dict:
    """Every session's figures (the review's totals), the running ones apart, suggestions and alerts."""
    out = {"ended": {}, "running": {}, "proposed": {}}
    for room in ROOMS:
        for sid, row in sessions(s, room).items():
            totals = s.get(f"/api/sessions/{sid}/review")["totals"]
            (out["ended"] if row["ended"] is not None else out["running"])[sid] = totals
        # open suggestions: proposals awaiting a decision and noted holds
        out["proposed"][room] = {x["id"] for x in s.get(f"/api/rooms/{room}/suggestions")["suggestions"]
                                 if x["state"] in ("proposed", "noted")}
    out["alerts"] = {a["id"] for a in s.get("/api/alerts")["alerts"]}
    return out


def ready(s: System):
    """Each room has an ended session and a running one at least 20 s of event time old, and suggestions."""
    before = record(s)
    for room in ROOMS:
        running = [t for sid, t in before["running"].items() if sid.startswith(room + "@")]
        if not running or running[0]["as_of"] - running[0]["started"] < 20 or not before["proposed"][room]:
            return None
        if not any(sid.startswith(room + "@") for sid in before["ended"]):
            return None
    return before


def on_stage(s: System, room: str) -> list[str]:
    rows = s.get(f"/api/rooms/{room}/products", params={"limit": 100000})["products"]
    return [p["sku"] for p in rows if p["on_stage"]]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restart_continues_sessions_and_changes_no_history(tmp_path, how):
    port = free_port()
    s = SimSystem(tmp_path / "data", port, tmp_path / "app.log").start()
    try:
        before = wait_until(lambda: ready(s), timeout=120, interval=0.5, what="ended and running sessions")
        if how == signal.SIGTERM:
            s.part.stop()
        else:
            s.part.kill()
        stopped = time.time()
        time.sleep(2)   # an outage of 10 s of event time, for the rooms to catch up with
        s.http.close()
        s = SimSystem(tmp_path / "data", port, tmp_path / "app.log").start()

        # the running sessions go on: same ids, later clock, figures that only grow
        for sid, old in before["running"].items():
            room = old["room"]
            wait_until(lambda: s.get(f"/api/sessions/{sid}/review")["totals"]["as_of"] > old["as_of"], timeout=30,
                       what=f"{sid} to continue")
            new = s.get(f"/api/sessions/{sid}/review")["totals"]
            assert new["started"] == old["started"]
            for k in ("gmv", "visits", "viewers", "paid_orders", "comments", "likes", "ad_spend", "watch_seconds"):
                assert new[k] >= old[k], (sid, k, old[k], new[k])
            # no session backdated into it: every other session began before it or after its clock at the stop
            for other in sessions(s, room).values():
                if other["session"] != sid:
                    assert other["started"] < old["started"] or other["started"] >= old["as_of"], other
        # no ended session's figures change
        for sid, old in before["ended"].items():
            assert s.get(f"/api/sessions/{sid}/review")["totals"] == old, sid
        # one product on stage at most, for a while after the restart
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for room in ROOMS:
                assert len(on_stage(s, room)) <= 1, (room, on_stage(s, room))
            time.sleep(0.25)
        # proposed suggestions of a session that goes on are still there, with their ids, or were replaced by a
        # newer snapshot of the same campaign (recorded, so that approving the old id gets a 409, not a 404)
        store = redis.Redis(unix_socket_path=str(tmp_path / "data" / "redis" / "redis.sock"))
        for room in ROOMS:
            sid = next(sid for sid in before["running"] if sid.startswith(room + "@"))
            if s.get(f"/api/rooms/{room}/metrics")["session"] == sid:
                ids = {x["id"] for x in s.get(f"/api/rooms/{room}/suggestions")["suggestions"]}
                ids |= {k.decode() for k in store.hkeys(keys.suggestions_superseded(room))}
                assert before["proposed"][room] <= ids, (room, before["proposed"][room], ids)
        store.close()
        # no alert fired by the restart
        fired = [a for a in s.get("/api/alerts")["alerts"] if a["id"] not in before["alerts"]]
        assert not [a for a in fired if a["rule"] in RESTART_RULES], fired
        truth = redis.Redis(unix_socket_path=str(tmp_path / "data" / "redis" / "redis.sock"))
        anomalies = {room: simulator.read_truth(truth, room)["anomalies"] for room in ROOMS}
        truth.close()

        def real(alert) -> bool:
            return any(a["kind"] in BURSTS[alert["rule"]] and
                       a["start"] - 5 <= alert["as_of"] <= a.get("shows_until", a["end"]) + 60
                       for a in anomalies[alert["room"]])
        assert not [a for a in fired if a["rule"] in BURSTS and a["started"] >= stopped and not real(a)], fired
    finally:
        s.stop()


def test_late_event_into_a_frozen_session_is_reported_not_counted(system):
    from tests.events import E
    room = "frozen-r"
    s1 = [E("session_start", 0, room=room), E("enter", 1, room=room, user="a"),
          E("pay", 2, room=room, user="a", sku="s", order_id="o1", amount=10.0)]
    system.post(s1 + [E("session_start", 100, room=room), E("enter", 101, room=room, user="b")])
    sid = f"{room}@{int(round(s1[0]['ts'] * 1000))}"
    wait_until(lambda: system.get(f"/api/sessions/{sid}/review")["totals"]["ended"] is not None, what="S1 frozen")
    # late into S1: a pay, and a session_start that would split it
    system.post([E("pay", 50, room=room, user="a", sku="s", order_id="o2", amount=7.5),
                 E("session_start", 60, room=room)])
    late = wait_until(lambda: (r := system.get(f"/api/sessions/{sid}/review"))["late"]["count"] == 2 and r,
                      what="the late block")
    assert late["late"]["gmv"] == 7.5 and late["late"]["by_type"]["pay"] == {"count": 1, "amount": 7.5}
    assert late["totals"]["gmv"] == 10.0 and late["profit"]["gmv"] == 10.0
    assert [row["started"] for row in system.get(f"/api/rooms/{room}/sessions")["sessions"]] == \
        [s1[0]["ts"] + 100, s1[0]["ts"]], "a late session_start split a frozen session"
    assert system.get(f"/api/rooms/{room}/metrics")["gmv"] == 0.0


def test_engine_lag_ignores_a_heartbeat_from_before_the_restart():
    config = load_rules([RULES_FILE])
    old = {"ts": 100.0, "lag_s": 0.0, "rooms": 2, "started": 50.0}
    # the job started at 130: the beat the stopped engine left is 38 s old, and no evidence yet
    assert system_conditions(old, 138.0, config, since=130.0) == []
    # ... until the new engine had its grace to start and beat
    assert [c.rule for c in system_conditions(old, 161.0, config, since=130.0)] == ["engine_lag"]
    # a new engine catching up with its outage is not lagging; later it is
    new = {"ts": 140.0, "lag_s": 9.0, "rooms": 2, "started": 135.0}
    assert system_conditions(new, 140.5, config, since=130.0) == []
    later = {**new, "ts": 170.0}
    assert [c.rule for c in system_conditions(later, 170.5, config, since=130.0)] == ["engine_lag"]


def test_a_snapshot_from_before_the_restart_is_not_stale_data(redis_url):
    # The risk job starts after an outage of two minutes: the snapshot the engine left says "updated 120 s
    # ago", which is the outage, not the feed. It is judged from the job's start on.
    import orjson
    from engine.runner import Engine
    from feeds.ingest import ingest_sync
    from feeds.simulator import simulate_session
    from insights.risk import Job
    from store import keys
    client = redis.Redis.from_url(redis_url)
    room = "douyin-01"
    ingest_sync(client, simulate_session(room, 1, 300, time.time() - 300)[:-1])   # running: no session_end
    engine = Engine(client)
    wait_until(lambda: engine.step() == 0 and client.exists(keys.snapshot(room)), what="a snapshot")
    snap = orjson.loads(client.get(keys.snapshot(room)))
    client.set(keys.snapshot(room), orjson.dumps({**snap, "updated": time.time() - 120}))
    job = Job(redis.Redis.from_url(redis_url))
    job.step()
    rules = {orjson.loads(v)["rule"] for v in client.hvals(keys.ALERTS_BY_ID)}
    assert "stale_data" not in rules, rules
    client.close()


def test_a_restarted_risk_job_has_its_windows_back(redis_url):
    # Rules that compare now with before (a leave burst against the usual pace) need the before: a restarted
    # job reads again what its group had been given, as the job before it had seen it.
    from feeds.ingest import ingest_sync
    from feeds.simulator import simulate_session
    from insights.risk import Job
    client = redis.Redis.from_url(redis_url)
    room = "douyin-01"
    ingest_sync(client, simulate_session(room, 1, 600, time.time() - 600))
    first = Job(redis.Redis.from_url(redis_url))
    first.step()
    again = Job(redis.Redis.from_url(redis_url))
    again.step()
    a, b = first.states[room], again.states[room]
    a_stays, b_stays = a.units["viewer_drop"].stays, b.units["viewer_drop"].stays
    a_pays, b_pays = a.units["refund_spike"].pays, b.units["refund_spike"].pays
    assert len(a_stays) > 100 and list(a_stays) == list(b_stays) and list(a_pays) == list(b_pays)
    assert a.last_ts == b.last_ts
    client.close()
