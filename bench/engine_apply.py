"""The engine alone: CPU seconds to apply one simulated room's hour of events (metrics read every 2,000
events), best of N runs, against a baseline tree.

    python -m bench.engine_apply [--minutes 60] [--runs 5] [--baseline DIR]

DIR is another checkout of livewall (say `git worktree add /tmp/lw-base <commit>`): the same events are applied
by its engine in a child process and the ratio printed. Without it, the baseline is this engine on the same
events stripped of the audience fields and types (README, "Audience and channels"): what they cost when sent.
CPU time, not wall time, so that other work on the machine disturbs it less.
"""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE_FIELDS = ("channel", "fan", "visit", "gender", "age", "city_tier")
AUDIENCE_TYPES = ("fan_club_join", "negative_feedback")
START = 1_790_000_000


def measure(events: list, runs: int) -> float:
    from engine.room import Room
    best = float("inf")
    for _ in range(runs):
        room = Room("bench")
        t = time.process_time()
        for i, e in enumerate(events):
            room.apply(e, i)
            if i % 2000 == 0:
                room.current.metrics()
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", type=Path)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)   # a pickled event list, for a baseline tree
    a = ap.parse_args()
    if a.child:
        print(measure(pickle.loads(a.child.read_bytes()), a.runs))
        return
    sys.path.insert(0, str(ROOT))
    from feeds.simulator import SimConfig, SimRoom
    events = SimRoom("bench", "douyin", 7, START, SimConfig(session_s=2 * a.minutes * 60)).step(START + a.minutes * 60)
    mine = measure(events, a.runs)
    if a.baseline:
        with tempfile.NamedTemporaryFile(suffix=".pkl") as f:
            f.write(pickle.dumps(events))
            f.flush()
            # this file, run with the baseline's packages first on the path
            out = subprocess.run([sys.executable, __file__, "--child", f.name, "--runs", str(a.runs)],
                                 cwd=a.baseline, env={**os.environ, "PYTHONPATH": str(a.baseline.resolve())},
                                 capture_output=True, text=True, check=True)
        base, label = float(out.stdout.split()[-1]), f"the engine of {a.baseline}"
    else:
        plain = [{k: v for k, v in e.items() if k not in AUDIENCE_FIELDS} for e in events
                 if e["type"] not in AUDIENCE_TYPES]
        base, label = measure(plain, a.runs), "this engine, audience fields stripped"
    print(f"{len(events):,} events, best of {a.runs}: {mine:.3f} s CPU here, {base:.3f} s for {label}; "
          f"ratio {mine / base:.2f} ({len(events) / mine:,.0f} events/s here)")


if __name__ == "__main__":
    main()
