"""The live-room push receiver's answer time against POST /api/events carrying the same events.

    python -m bench.connectors [--rounds 300] [--messages 20]

Starts `python app.py --feed none --connectors <a push connector>`; each round sends one signed push of
`--messages` comments (POST /api/connectors/live/push) and the same comments as events (POST /api/events,
signed in as admin), one after the other, each timed from send to reply. Prints p50, p99 and max of both and
their ratio. The platforms want an answer within about a second.
"""
from __future__ import annotations

import argparse
import statistics
import time

import httpx
import orjson
import yaml

from bench.live import Livewall
from feeds.connectors.push import signature

SECRET = "bench-push-secret-0123456789"


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.connectors", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--messages", type=int, default=20)
    a = p.parse_args()
    import tempfile
    from pathlib import Path
    cfg = Path(tempfile.mkdtemp(prefix="lw-bench-conn-")) / "connectors.yaml"
    cfg.write_text(yaml.safe_dump({"connectors": {"live": {
        "kind": "push", "secret_env": "BENCH_PUSH_SECRET", "rooms": {"bench-push": {"room_id": "1"}}}}}))
    with Livewall(args=("--connectors", str(cfg)), env={"BENCH_PUSH_SECRET": SECRET}) as lw, \
            httpx.Client(base_url=lw.url, timeout=30) as platform:
        pushes, posts = [], []
        for i in range(a.rounds):
            now = time.time()
            msgs = [{"msg_id": f"{i}-{k}", "msg_type": "comment", "user": f"u{k}", "content": "多少钱",
                     "timestamp": now} for k in range(a.messages)]
            body = orjson.dumps({"room_id": "1", "messages": msgs})
            stamp = str(int(now))
            t0 = time.perf_counter()
            r = platform.post("/api/connectors/live/push", content=body, headers={
                "Content-Type": "application/json", "X-Livewall-Timestamp": stamp,
                "X-Livewall-Signature": signature(SECRET, stamp, body)})
            pushes.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["accepted"] == a.messages, r.text
            events = [{"id": f"ev-{i}-{k}", "room": "bench-push", "ts": now, "type": "comment", "user": f"u{k}",
                       "text": "多少钱"} for k in range(a.messages)]
            t0 = time.perf_counter()
            r = lw.http.post("/api/events", json=events)
            posts.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["accepted"] == a.messages, r.text

    def q(xs, f):
        return sorted(xs)[min(len(xs) - 1, int(f * len(xs)))] * 1000
    print(f"{a.rounds} rounds of {a.messages} messages")
    for name, xs in (("push receiver", pushes), ("POST /api/events", posts)):
        print(f"  {name:18s} p50 {q(xs, .5):6.1f} ms   p99 {q(xs, .99):6.1f} ms   max {max(xs) * 1000:6.1f} ms")
    print(f"  ratio push/events: p50 {statistics.median(pushes) / statistics.median(posts):.2f}, "
          f"p99 {q(pushes, .99) / q(posts, .99):.2f}")


if __name__ == "__main__":
    main()
