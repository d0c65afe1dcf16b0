"""Child processes and signals: starting, supervising and stopping the parts (embedded Redis, engine, insight
jobs, simulator), and what a long-running part needs to stop cleanly and keep its pauses short.

It lives at the bottom of the import graph (beside the Redis plumbing every part shares) so that every layer
may use it: the engine, the insight jobs and the simulator for their own loops, app.py for its children.
Each part is also a module that runs on its own (`python -m engine`, ...), which is how to scale out.
Children get PR_SET_PDEATHSIG: if the app is killed, even with SIGKILL, they are told to stop too. Under
`python app.py` a Supervisor starts again any part that exits, after a backoff, and tells /healthz.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import signal
import subprocess
import sys
import threading
import time
from typing import Callable


def die_with_parent() -> None:
    """preexec_fn for children that must not outlive us, even when we are SIGKILLed."""
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(module: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], preexec_fn=die_with_parent)


log = logging.getLogger("livewall.parts")
FIRST_BACKOFF_S = 0.5    # a part that exits is started again after this...
MAX_BACKOFF_S = 30.0     # ...doubled for each exit in a row, up to this...
STEADY_S = 60.0          # ...and back to the first after a part has run this long
WATCH_S = 0.2            # how often the supervisor looks at its parts


def exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Keeps named child processes running. `add(name, start)` runs `start()` (which returns the Popen) now
    and again whenever the process has exited; `status()` is what /healthz shows of each."""

    def __init__(self):
        self.parts: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.starting = threading.Lock()   # held while a part is being started again
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def add(self, name: str, start: Callable[[], subprocess.Popen], proc: subprocess.Popen | None = None) -> None:
        """Supervise a part, started now unless `proc` is its first run; a first start that fails is the
        caller's error (start-up fails early)."""
        proc = proc or start()
        with self.lock:
            self.parts[name] = {"start": start, "proc": proc, "since": time.monotonic(), "restarts": 0,
                                "last_exit": None, "backoff": FIRST_BACKOFF_S, "due": None}
        if not self.thread.is_alive():
            self.thread.start()

    def status(self) -> dict:
        with self.lock:
            return {name: {"up": p["proc"] is not None and p["proc"].poll() is None,
                           "pid": p["proc"].pid if p["proc"] is not None else None,
                           "restarts": p["restarts"], "last_exit": p["last_exit"]}
                    for name, p in self.parts.items()}

    def _watch(self) -> None:
        while not self.halt.wait(WATCH_S):
            for name, p in list(self.parts.items()):
                self._look_after(name, p)

    def _look_after(self, name: str, p: dict) -> None:
        now = time.monotonic()
        proc = p["proc"]
        if proc is not None and proc.poll() is None:
            if now - p["since"] >= STEADY_S:
                p["backoff"] = FIRST_BACKOFF_S
            return
        if p["due"] is None:   # it has just exited (or failed to start)
            with self.lock:
                p["last_exit"] = {"what": exit_text(proc.returncode) if proc is not None else "did not start",
                                  "at": time.time()}
                p["proc"] = None
            p["due"] = now + p["backoff"]
            log.warning("%s: %s; starting it again in %.1f s", name, p["last_exit"]["what"], p["backoff"])
            p["backoff"] = min(MAX_BACKOFF_S, p["backoff"] * 2)
            return
        if now < p["due"]:
            return
        with self.starting:
            if self.halt.is_set():
                return
            p["due"] = None
            try:
                proc = p["start"]()
            except Exception as e:  # noqa: BLE001 - a failed start is one more exit, retried after the backoff
                log.warning("%s did not start: %s", name, e)
                return
            with self.lock:
                p["proc"], p["since"] = proc, time.monotonic()
                p["restarts"] += 1
        log.warning("%s started again (pid %d, restart %d)", name, proc.pid, p["restarts"])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop supervising, then stop the parts, the last added first (Redis, added first, goes last).

        The watching thread ends only after the parts: a child it started again gets PR_SET_PDEATHSIG from
        it, and that signal comes when the thread that started the child ends, not the process."""
        self.halt.set()
        with self.starting:   # a start under way finishes; no other begins
            pass
        for p in reversed(list(self.parts.values())):
            if p["proc"] is not None:
                stop([p["proc"]], timeout)
        if self.thread.is_alive():
            self.thread.join()


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
