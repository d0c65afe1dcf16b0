"""`python app.py` looks after its parts: kill -9 of the engine, the insight jobs or the embedded Redis and
each comes back by itself, /healthz shows it, and the figures are exact afterwards. And a start that cannot
work fails at once, with one line saying why, before "livewall on ..." is printed."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ROOT, Part, free_port, sign_in, wait_until
from tests.test_faults import assert_matches_reference, post_all, session_events


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The whole app on an embedded Redis in a temporary data dir, as a user runs it."""
    d = tmp_path_factory.mktemp("supervised")
    port = free_port()
    part = Part(["app.py", "--feed", "none", "--port", str(port), "--data-dir", str(d / "data"),
                 "--insights-every", "1"], env={"LIVEWALL_ADMIN_PASSWORD": ADMIN_PASSWORD},
                log=d / "app.log").start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as anyone:
        wait_until(lambda: anyone.get("/healthz").status_code == 200, timeout=60, what="app up")
    http = sign_in(f"http://127.0.0.1:{port}")
    yield part, http, d / "data"
    pids = [p["pid"] for p in parts_of(http).values()]
    http.close()
    part.stop()
    # parts started again by the supervisor stop with the app too
    wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids), timeout=15,
               what="every part to exit with the app")


def parts_of(http: httpx.Client) -> dict:
    return http.get("/healthz").json()["parts"]


def kill_and_see_it_back(http: httpx.Client, name: str) -> None:
    before = parts_of(http)[name]
    assert before["up"]
    os.kill(before["pid"], signal.SIGKILL)

    def back():
        r = http.get("/healthz")
        p = r.json()["parts"][name]
        return r.status_code == 200 and p["up"] and p["pid"] != before["pid"] and p
    p = wait_until(back, timeout=30, what=f"{name} restarted and /healthz 200")
    assert p["restarts"] == before["restarts"] + 1
    assert p["last_exit"]["what"] == "killed by SIGKILL"


def test_killed_parts_come_back_and_nothing_is_lost(app):
    _part, http, _data = app
    events = session_events(23)
    third = len(events) // 3
    assert set(parts_of(http)) == {"redis", "engine", "insights"}
    post_all(http, events[:third])
    kill_and_see_it_back(http, "engine")
    post_all(http, events[third:2 * third])
    kill_and_see_it_back(http, "insights")
    kill_and_see_it_back(http, "redis")   # it reloads its append-only file: every acknowledged event is there
    post_all(http, events[2 * third:])
    assert_matches_reference(http, events)


def start_failing(args: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "livewall on" not in done.stdout + done.stderr
    return done


def test_start_fails_early_on_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = start_failing(["--feed", "none", "--port", str(port), "--data-dir", str(tmp_path)])
    assert done.stderr.strip().splitlines()[-1] == (
        f"livewall: port {port} on 127.0.0.1 is in use (another livewall?): stop what uses it, or choose "
        "another port with --port")
    assert not (tmp_path / "redis").exists(), "nothing may start before the port is known to be free"


def test_start_fails_early_on_a_data_dir_in_use(app):
    part, _http, data = app
    done = start_failing(["--feed", "none", "--port", str(free_port()), "--data-dir", str(data)])
    assert done.stderr.strip().splitlines()[-1] == (
        f"livewall: data dir {data} is in use by another running livewall (pid {part.proc.pid}): stop it, or "
        "give this one another --data-dir")
    assert parts_of(_http)["redis"]["up"], "the running instance's Redis is left alone"


def test_start_fails_early_on_an_unreachable_redis():
    url = f"redis://127.0.0.1:{free_port()}/0"
    done = start_failing(["--feed", "none", "--port", str(free_port()), "--redis-url", url])
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"livewall: cannot reach Redis at {url} (") and "fix --redis-url" in last, last
