"""The scheduler of the insight jobs (APScheduler): no overlapping runs, missed runs coalesced."""
from __future__ import annotations

import logging

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from pathlib import Path

from insights import ads, archiver, report, rerun, risk
from store.parts import gc_keeper
from store import deadletters, keys
from store.connect import sync_client
from settings import ARCHIVE_EVERY_S, DAILY_REPORT_AT, DEFAULT_HOST, DEFAULT_PORT, REPORT_TZ, parse_at

log = logging.getLogger("livewall.insights")
RISK_EVERY_S = 0.5   # alerts must reach the screens within ~2 s of the events that fire them


def build(redis_url: str, every_s: float, data_dir: Path | None = None, report_at: str | None = DAILY_REPORT_AT,
          report_tz: str = REPORT_TZ, public_url: str | None = None) -> BackgroundScheduler:
    r = sync_client(redis_url, retries=3)   # a job that fails runs again at its next interval
    events = sync_client(redis_url, retries=3)   # the risk job's own: it reads every event, raw
    sched = BackgroundScheduler(job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30})
    sched.add_job(guarded, "interval", seconds=every_s, args=["ads", each_room, r, ads.run_room], id="ads",
                  name="ad-spend suggestions")
    sched.add_job(guarded, "interval", seconds=every_s, args=["rerun", each_room, r, rerun.run_room], id="rerun",
                  name="re-run recommendations")
    sched.add_job(guarded, "interval", seconds=RISK_EVERY_S, args=["risk", risk.run, events], id="risk",
                  name="risk rules")
    if data_dir is not None:
        try:
            archiver.start(data_dir)
        except OSError as e:   # the archive job's own runs say it again; the other jobs go on
            log.warning("archive in %s: %s", data_dir, e)
        sched.add_job(guarded, "interval", seconds=ARCHIVE_EVERY_S, args=["archive", archiver.run, r, data_dir],
                      id="archive", name="session archive")
    sched.add_job(gc_keeper(), "interval", seconds=5, id="gc", name="short garbage collections")
    if report_at:
        hour, minute = parse_at(report_at)
        book = risk.RuleBook()   # the report goes to the alert webhook's chat, as configured there
        public_url = public_url or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
        sched.add_job(guarded, "cron", hour=hour, minute=minute, timezone=report_tz,
                      args=["report", lambda: report.run(r, data_dir, book.current().get("webhook"), report_tz,
                                                         public_url)],
                      id="daily-report", name="daily report", misfire_grace_time=3600)
    return sched


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


def each_room(r, run_room) -> None:
    """A per-room job over every room: one room's Redis error skips that room, not the others."""
    for raw in sorted(r.smembers(keys.ROOMS)):
        room = raw.decode()
        try:
            run_room(r, room)
        except redis.RedisError as e:
            log.warning("%s skipped for %s: %s", run_room.__module__, room, e)
        except Exception as e:  # noqa: BLE001 - what one room's figures do never stops the other rooms
            job = run_room.__module__.rsplit(".", 1)[-1]
            if deadletters.record(r, job, room, e):
                log.exception("%s failed for %s; set aside as a dead letter", job, room)
