"""The scheduler of the insight jobs (APScheduler): no overlapping runs, missed runs coalesced.

Several job processes may run: each room's jobs (ads, re-run, risk) are done by the holder of the room's "jobs"
lease (store/leases.py), and the system rules by the holder of SYSTEM_ROOM's, so that nothing is suggested or
alerted twice. A process lets go of a room only between runs of its jobs (`Rooms.lock`).
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from pathlib import Path

from insights import ads, archiver, report, rerun, risk
from insights.rules.base import SYSTEM_ROOM
from settings import JOBS_LEASE_S
from store.leases import Share
from store.parts import gc_keeper
from store import deadletters, keys
from store.connect import sync_client
from settings import ARCHIVE_EVERY_S, DAILY_REPORT_AT, DEFAULT_HOST, DEFAULT_PORT, REPORT_TZ, parse_at

log = logging.getLogger("livewall.insights")
RISK_EVERY_S = 0.5   # alerts must reach the screens within ~2 s of the events that fire them


class Rooms:
    """The rooms whose jobs this process runs now. The job threads work under `lock`; letting go of a room
    (in `tend`) takes it too, so a room is never handed over in the middle of a run for it."""

    def __init__(self, r: redis.Redis, lease_s: float = JOBS_LEASE_S):
        self.r = r
        self.share = Share(r, "jobs", lease_s)
        self.lock = threading.RLock()
        self.started = time.time()
        self.share.keep_renewing(threading.Event())   # a daemon thread: it ends with the process

    def tend(self) -> None:
        with self.lock:
            rooms = [x.decode() for x in self.r.smembers(keys.ROOMS)] + [SYSTEM_ROOM]
            report = {"started": self.started, "rooms": sorted(self.share.leases.held)}
            gained, gone = self.share.tend(rooms, report, lambda room: None)
            if gained or gone:
                log.info("jobs of %s now here; %s handed over", sorted(gained) or "no room", sorted(gone) or "none")

    def mine(self) -> set[str]:
        with self.lock:
            if self.share.due():
                self.tend()
            return {room for room in self.share.leases.held if self.share.leases.valid(room)}

    def holds(self, room: str) -> bool:
        return self.share.leases.valid(room)

    def leave(self) -> None:
        with self.lock:
            self.share.leave(lambda room: None)


def build(redis_url: str, every_s: float, data_dir: Path | None = None, report_at: str | None = DAILY_REPORT_AT,
          report_tz: str = REPORT_TZ, public_url: str | None = None) -> BackgroundScheduler:
    r = sync_client(redis_url, retries=3)   # a job that fails runs again at its next interval
    events = sync_client(redis_url, retries=3)   # the risk job's own: it reads every event, raw
    rooms = Rooms(r)
    sched = BackgroundScheduler(job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30})
    sched.add_job(guarded, "interval", seconds=JOBS_LEASE_S / 6, args=["leases", rooms.tend], id="leases",
                  name="room leases")
    sched.add_job(guarded, "interval", seconds=every_s, args=["ads", each_room, r, ads.run_room, rooms], id="ads",
                  name="ad-spend suggestions")
    sched.add_job(guarded, "interval", seconds=every_s, args=["rerun", each_room, r, rerun.run_room, rooms],
                  id="rerun", name="re-run recommendations")
    sched.add_job(guarded, "interval", seconds=RISK_EVERY_S, args=["risk", run_risk, events, rooms], id="risk",
                  name="risk rules")
    if data_dir is not None:
        try:
            archiver.start(data_dir)
        except OSError as e:   # the archive job's own runs say it again; the other jobs go on
            log.warning("archive in %s: %s", data_dir, e)
        sched.add_job(guarded, "interval", seconds=ARCHIVE_EVERY_S, args=["archive", run_system, rooms, archiver.run, r, data_dir],
                      id="archive", name="session archive")
    sched.add_job(gc_keeper(), "interval", seconds=5, id="gc", name="short garbage collections")
    if report_at:
        hour, minute = parse_at(report_at)
        book = risk.RuleBook()   # the report goes to the alert webhook's chat, as configured there
        public_url = public_url or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
        sched.add_job(guarded, "cron", hour=hour, minute=minute, timezone=report_tz,
                      args=["report", run_system, rooms, lambda: report.run(r, data_dir, book.current().get("webhook"),
                                                                            report_tz, public_url)],
                      id="daily-report", name="daily report", misfire_grace_time=3600)
    sched.rooms = rooms   # for a clean stop: python -m insights releases them
    return sched


def run_system(rooms: Rooms, job, *args) -> None:
    """A job for the whole system (the archive, the daily report) runs in the one process holding the system
    room's lease, so that several job processes never race over the same session or day."""
    with rooms.lock:
        if SYSTEM_ROOM in rooms.mine():
            job(*args)


def run_risk(r, rooms: Rooms) -> None:
    with rooms.lock:
        risk.run(r, rooms.mine)


_away: set[str] = set()   # jobs whose last run found Redis away


def guarded(name: str, job, *args) -> None:
    """While Redis is away a run fails: one line in the log when it starts and one when Redis is back, not a
    traceback (nor a line) every half second."""
    try:
        job(*args)
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as e:
        if name not in _away:
            _away.add(name)
            log.warning("%s job: redis unavailable (%s); each run retries", name, e)
        return
    if name in _away:
        _away.discard(name)
        log.warning("%s job: redis answers again", name)


def each_room(r, run_room, rooms: Rooms | None = None) -> None:
    """A per-room job over every room we hold (every room without `rooms`): one room's Redis error skips that
    room, not the others."""
    names = sorted(rooms.mine()) if rooms is not None else sorted(x.decode() for x in r.smembers(keys.ROOMS))
    for room in names:
        if room == SYSTEM_ROOM:
            continue
        try:
            if rooms is None:
                run_room(r, room)
                continue
            with rooms.lock:
                if rooms.holds(room):
                    run_room(r, room)
        except redis.RedisError as e:
            log.warning("%s skipped for %s: %s", run_room.__module__, room, e)
        except Exception as e:  # noqa: BLE001 - what one room's figures do never stops the other rooms
            job = run_room.__module__.rsplit(".", 1)[-1]
            if deadletters.record(r, job, room, e):
                log.exception("%s failed for %s; set aside as a dead letter", job, room)
