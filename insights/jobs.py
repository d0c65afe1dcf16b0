"""The scheduler of the insight jobs (APScheduler): no overlapping runs, missed runs coalesced."""
from __future__ import annotations

import logging

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from insights import ads, rerun, risk
from store import keys
from store.connect import sync_client

log = logging.getLogger("livewall.insights")
RISK_EVERY_S = 0.5   # alerts must reach the screens within ~2 s of the events that fire them


def build(redis_url: str, every_s: float) -> BackgroundScheduler:
    r = sync_client(redis_url)
    sched = BackgroundScheduler(job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30})
    sched.add_job(each_room, "interval", seconds=every_s, args=[r, ads.run_room], id="ads",
                  name="ad-spend suggestions")
    sched.add_job(each_room, "interval", seconds=every_s, args=[r, rerun.run_room], id="rerun",
                  name="re-run recommendations")
    sched.add_job(risk.run, "interval", seconds=RISK_EVERY_S, args=[r], id="risk", name="risk rules")
    return sched


def each_room(r, run_room) -> None:
    """A per-room job over every room: one room's Redis error skips that room, not the others."""
    for raw in sorted(r.smembers(keys.ROOMS)):
        room = raw.decode()
        try:
            run_room(r, room)
        except redis.RedisError as e:
            log.warning("%s skipped for %s: %s", run_room.__module__, room, e)
