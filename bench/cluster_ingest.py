"""The store step of ingest on a Redis Cluster against one Redis, in the same run.

    python -m bench.cluster_ingest [--events 100000] [--rooms 20] [--batch 2000]

Stores the same judged events (feeds/ingest.py: store_sync, batches as POST /api/events makes them) on an
embedded redis-server and on a local three-master cluster (store/cluster.py), both with appendfsync always,
and prints events/s of each and their ratio. One client process: this is the cost of the two-step
exactly-once design (claim in id shards, then one script per room) against the one-script path, not the
cluster's capacity, which grows with its masters and with more web processes.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds import ingest  # noqa: E402
from store import cluster, embedded  # noqa: E402
from store.connect import sync_client  # noqa: E402


def judged(n: int, rooms: int) -> list:
    t0 = time.time() - 600
    events = [{"id": f"b{i}", "room": f"room{i % rooms}", "ts": t0 + i / 1000, "type": "enter", "user": f"u{i}"}
              for i in range(n)]
    good, rejected = ingest._judge_each([orjson.dumps(e) for e in events])
    assert not rejected
    return good


def rate(client, events: list, batch: int) -> float:
    began = time.perf_counter()
    for i in range(0, len(events), batch):
        assert all(ingest.store_sync(client, events[i:i + batch]))
    return len(events) / (time.perf_counter() - began)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.cluster_ingest")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--rooms", type=int, default=20)
    p.add_argument("--batch", type=int, default=2000)
    a = p.parse_args()
    events = judged(a.events, a.rooms)
    with tempfile.TemporaryDirectory() as d:
        one = embedded.start(Path(d) / "one", port=0)
        many = cluster.start(Path(d) / "cluster", masters=3)
        try:
            single = rate(sync_client(one.url), events, a.batch)
            clustered = rate(sync_client(many.url), events, a.batch)
        finally:
            one.stop()
            many.stop()
    print(f"store step, {a.events} events in {a.rooms} rooms, batches of {a.batch}:")
    print(f"  one Redis (one script per batch):          {single:10,.0f} events/s")
    print(f"  three-master cluster (claim, then store):  {clustered:10,.0f} events/s   ratio {clustered / single:.2f}")


if __name__ == "__main__":
    main()
