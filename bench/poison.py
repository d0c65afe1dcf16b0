"""Poison bodies against a real web process: what three 8 MiB bodies of `[0,0,…]` sent at once cost.

    python -m bench.poison [--bodies 3]

Prints each reply's status, size and time, the web process's peak RSS before and after (VmHWM), and the
slowest `/healthz` answer while the bodies were being judged (it was 8.6 s, 2.3 GB and three 227 MiB replies
before bodies were counted ahead of parsing).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.ingest import ROOT, free_port
from store import embedded

ZEROS = b"[" + b"0," * (4 * 1024 * 1024 - 2) + b"0]"   # just under 8 MiB: 4.19 M elements


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.poison")
    p.add_argument("--bodies", type=int, default=3)
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lw-poison-"))
    server = embedded.start(tmp / "redis", port=free_port())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    web = subprocess.Popen([sys.executable, "-m", "server", "--redis-url", server.url, "--port", str(port)],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/healthz")   # 503 without an engine: answering is what counts here
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        before = peak_rss_mb(web.pid)
        replies: list[tuple] = []

        def post() -> None:
            began = time.monotonic()
            r = httpx.post(f"{url}/api/events", content=ZEROS, headers={"Content-Type": "application/json"},
                           timeout=120)
            replies.append((r.status_code, len(r.content), time.monotonic() - began))

        threads = [threading.Thread(target=post) for _ in range(a.bodies)]
        for t in threads:
            t.start()
        slowest = 0.0
        while any(t.is_alive() for t in threads):
            began = time.monotonic()
            httpx.get(f"{url}/healthz", timeout=60)
            slowest = max(slowest, time.monotonic() - began)
        for status, size, took in replies:
            print(f"reply {status}, {size} bytes, {took:.2f} s")
        print(f"web peak RSS {before:.0f} -> {peak_rss_mb(web.pid):.0f} MB; slowest /healthz {slowest:.2f} s")
    finally:
        web.terminate()
        web.wait(10)
        server.stop()


if __name__ == "__main__":
    main()
