"""The insight jobs on their own: `python -m insights --redis-url URL [--every SECONDS]`."""
import logging

from insights import jobs
from pathlib import Path

from settings import add_report_options, default_data_dir, parser, require_redis_url
from store.parts import stop_on_signals

p = parser("python -m insights", "livewall insight jobs: ad-spend suggestions, re-run recommendations, risk rules")
p.add_argument("--data-dir", type=Path, default=default_data_dir(),
               help="where ended sessions are archived (env LIVEWALL_DATA_DIR, default ~/.livewall)")
p.add_argument("--every", type=float, default=10.0, help="seconds between ad-spend and re-run runs")
add_report_options(p)
a = p.parse_args()
redis_url = require_redis_url(p, a.redis_url, "the insight jobs")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per run would drown the log
stop = stop_on_signals()
sched = jobs.build(redis_url, a.every, a.data_dir, a.daily_report_at or None, a.report_tz, a.public_url)
sched.start()
stop.wait()
sched.shutdown(wait=True)
try:
    sched.rooms.leave()   # the other job processes take our rooms over at once
except Exception:  # noqa: BLE001 - Redis may be gone: the leases then expire by themselves
    pass
