"""Starting and stopping the other parts (engine, insight jobs, simulator) as child processes.

Each part is also a module that runs on its own (`python -m engine`, ...), which is how to scale out.
Children get PR_SET_PDEATHSIG: if the app is killed, even with SIGKILL, they are told to stop too.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading

from store.embedded import die_with_parent


def start(module: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], preexec_fn=die_with_parent)


def stop(procs: list[subprocess.Popen], timeout: float = 10.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for a part's main loop to end on.

    The handler only starts a thread to set it: a handler runs on the main thread, and a second SIGTERM (the
    parent's death signal next to its own stop request) arriving while the first is inside Event.set would
    wait forever for the lock the first one holds, leaving an orphan behind."""
    stop = threading.Event()

    def handler(*_):
        threading.Thread(target=stop.set, daemon=True).start()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
