"""Starting and stopping the other parts (engine, insight jobs, simulator) as child processes.

Each part is also a module that runs on its own (`python -m engine`, ...), which is how to scale out.
Children get PR_SET_PDEATHSIG: if the app is killed, even with SIGKILL, they are told to stop too.
"""
from __future__ import annotations

import gc
import signal
import subprocess
import sys
import threading
import time
from typing import Callable

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


def gc_keeper(freeze_s: float = 30.0, sweep_s: float = 3600.0) -> Callable[[], None]:
    """A tick for a long-running part's loop that keeps Python's full collections short.

    The engine and the risk job hold big heaps of long-lived records (visits, orders) with next to no cyclic
    garbage, yet every full collection walks all of them: under 10,000 events/s that was 70-250 ms each, a few
    times a minute, with every frame waiting behind the engine's. Moving what exists into the permanent
    generation every `freeze_s` leaves collections only what is new; records freed later still go by
    reference counting. A cycle frozen before it died would never be collected, so once every `sweep_s`
    everything is thawed and swept in one full collection."""
    frozen = swept = time.monotonic()

    def tick() -> None:
        nonlocal frozen, swept
        now = time.monotonic()
        if now - swept >= sweep_s:
            gc.unfreeze()
            gc.collect()
            swept = now
        if now - frozen >= freeze_s:
            gc.freeze()
            frozen = now
    return tick
