"""Scale-out: events/s end to end and CPU per event of each part, one Redis against a Redis Cluster.

    python -m bench.scale [--events 120000] [--rooms 24] [--clients 4] [--batch 2000] [--workers 1,2,4]

Runs, one after the other, in one go:
  baseline  one engine worker on one redis-server (the app's embedded one: AOF, appendfsync always)
  cluster   1, 2 and 4 engine workers on a local three-master Redis Cluster (store/cluster.py, AOF always)
each with one web process (`python -m server`) and the same workload (bench/ingest.py's rooms). The clock runs
from the first POST /api/events until every room's last event shows in GET /api/rooms/<room>/metrics.

CPU-seconds per million events come from /proc/<pid>/stat (utime + stime) of every process of each part over
that span: web, engine workers (summed), Redis servers (summed). The load generator (this process) is not
counted. On a machine with fewer cores than processes the wall-clock rate is capped by the cores; the CPU
cost per event is what shows how the parts scale: docs/scale.md turns it into a capacity plan.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, workload  # noqa: E402
from bench.live import admin_client  # noqa: E402
from store import embedded, keys  # noqa: E402
from store.connect import sync_client  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
IDLE_S = 5.0


def cpu_s(pid: int) -> float:
    """utime + stime of a live process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def spawn(module: str, *args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


class Store:
    """One redis-server, or a local three-master cluster: a URL and the server pids."""

    def __init__(self, kind: str, tmp: Path):
        self.kind = kind
        if kind == "redis":
            self.server = embedded.start(tmp / "redis", port=free_port())
            self.url, self.pids = self.server.url, [self.server.proc.pid]
        else:
            from store import cluster
            self.server = cluster.start(tmp / "cluster", masters=3)
            self.url, self.pids = self.server.url, [n.proc.pid for n in self.server.nodes]

    def stop(self) -> None:
        self.server.stop()


def wait_healthy(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy in {timeout} s")


def post_all(url: str, bodies: list[bytes], clients: int) -> int:
    accepted, retried = [0], [0]
    lock = threading.Lock()

    def poster(part: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            for body in part:
                while True:
                    resp = c.post("/api/events", content=body, headers={"Content-Type": "application/json"})
                    if resp.status_code != 503:
                        break
                    retried[0] += 1   # Redis slower than the web's timeout: send again (ids make it safe)
                    time.sleep(0.2)
                resp.raise_for_status()
                with lock:
                    got = resp.json()   # a batch sent again after a 503 may have been stored the first time
                    accepted[0] += got["accepted"] + (got["duplicates"] if retried[0] else 0)
    threads = [threading.Thread(target=poster, args=(bodies[i::clients],)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if retried[0]:
        print(f"  ({retried[0]} batches sent again after a 503)", flush=True)
    return accepted[0]


def run(kind: str, workers: int, events: list[dict], clients: int, batch: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"lw-scale-{kind}-{workers}-"))
    store = Store(kind, tmp)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = spawn("server", "--redis-url", store.url, "--port", str(port), log=tmp / "web.log")
    engines = [spawn("engine", "--redis-url", store.url, log=tmp / f"engine-{i}.log") for i in range(workers)]
    r = sync_client(store.url)
    try:
        wait_healthy(url)
        reader = admin_client(url, store.url)
        rooms = sorted({ev["room"] for ev in events})
        # the rooms exist before the clock starts (a first event each), so that the workers have shared them
        first = {room: next(ev for ev in events if ev["room"] == room) for room in rooms}
        reader.post("/api/events", content=orjson.dumps(list(first.values())),
                    headers={"Content-Type": "application/json"}).raise_for_status()
        wait_spread(r, rooms, workers)
        rest = [ev for ev in events if ev is not first[ev["room"]]]
        bodies = [orjson.dumps(rest[i:i + batch]) for i in range(0, len(rest), batch)]
        final = {}
        for ev in events:
            final[ev["room"]] = max(final.get(ev["room"], 0.0), ev["ts"])
        pids = {"web": [web.pid], "engine": [e.pid for e in engines], "redis": store.pids}
        # what the parts burn with nothing to do (beats, lease renewals, and on a cluster the engine's polling:
        # a read over rooms in different slots cannot block): printed beside the cost per event, which
        # includes it (it cannot simply be subtracted: a busy worker's reads return data and stop polling)
        idle0, t0 = {part: sum(cpu_s(p) for p in ps) for part, ps in pids.items()}, time.perf_counter()
        time.sleep(IDLE_S)
        before = {part: sum(cpu_s(p) for p in ps) for part, ps in pids.items()}
        idle = {part: (before[part] - idle0[part]) / (time.perf_counter() - t0) for part in pids}
        start = time.perf_counter()
        accepted = post_all(url, bodies, clients)
        posted = time.perf_counter() - start
        pending = dict(final)
        deadline = time.monotonic() + 300
        while pending and time.monotonic() < deadline:
            for room in list(pending):
                resp = reader.get(f"/api/rooms/{room}/metrics")
                if resp.status_code == 200 and resp.json()["as_of"] >= pending[room]:
                    del pending[room]
            if pending:
                time.sleep(0.01)
        visible = time.perf_counter() - start
        if pending:
            raise RuntimeError(f"rooms not caught up after 300 s: {sorted(pending)}")
        cpu = {part: sum(cpu_s(p) for p in ps) - before[part] for part, ps in pids.items()}
        spread = rooms_by_worker(r)
        reader.close()
        assert accepted == len(rest), f"accepted {accepted} of {len(rest)}"
        print(f"  {kind} with {workers} engine worker(s): {len(rest) / visible:,.0f} events/s", flush=True)
        return {"kind": kind, "workers": workers, "events": len(rest), "posted_s": posted, "visible_s": visible,
                "cpu": cpu, "idle": idle, "spread": spread,
                "rss_mb": {part: sum(rss_mb(p) for p in ps) for part, ps in pids.items()}}
    finally:
        for p in [web, *engines]:
            p.terminate()
        for p in [web, *engines]:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        r.close()
        store.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def rooms_by_worker(r) -> list[int]:
    beats = r.hgetall(keys.worker_beats("engine"))
    return sorted((len(orjson.loads(b)["rooms"]) for b in beats.values()), reverse=True)


def wait_spread(r, rooms: list[str], workers: int, timeout: float = 60) -> None:
    """Until `workers` workers hold every room between them (a fair share each)."""
    from store.leases import assign
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = [w.decode() for w in r.zrange(keys.workers("engine"), 0, -1)]
        owners = {room: (r.get(keys.lease(room, "engine")) or b"").decode().rsplit("#", 1)[0] for room in rooms}
        if len(live) == workers and owners == assign(rooms, live):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the rooms did not spread over {workers} workers in {timeout} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=120_000)
    p.add_argument("--rooms", type=int, default=24)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--workers", default="1,2,4", help="engine worker counts to run on the cluster")
    a = p.parse_args()
    events = workload(a.events, a.rooms)
    print(f"workload: {len(events):,} events over {a.rooms} rooms; {a.clients} clients posting batches of "
          f"{a.batch}; {os.cpu_count()} cores")
    runs = [run("redis", 1, events, a.clients, a.batch)]
    for n in (int(x) for x in a.workers.split(",")):
        runs.append(run("cluster", n, events, a.clients, a.batch))
    base = runs[0]
    base_rate = base["events"] / base["visible_s"]
    base_cpu = sum(base["cpu"].values()) / base["events"] * 1e6
    print()
    print("| store | engine workers | events/s | ratio | CPU-s per M events: web / engine / redis / total "
          "| total ratio | idle CPU, % of a core: web / engine / redis | rooms per worker |")
    print("|---|---|---|---|---|---|---|---|")
    for x in runs:
        rate = x["events"] / x["visible_s"]
        per_m = {part: s / x["events"] * 1e6 for part, s in x["cpu"].items()}
        total = sum(per_m.values())
        store = "one redis-server" if x["kind"] == "redis" else "cluster, 3 masters"
        idle_cores = " / ".join(f"{100 * x['idle'][part]:.0f}" for part in ("web", "engine", "redis"))
        print(f"| {store} | {x['workers']} | {rate:,.0f} | {rate / base_rate:.2f} | "
              f"{per_m['web']:.1f} / {per_m['engine']:.1f} / {per_m['redis']:.1f} / {total:.1f} | "
              f"{total / base_cpu:.2f} | {idle_cores} | {'/'.join(map(str, x['spread']))} |")
    print()
    print("RSS at the end (MB): " + "; ".join(
        f"{'redis' if x['kind'] == 'redis' else 'cluster'}×{x['workers']}: "
        + ", ".join(f"{part} {mb:.0f}" for part, mb in x["rss_mb"].items()) for x in runs))


if __name__ == "__main__":
    main()
