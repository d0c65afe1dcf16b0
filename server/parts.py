"""Starting and stopping the other parts (engine, insight jobs, simulator) as child processes.

Each part is also a module that runs on its own (`python -m engine`, ...), which is how to scale out.
Children get PR_SET_PDEATHSIG: if the app is killed, even with SIGKILL, they are told to stop too.
"""
from __future__ import annotations

import signal
import subprocess
import sys

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
