"""Backtest of the two money decisions on simulated sessions: `python -m bench.backtest [--sessions 50]`.

Ad spend: each session is played three times from the same seed (common random numbers): with a fixed
budget, with a naive threshold rule, and with livewall's suggestions auto-applied. The simulator is stepped
every STEP_S of event time, its events go into an in-process engine Room, and the policy sees only the
room's metrics, as it would live; its changes go back through the SimRoom's controls.

Re-runs: in the fixed-budget run, at checkpoints every few minutes, livewall's shortlist and a ranking by
GMV so far are scored by NDCG@5 against the simulator's hidden truth. A product's true relevance is the
gross margin a re-run would earn per minute on stage: demand x CTR x conversion x (price - cost); the
candidates are the products that have been on stage, are off it now and are not sold out.
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.room import Room  # noqa: E402
from feeds.simulator import SimConfig, SimRoom  # noqa: E402
from insights import ads, rerun  # noqa: E402

START = 1_790_000_000.0
STEP_S = 10.0
PLATFORMS = ("douyin", "kuaishou", "taobao")
POLICIES = ("fixed", "naive", "livewall")
NAIVE_EVERY_S = 60.0      # the naive rule looks once a minute ...
NAIVE_STEP = 0.2          # ... and moves the budget 20% toward its point estimate of ROI vs target
CHECKPOINT_S = 300.0
FIRST_CHECKPOINT_S = 900.0
MIN_CANDIDATES = 4


def play(seed: int, policy: str, minutes: float) -> dict:
    platform = PLATFORMS[seed % len(PLATFORMS)]
    name = f"{platform}-bt"
    sim = SimRoom(name, platform, seed, START, SimConfig(session_s=minutes * 60, break_s=1e9))
    room = Room(name)
    controls: dict[str, dict] = {}
    states: dict[str, dict] = {}
    params = ads.params_of(dict(ads.CONFIG_DEFAULTS))
    tally = rerun.new_tally()
    ndcg = []
    seq = 0
    next_naive = START + NAIVE_EVERY_S
    next_check = START + FIRST_CHECKPOINT_S
    end = START + minutes * 60
    changes = 0
    t = START
    while t < end:
        t = min(t + STEP_S, end)
        events = sim.step(t)
        for ev in events:
            room.apply(ev, seq)
            seq += 1
        s = room.current
        if s is None or s.ended is not None:
            break
        m = s.metrics()
        if policy == "fixed":
            rows = s.product_rows()
            rerun.tally(events, rows, tally)
            if t >= next_check:
                next_check += CHECKPOINT_S
                scored = _ndcg(sim, rows, tally, m["as_of"], random.Random(seed * 1000 + int(t)))
                if scored:
                    ndcg.append(scored)
        elif policy == "livewall":
            for c in sorted(m["campaigns"]):
                fig = ads.figures_of(m, c, controls.get(c), {})
                sug, states[c] = ads.decide(fig, states.get(c), params)
                if sug["action"] != "hold":
                    _apply(sim, controls, c, sug, m["as_of"])
                    changes += 1
        elif policy == "naive" and t >= next_naive:
            next_naive += NAIVE_EVERY_S
            for c in sorted(m["campaigns"]):
                fig = ads.figures_of(m, c, controls.get(c), {})
                if fig["spend"] <= 0:
                    continue
                roi = fig["gmv"] / fig["spend"]
                budget = sim.get_budget(c)
                sim.set_budget(c, budget * (1 + NAIVE_STEP if roi > fig["target_roi"] else 1 - NAIVE_STEP))
                changes += 1
    m = room.current.metrics()
    spend, paid = m["ad_spend"], m["paid_gmv"]
    return {"seed": seed, "policy": policy, "gmv": m["gmv"], "paid_gmv": paid, "spend": spend,
            "paid_roi": paid / spend if spend else None, "target": m.get("target_roi"), "changes": changes,
            "ndcg": ndcg}


def _apply(sim: SimRoom, controls: dict, campaign: str, sug: dict, as_of: float) -> None:
    c = controls.setdefault(campaign, {"budget_per_hour": None, "roi_target": None, "paused": False})
    action = sug["action"]
    if action in ("raise_budget", "lower_budget"):
        sim.set_budget(campaign, sug["new_budget"])
        c.update(budget_per_hour=sug["new_budget"], paused=False)
    elif action in ("raise_roi_target", "lower_roi_target"):
        sim.set_roi_target(campaign, sug["new_roi_target"])
        c["roi_target"] = sug["new_roi_target"]
    elif action == "pause":
        sim.pause(campaign)
        c["paused"] = True
    c.update(changed_as_of=as_of, action=action)


def _ndcg(sim: SimRoom, rows: list[dict], tally: dict, as_of: float, rng: random.Random) -> dict | None:
    truth = sim.truth()["products"]
    cands = [r for r in rows if r["stage_seconds"] > 0 and not r["on_stage"]
             and not (r["stock"] is not None and r["stock"] <= 0) and r["sku"] in truth]
    if len(cands) < MIN_CANDIDATES:
        return None
    rel = {r["sku"]: _relevance(truth[r["sku"]]) for r in cands}
    ours = [x["sku"] for x in rerun.rank(rows, tally, as_of, limit=len(rows)) if x["sku"] in rel]
    ours += sorted(set(rel) - set(ours))
    by_gmv = [r["sku"] for r in sorted(cands, key=lambda r: (-r["gmv"], r["sku"]))]
    shuffled = []
    for _ in range(20):
        order = list(rel)
        rng.shuffle(order)
        shuffled.append(ndcg_at(order, rel, 5))
    return {"livewall": ndcg_at(ours, rel, 5), "gmv": ndcg_at(by_gmv, rel, 5),
            "random": sum(shuffled) / len(shuffled), "candidates": len(cands)}


def _relevance(p: dict) -> float:
    return p["demand"] * p["ctr"] * p["conversion"] * max(p["price"] - p["cost"], 0.0)


def ndcg_at(order: list[str], rel: dict[str, float], k: int) -> float:
    dcg = sum(rel[s] / math.log2(i + 2) for i, s in enumerate(order[:k]))
    ideal = sum(v / math.log2(i + 2) for i, v in enumerate(sorted(rel.values(), reverse=True)[:k]))
    return dcg / ideal if ideal else 1.0


def _task(args):
    return play(*args)


def summarize(results: list[dict]) -> str:
    by = {p: [x for x in results if x["policy"] == p] for p in POLICIES}
    n = len(by["fixed"])
    fixed_gmv = sum(x["gmv"] for x in by["fixed"])
    fixed_at = sum(x["paid_gmv"] for x in by["fixed"] if _met(x))
    lines = [f"Ad spend, {n} sessions (same seeds for each policy); paid ROI = paid GMV / ad spend, judged "
             "against each session's target_roi", "",
             "| policy | GMV | paid GMV | ad spend | paid ROI (pooled) | sessions at/above target | "
             "paid GMV in sessions at/above target | vs fixed | budget changes / session |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in POLICIES:
        xs = by[p]
        gmv, paid, spend = (sum(x[k] for x in xs) for k in ("gmv", "paid_gmv", "spend"))
        at = sum(x["paid_gmv"] for x in xs if _met(x))
        met = sum(1 for x in xs if _met(x))
        lines.append(f"| {p} | {gmv:,.0f} | {paid:,.0f} | {spend:,.0f} | {paid / spend:.2f} | {met}/{len(xs)} | "
                     f"{at:,.0f} | {_pct(at, fixed_at)} | {sum(x['changes'] for x in xs) / len(xs):.1f} |")
    lines += ["", f"Total GMV vs fixed: naive {_pct(sum(x['gmv'] for x in by['naive']), fixed_gmv)}, "
                  f"livewall {_pct(sum(x['gmv'] for x in by['livewall']), fixed_gmv)}."]
    checks = [c for x in by["fixed"] for c in x["ndcg"]]
    if checks:
        mean = {k: sum(c[k] for c in checks) / len(checks) for k in ("livewall", "gmv", "random", "candidates")}
        lines += ["", f"Re-run ranking, NDCG@5 against the hidden truth ({len(checks)} checkpoints, "
                      f"{mean['candidates']:.1f} candidates on average)", "",
                  "| ranking | NDCG@5 |", "|---|---:|",
                  f"| livewall re-run score | {mean['livewall']:.3f} |",
                  f"| GMV so far | {mean['gmv']:.3f} |",
                  f"| random order | {mean['random']:.3f} |"]
    return "\n".join(lines)


def _met(x: dict) -> bool:
    return x["paid_roi"] is not None and x["target"] is not None and x["paid_roi"] >= x["target"]


def _pct(a: float, b: float) -> str:
    return f"{(a / b - 1) * 100:+.1f}%" if b else "n/a"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.backtest", description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=40.0, help="simulated minutes per session")
    ap.add_argument("--seed", type=int, default=1, help="first seed")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    tasks = [(a.seed + i, p, a.minutes) for i in range(a.sessions) for p in POLICIES]
    t0 = time.monotonic()
    with Pool(a.jobs) as pool:
        results = pool.map(_task, tasks, chunksize=1)
    print(summarize(results))
    print(f"\n({a.sessions} sessions x {len(POLICIES)} policies, {a.minutes:g} simulated minutes each, "
          f"{time.monotonic() - t0:.0f} s)")


if __name__ == "__main__":
    main()
