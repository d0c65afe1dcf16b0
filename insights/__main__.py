"""The insight jobs on their own: `python -m insights --redis-url URL [--every SECONDS]`."""
import argparse
import logging
import os

from insights import jobs
from store.parts import stop_on_signals

p = argparse.ArgumentParser(prog="python -m insights")
p.add_argument("--redis-url", default=os.environ.get("LIVEWALL_REDIS_URL"))
p.add_argument("--every", type=float, default=10.0, help="seconds between ad-spend and re-run runs")
a = p.parse_args()
if not a.redis_url:
    p.error("--redis-url (or LIVEWALL_REDIS_URL) is required")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per run would drown the log
stop = stop_on_signals()
sched = jobs.build(a.redis_url, a.every)
sched.start()
stop.wait()
sched.shutdown(wait=True)
