"""The insight jobs on their own: `python -m insights --redis-url URL`."""
import argparse
import os
import signal
import threading

p = argparse.ArgumentParser(prog="python -m insights")
p.add_argument("--redis-url", default=os.environ.get("LIVEWALL_REDIS_URL"))
p.add_argument("--every", type=float, default=10.0)
a = p.parse_args()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
