"""Ad-spend suggestions (投放建议): per campaign, raise or lower the budget, move the ROI target, pause, or hold.

The decision is `decide(fig, prev, params) -> (suggestion, state)`, a pure function of one campaign's
cumulative figures at one moment (`figures_of`), the campaign's previous decision state and the parameters;
`run(r)` is the thin Redis adapter around it that keeps the room's suggestion list (proposals and recent
decisions), the audit log, and, in auto-apply mode, the ad platform's settings.

What it estimates: the ROI of the next yuan at the current budget = paid visitors per yuan (recent, precise)
x paid GMV per paid visitor (the whole session, where the luck of which product is on stage averages out),
with an interval. What it aims at: the session's paid ROI at or above the target, the figure the target is
about; so a session that has banked GMV above its target can afford more traffic, and money already spent
never justifies more cuts.

Pacing with the stage: whichever product is on stage decides most of what a visitor is worth. In the
backtest's simulator a session's paid ROI so far barely predicts the rest of the session (on 100 tuning
sessions, neither the session's paid nor its organic GMV per visit so far explains more than a few percent of
the variance of the ROI of its remaining minutes: the products change), while the product on stage now is
measured by the whole room's traffic within a minute or two. So the budget follows the stage: the room's GMV
per viewer-second over the last stage_window_s against the session's, with a Poisson interval on the window's
orders, gives a ratio; the end of the interval nearest 1 (1 when the interval holds 1) is taken as the stage's
worth, and the budget aims at base x that ** stage_gain, within (1 + max step) ** stage_levels of the base
either way. Paid traffic grows slower than the budget, so money is worth moving to where visitors buy, and more
than in proportion (stage_gain > 1). The base is what the rules below set. Pacing moves at most once per
stage_gap_s, never by more than the room's max step or past its cap, and it is meant for auto-apply: a
proposal that waits minutes for approval is stale by then.

Why it does not flip on noise:
- It acts only on an interval: raise when, even at the low end of the next yuan's return, the session's
  projected ROI with the higher budget clears target x (1 + margin); lower when even the high end of the next
  yuan's return is under target x (1 - margin) and the session has no surplus to carry it; hold in between (a
  dead band: figures wandering around the target stay a hold). The interval widens to the spread between
  stretches of the session when that is wider than the Poisson count of paid orders allows.
- It holds while the sample is small (less spend than it takes to expect `min_orders` orders at the target)
  and in a campaign's first minutes, when orders still trail the visits.
- It waits `min_gap_s` of event time after a change, and `reverse_gap_s` before undoing one.
"""
from __future__ import annotations

import bisect
import math
import secrets
import time

import orjson
import redis

import settings
from insights import adapter, audit
from insights.stats import poisson, prob_above, wilson
from store import keys, wire


# What a manager sets per room (PUT /api/rooms/<room>/ads/config).
CONFIG_DEFAULTS = {
    "auto_apply": False,          # apply suggestions without waiting for approval
    "max_step_pct": 30.0,         # largest change of budget or ROI target in one step
    "max_spend_per_hour": None,   # budget cap in yuan per hour (None: no cap)
    "target_roi": None,           # overrides the session_start target_roi
    "reversal_notice_s": settings.SUGGESTION_REVERSAL_NOTICE_S,  # how recent a decision a suggestion says it reverses
}
DEFAULT_TARGET_ROI = 2.0          # when neither the session nor the config names one

# The rules themselves; tuned with bench/backtest.py.
RULES = {
    "margin": 0.50,               # dead band around the target ROI, for the session's projected paid ROI: wide,
                                  # because a session's ROI so far barely predicts its next minutes
    "z": 1.645,                   # 90% two-sided intervals
    "min_orders": 8,              # paid orders the session's spend would bring at the target ROI before judging
    "window_s": 1800,             # longest window of traffic bought per yuan ...
    "half_life_s": 600,           # ... in which a minute's evidence weighs half as much every 10 minutes
    "min_window_s": 120,          # shortest window judged
    "warmup_s": 300,              # nothing is judged in a campaign's first minutes: orders trail the visits
    "lag_s": 120,                 # paid visitors pay within about this long after they arrive
    "recent_s": 300,              # the last minutes, watched for a collapse of paid conversion
    "settle_s": 60,               # after a change, spend reported in arrears still reflects the old budget
    "min_gap_s": 150,             # least event time between two changes of one campaign
    "reverse_gap_s": 300,         # least event time before undoing the direction of the last change
    "min_step_pct": 10.0,
    "response": 0.7,              # paid traffic grows about as budget ** response: more money, dearer visitors
    "horizon_s": 1800,            # a change is judged by where it takes the session's ROI this much later
    "block_s": 300,               # stretches compared to see how much the value of a visitor swings
    "prior_visits": 500,          # paid visits' worth of the room's GMV per visit (every source, the same
    "prior_ratio": 1.0,           # products on stage) x prior_ratio mixed into the paid GMV per paid visit
    "pause_below": 0.25,          # pause when even the next yuan's best case is under a quarter of the target (on
                                  # twice the sample: pausing stops the data that could prove it wrong)
    "budget_bound": 0.8,          # spending at least this share of the budget: the budget is what binds
    "max_paid_bounce": 0.7,       # a paid audience bouncing more than this is not worth more money
    "roi_target_floor": 0.8,      # never bid below target × this: the campaign's ROI target tracks the room's
    "probe_after_s": 600,         # a paused campaign is tried again after this long ...
    "probe_share": 0.5,           # ... on this share of its budget before the pause
    "stage_window_s": 90,         # the stage's selling power is judged on the room's last 90 s ...
    "stage_gap_s": 60,            # ... and the budget follows it at most once a minute ...
    "stage_z": 0.5,               # ... from the end nearest 1 of its interval (this z): a product stays on
                                  # stage a few minutes, so waiting for a 90% interval spends most of them
    "stage_gain": 2.0,            # the budget aims at base x (stage's worth) ** stage_gain ...
    "stage_levels": 2.0,          # ... within (1 + max step) ** stage_levels of the base
}
MAX_CUT_PCT = 90.0                # a cut never takes the budget to zero: that is what pause is for
TICKET_PRIOR_ORDERS = 20          # room-wide orders' worth of weight in a paid order's value
KEEP_DECIDED = 30                 # decided suggestions kept in the room's list
SUPERSEDED_KEEP_S = 86400         # how long an outdated snapshot's id still gets "superseded" (409), not 404
REJECT_QUIET_S = 600              # after a rejection, the same change is not proposed again for this long

HIST = ("t", "spend", "gmv", "pays", "visits", "decided", "bounced", "room_gmv", "room_watch_s", "room_pays")
UP, DOWN = ("raise_budget", "lower_roi_target"), ("lower_budget", "raise_roi_target", "pause")


# -- the pure part ------------------------------------------------------------------------------------

def figures_of(metrics: dict, campaign: str, control: dict | None, config: dict) -> dict:
    """One campaign's cumulative figures from a room's metrics.

    Paid traffic is credited to source `paid`, not to a campaign, so with several campaigns the paid visits,
    orders and GMV are shared out by each campaign's share of ad clicks (of spend when no clicks are reported).
    """
    camps = metrics.get("campaigns") or {}
    c = camps.get(campaign, {"spend": 0.0, "clicks": 0})
    clicks = sum(x.get("clicks", 0) for x in camps.values())
    spend_all = sum(x["spend"] for x in camps.values())
    share = c.get("clicks", 0) / clicks if clicks else (c["spend"] / spend_all if spend_all else 1.0)
    paid = (metrics.get("sources") or {}).get("paid") or {}
    control = control or {}
    orders = metrics.get("paid_orders") or 0
    return {
        "campaign": campaign,
        "as_of": metrics["as_of"],
        "spend": c["spend"],
        "gmv": paid.get("gmv", 0.0) * share,
        "pays": paid.get("pays", 0) * share,
        "visits": paid.get("visits", 0) * share,
        "decided": paid.get("decided", 0) * share,
        "bounced": paid.get("bounced", 0) * share,
        "ticket": _ticket(paid, metrics["gmv"], orders),
        "room_gmv": metrics["gmv"],
        "room_visits": metrics.get("visits", 0),
        "room_watch_s": metrics.get("watch_seconds") or 0.0,
        "room_pays": metrics.get("paid_orders") or 0,
        "room_roi": metrics.get("roi"),
        "room_paid_roi": metrics.get("paid_roi"),
        "target_roi": config.get("target_roi") or metrics.get("target_roi") or DEFAULT_TARGET_ROI,
        "budget_per_hour": control.get("budget_per_hour"),
        "roi_target": control.get("roi_target"),
        "paused": bool(control.get("paused")),
        "changed_as_of": control.get("changed_as_of"),
        "changed_action": control.get("action"),
    }


def _ticket(paid: dict, gmv: float, orders: int) -> float | None:
    """The value of a paid order: the session's paid average, shrunk toward the whole room's, which rests
    on many more orders."""
    if not orders:
        return None
    room = gmv / orders
    return (paid.get("gmv", 0.0) + TICKET_PRIOR_ORDERS * room) / (paid.get("pays", 0) + TICKET_PRIOR_ORDERS)


def decide(fig: dict, prev: dict | None, params: dict) -> tuple[dict, dict]:
    """The suggestion for one campaign now, and the campaign's state to pass next time.

    fig: `figures_of` output (cumulative since the session began). prev: what this returned last time as
    state, or None. params: RULES merged with the room's config.
    """
    p = params
    t = fig["as_of"]
    keep = t - p["window_s"] - p["lag_s"] - 60
    hist = [h for h in (prev or {}).get("hist", []) if keep < h[0] <= t]
    point = [t] + [fig[k] for k in HIST[1:]]
    if not hist or hist[-1][0] < t:
        hist.append(point)
    changed = fig["changed_as_of"]
    changes = [c for c in (prev or {}).get("changes", []) if c > keep]
    if changed is not None and (not changes or changed > changes[-1]):
        changes.append(changed)
    state = {"hist": hist, "changes": changes, "budget_before_pause": (prev or {}).get("budget_before_pause"),
             "pace": (prev or {}).get("pace")}
    target = fig["target_roi"]
    # what a change would move from: the budget and ROI target in force (the spend rate when no budget is known)
    base = {"campaign": fig["campaign"], "step_pct": None, "new_budget": None, "new_roi_target": None,
            "from_budget": fig["budget_per_hour"], "from_roi_target": fig["roi_target"] or target}

    def out(action, why, confidence, figures, **extra):
        # a hold changes nothing, so there is nothing to be confident about: its confidence is not shown (null)
        sure = None if action == "hold" else round(confidence, 3)
        return {**base, "action": action, "reason": why, "confidence": sure, "figures": figures, **extra}, state

    if fig["paused"]:
        # paused spends nothing and so teaches nothing: after a while, try again on a small budget
        before = state["budget_before_pause"] or fig["budget_per_hour"]
        if changed is not None and before and t - changed >= p["probe_after_s"]:
            new = _capped(before * p["probe_share"], p)
            return out("raise_budget", _why("probe", m=(t - changed) / 60, new=new), 0.5, _plain(fig),
                       new_budget=round(new, 2), from_budget=0.0)
        return out("hold", _why("paused"), 1.0, _plain(fig))
    paced = _pace(fig, hist, state, t, p)
    if paced is not None:
        action, why, confidence, figures, extra = paced
        return out(action, why, confidence, figures, **extra)
    if changed is not None and t - changed < p["min_gap_s"]:
        return out("hold", _why("cooldown", left=p["min_gap_s"] - (t - changed)), 1.0, _plain(fig))
    segs = _segments(hist, changes, t, p)
    if t - hist[0][0] < p["warmup_s"]:
        return out("hold", _why("collecting", s=t - hist[0][0]), 1.0, _plain(fig))
    if not segs or segs[-1]["end"] - segs[-1]["start"] < p["min_window_s"]:
        s = segs[-1]["end"] - segs[-1]["start"] if segs else 0.0
        return out("hold", _why("collecting", s=s), 1.0, _plain(fig))
    ticket = fig["ticket"]
    seen = _at(hist, t - p["lag_s"])[4]   # paid visits old enough to have paid
    if not ticket or seen <= 0 or fig["spend"] * target / ticket < p["min_orders"]:
        need = p["min_orders"] * (ticket or 0) / target
        return out("hold", _why("small", spend=fig["spend"], need=need), 1.0, _plain(fig))
    n = _next_yuan(fig, hist, segs, seen, t, p)
    r, r_lo, r_hi, k_eff, collapsed, cvr = n["r"], n["lo"], n["hi"], n["k_eff"], n["collapsed"], n["cvr"]
    rate = segs[-1]["rate"]
    horizon = p["horizon_s"] / 3600

    def projected(f: float, roi_now: float) -> float:
        """The session's paid ROI after horizon_s more at f x the current spend rate."""
        more = rate * f * horizon
        return (fig["gmv"] + roi_now * f ** (p["response"] - 1) * more) / (fig["spend"] + more)

    so_far = fig["gmv"] / fig["spend"]
    budget = fig["budget_per_hour"] or rate
    budget_binds = fig["budget_per_hour"] is None or rate >= p["budget_bound"] * fig["budget_per_hour"]
    first = _at(hist, segs[0]["start"])
    w = dict(zip(HIST, (x - y for x, y in zip(point, first))))
    bounce = w["bounced"] / w["decided"] if w["decided"] else None
    bounce_lo = wilson(w["bounced"], w["decided"], p["z"])[0] if w["decided"] else 0.0
    figures = _plain(fig, paid_roi_next=r, paid_roi_next_low=r_lo, paid_roi_next_high=r_hi,
                     projected_roi_low=projected(1.0, r_lo), projected_roi_high=projected(1.0, r_hi),
                     visits_per_yuan=n["per_yuan"], paid_gmv_per_visit=n["value"], paid_cvr=fig["pays"] / seen,
                     paid_orders=fig["pays"], window_s=t - first[0], paid_visits_window=w["visits"],
                     spend_window=w["spend"], spend_per_hour=rate, budget_per_hour=budget, paid_cvr_recent=cvr["cvr"],
                     paid_cvr_before=cvr["cvr_before"], cvr_trend=cvr["trend"], paid_bounce_2s_rate=bounce)
    hi_bar, lo_bar = target * (1 + p["margin"]), target * (1 - p["margin"])
    last = fig["changed_action"]
    reversing = changed is not None and t - changed < p["reverse_gap_s"]
    steps = _steps(p)
    up = next((x for x in reversed(steps) if projected(1 + x / 100, r_lo) >= hi_bar), None)
    facts = {"so_far": so_far, "target": target, "r": r, "lo": r_lo, "hi": r_hi, "h": p["horizon_s"] / 60,
             "basis": _BASIS[collapsed]}

    if up is not None:
        confidence = prob_above(k_eff, projected(1 + up / 100, r) / target)
        if reversing and last in DOWN:
            return out("hold", _why("reverse", left=p["reverse_gap_s"] - (t - changed)), 1 - confidence, figures)
        if collapsed:
            return out("hold", _why("falling", cvr=cvr["cvr"], before=cvr["cvr_before"]), 1 - confidence, figures)
        if bounce_lo > p["max_paid_bounce"]:
            return out("hold", _why("bounce", b=bounce), 1 - confidence, figures)
        if budget_binds:
            new = budget * (1 + up / 100)
            cap = p.get("max_spend_per_hour")
            if cap:
                if budget >= cap * 0.999:
                    return out("hold", _why("cap", cap=cap), confidence, figures)
                new = min(new, cap)
                up = (new / budget - 1) * 100
            _repace(state, fig, hist, new / budget)
            return out("raise_budget", _why("raise", step=up, proj=projected(1 + up / 100, r_lo), **facts),
                       confidence, figures, step_pct=round(up, 1), new_budget=round(new, 2),
                       from_budget=round(budget, 2))
        current = fig["roi_target"] or target
        floor = target * p["roi_target_floor"]
        new = max(current * (1 - up / 100), floor)
        if new >= current * 0.999:
            return out("hold", _why("floor", floor=floor), confidence, figures)
        return out("lower_roi_target", _why("bid_up", rate=rate, budget=budget, new=new, **facts),
                   confidence, figures, step_pct=round((1 - new / current) * 100, 1), new_roi_target=round(new, 3))

    # Lower only where the next yuan returns under the target even at its best and no banked surplus can
    # carry it: money already spent is sunk, so the cut aims at the next yuan, not at the session's past.
    if r_hi < lo_bar and projected(1.0, r_hi) < hi_bar:
        confidence = 1 - prob_above(k_eff, r / target)
        if reversing and last in UP:
            return out("hold", _why("reverse", left=p["reverse_gap_s"] - (t - changed)), 1 - confidence, figures)
        if r_hi < target * p["pause_below"] and fig["spend"] * target / ticket >= 2 * p["min_orders"]:
            state["budget_before_pause"] = budget
            return out("pause", _why("pause", **facts), confidence, figures, from_budget=round(budget, 2))
        # the cut after which the next yuan returns the target, as far as the estimate goes
        down = next((x for x in steps if r * (1 - x / 100) ** (p["response"] - 1) >= target), steps[-1])
        down = min(down, MAX_CUT_PCT)
        proj = projected(1.0, r_hi)
        if budget_binds:
            new = budget * (1 - down / 100)
            _repace(state, fig, hist, new / budget)
            return out("lower_budget", _why("lower", step=down, proj=proj, **facts), confidence, figures,
                       step_pct=round(down, 1), new_budget=round(new, 2), from_budget=round(budget, 2))
        current = fig["roi_target"] or target
        new = current * (1 + down / 100)
        return out("raise_roi_target", _why("bid_down", new=new, proj=proj, **facts), confidence, figures,
                   step_pct=round(down, 1), new_roi_target=round(new, 3))

    p_high = prob_above(k_eff, projected(1.0, r) / hi_bar) if r > 0 else 0.0
    p_low = 1 - (prob_above(k_eff, projected(1.0, r) / lo_bar) if r > 0 else 0.0)
    return out("hold", _why("band", lo_p=projected(1.0, r_lo), hi_p=projected(1.0, r_hi), **facts),
               1 - max(p_high, p_low), figures)


def _base(fig: dict, hist: list, state: dict) -> float:
    """The budget the session's ROI calls for, before pacing with the stage: as recorded with the budget last
    proposed, if that is the budget in force; otherwise (not applied, or set by hand) the budget in force, or
    without one the session's spend rate so far."""
    pace, budget = state["pace"], fig["budget_per_hour"]
    if pace and budget is not None and abs(budget - pace["budget"]) < 0.01:
        return pace["base"]
    if budget is not None:
        return budget
    return fig["spend"] / max(hist[-1][0] - hist[0][0], 1.0) * 3600


def _repace(state: dict, fig: dict, hist: list, factor: float) -> None:
    """A change of the session-level budget: the base moves with it, the stage's pacing stays."""
    base = _base(fig, hist, state)
    budget = fig["budget_per_hour"] or base
    state["pace"] = {"budget": round(budget * factor, 2), "base": base * factor}


def _stage(hist: list, t: float, p: dict) -> dict | None:
    """How well the stage sells now against the session so far: the room's GMV per viewer-second over the last
    stage_window_s over the session's, with a Poisson interval on the room's pays in the window.

    Whichever product is on stage decides most of what any visitor, paid or not, is worth; the whole room's
    traffic (hundreds of viewers) measures it within a minute or two, where the campaign's own paid orders
    would take a quarter of an hour."""
    now, old = hist[-1], _at(hist, t - p["stage_window_s"])
    if len(old) < len(HIST):
        return None   # a state kept before the room's figures were part of it
    gmv, watch, pays = now[7], now[8], now[9]
    w_gmv, w_watch, k = gmv - old[7], watch - old[8], pays - old[9]
    if t - old[0] < p["stage_window_s"] * 0.9 or w_watch <= 0 or gmv <= 0 or pays <= 0:
        return None
    session = gmv / watch
    ticket = w_gmv / k if k else gmv / pays
    lo, hi = poisson(k, p["stage_z"])
    per = ticket / w_watch / session
    return {"ratio": w_gmv / w_watch / session, "lo": lo * per, "hi": hi * per, "pays": k, "expected": 1 / per}


def _pace(fig: dict, hist: list, state: dict, t: float, p: dict) -> tuple | None:
    """Follow the stage: the budget aims at base x worth ** stage_gain, where worth is the end nearest 1 of the
    interval on how much better (or worse) the stage sells now than the session so far, and 1 when the
    interval holds 1; never further than (1 + max step) ** stage_levels from the base. Money then goes where
    visitors are worth most; a move never exceeds the room's step or cap, and comes at most once per
    stage_gap_s. None when the budget stays."""
    if t - hist[0][0] < p["warmup_s"]:
        return None
    stage = _stage(hist, t, p)
    if stage is None:
        return None
    last = max(state["changes"] + [hist[0][0]])
    if t - last < p["stage_gap_s"]:
        return None
    base = _base(fig, hist, state)
    budget = fig["budget_per_hour"] or base
    most = p["max_step_pct"] / 100
    worth = stage["lo"] if stage["lo"] > 1 else stage["hi"] if stage["hi"] < 1 else 1.0
    level = 1 if worth > 1 else -1 if worth < 1 else 0
    span = (1 + most) ** p["stage_levels"]
    goal = base * min(max(worth ** p["stage_gain"], 1 / span), span)
    want = _capped(min(max(goal, budget * (1 - most)), budget * (1 + most)), p)
    step = (want / budget - 1) * 100
    if abs(step) < p["min_step_pct"] * 0.999:
        return None
    state["pace"] = {"budget": round(want, 2), "base": base}
    figures = _plain(fig, stage_gmv_per_viewer_s_ratio=stage["ratio"], stage_ratio_low=stage["lo"],
                     stage_ratio_high=stage["hi"], stage_pays=stage["pays"], base_budget=base, budget_per_hour=budget)
    facts = {"ratio": stage["ratio"], "lo": stage["lo"], "hi": stage["hi"], "k": stage["pays"],
             "w": p["stage_window_s"], "step": abs(step), "base": base, "new": want, "old": budget,
             "expected": stage["expected"]}
    sure = prob_above(stage["pays"], stage["ratio"] if level >= 0 else 1 / max(stage["ratio"], 1e-9))
    if step > 0:
        why = "stage_hot" if level > 0 else "stage_back"
        return "raise_budget", _why(why, **facts), sure, figures, {"step_pct": round(step, 1),
                                                                   "new_budget": round(want, 2),
                                                                   "from_budget": round(budget, 2)}
    why = "stage_cold" if level < 0 else "stage_back"
    if why == "stage_cold" and stage["pays"] == 0:
        why = "stage_none"   # no order in the window: a ratio of 0.0 (0.0–0.0) says nothing; the expected count does
    return "lower_budget", _why(why, **facts), sure, figures, {"step_pct": round(-step, 1),
                                                                "new_budget": round(want, 2),
                                                                "from_budget": round(budget, 2)}


def _next_yuan(fig: dict, hist: list, segs: list[dict], seen: float, t: float, p: dict) -> dict:
    """What the next yuan returns, with its interval: paid visitors per yuan x paid GMV per paid visitor.

    The first is what the budget buys: it answers to every change and is measured precisely on the recent
    window (hundreds of visits). The second swings with whichever product is on stage, so it is taken over
    the whole session, unless conversion has clearly collapsed in the last minutes (an outage, a broken
    link): then the session no longer describes the visitors the money buys now, and the last minutes do.
    """
    visits, spend = _pooled(hist, segs, t, p)
    per_yuan = visits / spend
    cvr = _cvr_trend(hist, t, p)
    collapsed = cvr["trend"] == "falling"
    if collapsed:
        k, seen = cvr["orders"], cvr["visits"]
        value = k * fig["ticket"] / seen
        spread = 0.0
    else:
        k = fig["pays"]
        room = fig["room_gmv"] / fig["room_visits"] if fig.get("room_visits") else 0.0
        value = (fig["gmv"] + p["prior_visits"] * p["prior_ratio"] * room) / (seen + p["prior_visits"])
        spread = _block_spread(hist, p)
    # relative uncertainty: Poisson on the orders, or the spread between stretches of the session when that
    # is wider (one product sells, the next does not); plus the traffic's own Poisson noise
    rel = math.sqrt(max(1 / (k + 0.5), spread ** 2) + 1 / max(visits, 1.0))
    r = per_yuan * value
    hi = r * math.exp(p["z"] * rel) if k else per_yuan * poisson(0, p["z"])[1] * fig["ticket"] / seen
    return {"r": r, "lo": r * math.exp(-p["z"] * rel), "hi": hi, "per_yuan": per_yuan, "value": value,
            "k_eff": k / (1 + k / max(visits, 1.0)), "collapsed": collapsed, "cvr": cvr}


def _block_spread(hist: list, p: dict) -> float:
    """Relative standard error of paid GMV per paid visit over the window, from the spread between blocks of
    block_s (batch means: it counts the product-to-product swings that a Poisson count does not)."""
    edges = [hist[0]]
    for h in hist[1:]:
        if h[0] - edges[-1][0] >= p["block_s"]:
            edges.append(h)
    blocks = [(b[2] - a[2], b[4] - a[4]) for a, b in zip(edges, edges[1:]) if b[4] > a[4]]
    n = len(blocks)
    if n < 3:
        return 0.0
    g, v = sum(x for x, _ in blocks), sum(y for _, y in blocks)
    if g <= 0:
        return 0.0
    ratio = g / v
    mean_v = v / n
    var = sum((gi - ratio * vi) ** 2 for gi, vi in blocks) / (n - 1) / mean_v ** 2 / n
    return math.sqrt(var) / ratio


def _segments(hist: list, changes: list, t: float, p: dict) -> list[dict]:
    """The window cut at each change into stretches, with the spend rate per hour of each. A stretch begins
    settle_s after its change: spend is reported in arrears, and the platform takes a while to adjust."""
    start = max(t - p["window_s"], hist[0][0])
    ends = [c for c in changes if c > start] + [t]
    out = []
    for i, end in enumerate(ends):
        a = start if i == 0 else ends[i - 1] + p["settle_s"]
        if end - a < p["settle_s"]:
            continue
        spend = _at(hist, end)[1] - _at(hist, a)[1]
        if spend <= 0:
            continue   # paused
        out.append({"start": a, "end": end, "rate": spend / (end - a) * 3600})
    return out


def _pooled(hist: list, segs: list[dict], t: float, p: dict) -> tuple[float, float]:
    """Paid visits and spend of the window as evidence about the spend rate in force now, scaled to the
    unweighted sample they are worth.

    Every stretch between changes counts, its visits rescaled to the rate now (paid traffic grows as
    spend ** response): a change does not throw the evidence away. Each minute weighs half as much per
    half_life_s of age, so the estimate follows the platform's auction as it moves.
    """
    rate_now = segs[-1]["rate"]
    visits = spend = spend2 = 0.0
    for s in segs:
        scale = min(max((s["rate"] / rate_now) ** (1 - p["response"]), 0.25), 4.0)
        a = s["start"]
        while a < s["end"]:
            b = min(a + 60.0, s["end"])
            w = 0.5 ** ((t - b) / p["half_life_s"])
            h0, h1 = _at(hist, a), _at(hist, b)
            visits += w * scale * (h1[4] - h0[4])
            spend += w * (h1[1] - h0[1])
            spend2 += w * w * (h1[1] - h0[1])
            a = b
    # Weighted evidence is worth an unweighted sample this many times its weighted size (Kish's effective
    # sample size, with visits expected in proportion to spend).
    f = spend / spend2 if spend2 > 0 else 1.0
    return visits * f, spend * f


def _at(hist: list, when: float) -> list:
    """The history point in force at `when` (the latest at or before it; the oldest if none)."""
    i = bisect.bisect_right(hist, when, key=lambda h: h[0])
    return hist[max(i - 1, 0)]


def _capped(budget: float, p: dict) -> float:
    cap = p.get("max_spend_per_hour")
    return min(budget, cap) if cap else budget


def _steps(p: dict) -> list[float]:
    """The budget moves considered, in percent, smallest first: min_step_pct to the room's max_step_pct."""
    lo, hi = p["min_step_pct"], max(p["max_step_pct"], p["min_step_pct"])
    out = [lo]
    while out[-1] + 5 < hi:
        out.append(out[-1] + 5)
    return out + [hi] if hi > lo else out


def _cvr_trend(hist: list, t: float, p: dict) -> dict:
    """Paid conversion (orders per paid visit) of the last recent_s against the rest of the history, each
    order matched with the visits lag_s before it; `falling`/`rising` only when their Wilson intervals do not
    overlap."""
    lag, cut = p["lag_s"], t - p["recent_s"]
    first, mid, now = hist[0], _at(hist, cut), hist[-1]
    # (shares of the room's paid figures move with each campaign's share of clicks: never below zero)
    before = (max(mid[3] - first[3], 0.0), _at(hist, cut - lag)[4] - first[4])
    recent = (max(now[3] - mid[3], 0.0), _at(hist, t - lag)[4] - _at(hist, cut - lag)[4])
    out = {"orders": recent[0], "visits": recent[1], "cvr": None, "cvr_before": None, "trend": "unknown"}
    if mid is first or before[1] <= 0 or recent[1] <= 0 or before[0] > before[1] or recent[0] > recent[1]:
        return out
    out.update(cvr=recent[0] / recent[1], cvr_before=before[0] / before[1])
    lo_b, hi_b = wilson(*before, p["z"])
    lo_r, hi_r = wilson(*recent, p["z"])
    out["trend"] = "falling" if hi_r < lo_b else "rising" if lo_r > hi_b else "flat"
    return out


def _plain(fig: dict, **more) -> dict:
    keep = ("spend", "room_roi", "room_paid_roi", "target_roi", "budget_per_hour", "roi_target", "paused")
    out = {k: fig[k] for k in keep}
    out["paid_roi"] = fig["gmv"] / fig["spend"] if fig["spend"] else None
    out.update(more)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def _why(case: str, **f) -> dict:
    zh, en = _REASONS[case]
    return {"zh": zh.format(**f), "en": en.format(**f)}


_REASONS = {
    "paused": ("计划已暂停。", "The campaign is paused."),
    "probe": ("计划已暂停 {m:.0f} 分钟，建议以 ¥{new:.0f}/小时 小预算恢复试投。",
              "Paused for {m:.0f} min: resume on a small budget of ¥{new:.0f}/h to see whether it recovered."),
    "cooldown": ("上次调整后仍在观察期，{left:.0f} 秒后再评估。",
                 "Waiting for the last change to show: judging again in {left:.0f} s."),
    "collecting": ("可用数据仅 {s:.0f} 秒，继续观察。", "Only {s:.0f} s of usable data; watching."),
    "small": ("本场已消耗 ¥{spend:.0f}，样本太小（需约 ¥{need:.0f}），保持不变。",
              "¥{spend:.0f} spent so far, too little to judge (about ¥{need:.0f} needed); holding."),
    "band": ("本场付费ROI {so_far:.2f}，下一元约回 {r:.2f}（{lo:.2f}–{hi:.2f}）；按当前预算本场预计 {lo_p:.2f}–{hi_p:.2f}，"
             "与目标 {target:.2f} 无显著差异，保持。",
             "Session paid ROI {so_far:.2f}; the next yuan returns about {r:.2f} ({lo:.2f}–{hi:.2f}). At this "
             "budget the session ends near {lo_p:.2f}–{hi_p:.2f}, not clearly off the target {target:.2f}; holding."),
    "raise": ("本场付费ROI {so_far:.2f}（目标 {target:.2f}），下一元约回 {r:.2f}、最差 {lo:.2f}。预算提高 {step:.0f}% 后"
              "再投 {h:.0f} 分钟，本场ROI仍不低于 {proj:.2f}。建议预算提高 {step:.0f}%。",
              "Session paid ROI {so_far:.2f} against a target of {target:.2f}; the next yuan returns about {r:.2f}, "
              "at worst {lo:.2f}. With {step:.0f}% more budget for the next {h:.0f} min the session still ends at "
              "{proj:.2f} or better. Raise the budget {step:.0f}%."),
    "lower": ("下一元约回 {r:.2f}、最好 {hi:.2f}，低于目标 {target:.2f}，本场付费ROI {so_far:.2f} 也没有余量可抵"
              "（按当前预算本场最多 {proj:.2f}）。建议预算降低 {step:.0f}%。{basis[0]}",
              "The next yuan returns about {r:.2f}, at best {hi:.2f}, under the target {target:.2f}, and the session's "
              "paid ROI of {so_far:.2f} has no surplus to carry it (at this budget it ends at {proj:.2f} at best). "
              "Lower the budget {step:.0f}%.{basis[1]}"),
    "pause": ("下一元最多回 {hi:.2f}，不足目标 {target:.2f} 的四分之一（本场 {so_far:.2f}），建议暂停计划。{basis[0]}",
              "The next yuan returns {hi:.2f} at best, under a quarter of the target {target:.2f} (session so far "
              "{so_far:.2f}). Pause the campaign.{basis[1]}"),
    "bid_up": ("本场付费ROI {so_far:.2f}，下一元最差回 {lo:.2f}，高于目标 {target:.2f}；但每小时仅消耗 ¥{rate:.0f}/预算 "
               "¥{budget:.0f}：出价受限，建议ROI目标降至 {new:.2f}。",
               "Session paid ROI {so_far:.2f} and the next yuan returns at worst {lo:.2f}, above the target "
               "{target:.2f}, but only ¥{rate:.0f}/h of the ¥{budget:.0f}/h budget goes out: the bid binds. Lower "
               "the ROI target to {new:.2f}."),
    "bid_down": ("本场付费ROI {so_far:.2f}，下一元最好回 {hi:.2f}，本场最多 {proj:.2f}，低于目标 {target:.2f}，且预算未花满："
                 "建议ROI目标提高至 {new:.2f}。",
                 "Session paid ROI {so_far:.2f}; the next yuan returns {hi:.2f} at best and the session ends at "
                 "{proj:.2f} at best, under the target {target:.2f}, with the budget not spent: raise the ROI "
                 "target to {new:.2f}."),
    "reverse": ("刚做过反方向调整，{left:.0f} 秒内不回调。",
                "The last change went the other way; not undoing it for {left:.0f} s."),
    "falling": ("ROI 达标，但付费转化率从 {before:.1%} 降至 {cvr:.1%}，暂不加预算。",
                "ROI is above target but paid conversion fell from {before:.1%} to {cvr:.1%}; not adding money."),
    "bounce": ("付费流量2秒跳出率 {b:.0%} 过高，暂不加预算。",
               "Paid visitors bounce within 2 s {b:.0%} of the time; not adding money."),
    "stage_hot": ("近 {w:.0f} 秒直播间每观看秒成交是本场平均的 {ratio:.2f} 倍（{lo:.2f}–{hi:.2f}，{k:.0f} 单），当前商品好卖："
                  "预算提高 {step:.0f}%，¥{old:,.0f}/小时 → ¥{new:,.0f}/小时（基准 ¥{base:,.0f}），讲完再回落。",
                  "In the last {w:.0f} s the room sold {ratio:.2f}x its session average per viewer-second "
                  "({lo:.2f}–{hi:.2f}, {k:.0f} orders): the product on stage sells. Raise the budget {step:.0f}%, "
                  "¥{old:,.0f}/h → ¥{new:,.0f}/h (base ¥{base:,.0f}/h), while it lasts."),
    "stage_cold": ("近 {w:.0f} 秒直播间每观看秒成交仅为本场平均的 {ratio:.2f} 倍（{lo:.2f}–{hi:.2f}，{k:.0f} 单），当前商品不好卖："
                   "预算降低 {step:.0f}%，¥{old:,.0f}/小时 → ¥{new:,.0f}/小时（基准 ¥{base:,.0f}），把钱留给好卖的商品。",
                   "In the last {w:.0f} s the room sold only {ratio:.2f}x its session average per viewer-second "
                   "({lo:.2f}–{hi:.2f}, {k:.0f} orders): the product on stage does not sell. Lower the budget "
                   "{step:.0f}%, ¥{old:,.0f}/h → ¥{new:,.0f}/h (base ¥{base:,.0f}/h), and keep the money for one "
                   "that does."),
    "stage_none": ("近 {w:.0f} 秒直播间没有成交（按本场平均应有约 {expected:.1f} 单），当前商品不好卖："
                   "预算降低 {step:.0f}%，¥{old:,.0f}/小时 → ¥{new:,.0f}/小时（基准 ¥{base:,.0f}），把钱留给好卖的商品。",
                   "No order in the last {w:.0f} s, where the session's average rate would have brought about "
                   "{expected:.1f}: the product on stage does not sell. Lower the budget {step:.0f}%, "
                   "¥{old:,.0f}/h → ¥{new:,.0f}/h (base ¥{base:,.0f}/h), and keep the money for one that does."),
    "stage_back": ("直播间成交回到本场平均水平（近 {w:.0f} 秒为 {ratio:.2f} 倍，{k:.0f} 单）：预算回到基准附近，"
                   "¥{old:,.0f}/小时 → ¥{new:,.0f}/小时。",
                   "The room sells about its session average again ({ratio:.2f}x in the last {w:.0f} s, "
                   "{k:.0f} orders): the budget goes back toward its base, ¥{old:,.0f}/h → ¥{new:,.0f}/h."),
    "cap": ("已达每小时消耗上限 ¥{cap:.0f}，保持。", "At the spend cap of ¥{cap:.0f}/h; holding."),
    "floor": ("ROI目标已在下限 {floor:.2f}，保持。", "The ROI target is at its floor {floor:.2f}; holding."),
}


_BASIS = {False: ("", ""), True: ("（付费转化率近几分钟骤降，按近期数据估算。）",
                                  " (Paid conversion collapsed in the last minutes: judged on those.)")}


OPEN = ("proposed", "noted")      # a proposal awaiting a decision, and a hold (nothing to decide: never approvable)
SAME_PROPOSAL = 0.01              # a fresh decision within 1% of the shown one's new budget or target is the same


def merge(current: list[dict], fresh: list[dict], room: str, as_of: float, now: float,
          notice_s: float = settings.SUGGESTION_REVERSAL_NOTICE_S) -> tuple[list, list, dict]:
    """The room's new suggestion list from the stored one and this run's decisions, the audit entries, and
    {replaced id: new id}.

    A suggestion is a snapshot: what a person reads stays still until they act on it. While the decision stays
    the same (same action, new budget or target within 1%), the shown one stays as it was made, up to
    SUGGESTION_SNAPSHOT_MAX_AGE_S of event time; then, or when the decision changes, a new snapshot with its own
    id replaces it and says so (`replaces`). A hold is `noted`, never proposed. A change that goes against one
    approved on the same campaign within notice_s says which (`reverses`). Decided suggestions stay in the
    list, newest first, for the screens.
    """
    decided = sorted((s for s in current if s["state"] not in OPEN), key=lambda s: s.get("decided_at") or 0,
                     reverse=True)
    open_ = {s["campaign"]: s for s in current if s["state"] in OPEN}
    log_: list[dict] = []
    proposals, replaced = [], {}
    for sug in fresh:
        c = sug["campaign"]
        latest = next((s for s in decided if s["campaign"] == c), None)
        if (latest and latest["state"] == "rejected" and latest["action"] == sug["action"]
                and as_of - (latest.get("decided_as_of") or as_of) < REJECT_QUIET_S):
            sug = {**sug, "action": "hold", "step_pct": None, "new_budget": None, "new_roi_target": None,
                   "confidence": None, "reason": _why_rejected(latest)}
        old = open_.pop(c, None)
        if old is not None and _same(old, sug, as_of):
            proposals.append(old)
            continue
        new = {"id": f"{room}~{secrets.token_hex(6)}", "room": room, **sug,
               "state": "noted" if sug["action"] == "hold" else "proposed",
               "created": now, "updated": now, "created_as_of": as_of}
        if old is not None:
            new["replaces"] = old["id"]
            replaced[old["id"]] = new["id"]
        if (rev := _reverses(new, decided, as_of, notice_s)) is not None:
            new["reverses"] = rev
        proposals.append(new)
        if old is not None and old["action"] != "hold":
            log_.append(audit.entry("superseded", room, "ads", old, by_suggestion=new["id"]))
        if new["action"] != "hold":
            log_.append(audit.entry("proposed", room, "ads", new))
    for old in open_.values():
        if old["action"] != "hold":
            log_.append(audit.entry("superseded", room, "ads", old))
    return proposals + decided[:KEEP_DECIDED], log_, replaced


def _same(old: dict, sug: dict, as_of: float) -> bool:
    """Whether the shown snapshot `old` still stands for the fresh decision `sug`."""
    if old["action"] != sug["action"] or as_of - old.get("created_as_of", as_of) >= settings.SUGGESTION_SNAPSHOT_MAX_AGE_S:
        return False
    for k in ("new_budget", "new_roi_target"):
        a, b = old.get(k), sug.get(k)
        if (a is None) != (b is None) or (a is not None and abs(a - b) > SAME_PROPOSAL * max(abs(a), abs(b))):
            return False
    return True


def _reverses(sug: dict, decided: list[dict], as_of: float, notice_s: float) -> dict | None:
    """The latest change approved (or applied) on the suggestion's campaign within notice_s of event time that
    this one goes against, in the fields a screen needs to say so; None if there is none."""
    if sug["action"] in UP:
        against = DOWN
    elif sug["action"] in DOWN:
        against = UP
    else:
        return None
    for s in decided:   # newest first
        if s["campaign"] != sug["campaign"] or s["state"] not in ("approved", "applied"):
            continue
        if as_of - (s.get("decided_as_of") or as_of) > notice_s:
            return None
        if s["action"] in against:
            return {k: s.get(k) for k in ("id", "action", "step_pct", "new_budget", "new_roi_target", "state",
                                          "decided_by", "decided_at")}
        return None   # the latest change went the same way: nothing is reversed
    return None


def _why_rejected(s: dict) -> dict:
    by = s.get("decided_by") or "?"
    return {"zh": f"同样的建议（{s['action']}）刚被 {by} 拒绝，暂不重复提出。",
            "en": f"The same change ({s['action']}) was just rejected by {by}; not proposing it again yet."}


# -- the Redis adapter --------------------------------------------------------------------------------

def load_config(r, room: str) -> dict:
    return config_of(r.get(keys.ads_config(room)))


def config_of(raw: bytes | None) -> dict:
    """A room's ads config as stored (None: never set), over the defaults."""
    return {**CONFIG_DEFAULTS, **(orjson.loads(raw) if raw else {})}


def params_of(config: dict) -> dict:
    return {**RULES, **config}


def run_room(r, room: str) -> None:
    snap = r.get(keys.snapshot(room))
    if not snap:
        return
    m = wire.read_frame(snap).metrics
    if m.get("ended") is not None:
        return  # a finished session has nothing left to spend on
    config = load_config(r, room)
    params = params_of(config)
    controls = adapter.read_controls(r, room)
    raw_state = r.get(keys.ads_state(room))
    state = orjson.loads(raw_state) if raw_state else {}
    if state.get("session") != m["session"]:
        state = {"session": m["session"], "campaigns": {}}
    fresh = []
    for campaign in sorted(m.get("campaigns") or {}):
        fig = figures_of(m, campaign, controls.get(campaign), config)
        sug, state["campaigns"][campaign] = decide(fig, state["campaigns"].get(campaign), params)
        fresh.append(sug)
    now = time.time()
    skey = keys.suggestions(room)
    with r.pipeline(transaction=True) as pipe:   # explicit: a cluster's pipeline is no MULTI by default
        while True:
            try:
                pipe.watch(skey)
                raw = pipe.get(skey)
                current = orjson.loads(raw) if raw else []
                current = [s for s in current if s.get("session", m["session"]) == m["session"]]
                new, entries, replaced = merge(current, [{**s, "session": m["session"]} for s in fresh], room,
                                               m["as_of"], now, config["reversal_notice_s"] or 0.0)
                to_apply = []
                if config["auto_apply"]:
                    for s in new:
                        if s["state"] == "proposed" and s["action"] != "hold":
                            s.update(state="applied", decided_by="auto", decided_at=now, decided_as_of=m["as_of"],
                                     applied_at=now)
                            to_apply.append(s)
                pipe.multi()
                pipe.set(skey, orjson.dumps(new))
                pipe.set(keys.ads_state(room), orjson.dumps(state))
                if replaced:
                    pipe.hset(keys.suggestions_superseded(room), mapping=replaced)
                    pipe.expire(keys.suggestions_superseded(room), SUPERSEDED_KEEP_S)
                pipe.execute()
                break
            except redis.WatchError:
                continue
    ad = adapter.SimulatedAdapter(r)
    for s in to_apply:
        control = orjson.loads(adapter.apply(ad, s, "auto", m["as_of"])[0])
        entries.append(audit.entry("applied", room, "auto", s, control=control))
    for e in entries:
        audit.record(r, e)
    if new != current:
        notify(r, room)


def notify(r, room: str) -> None:
    """Tell every screen of the room's suggestions and recommendations (insights.suggestions.notify is the
    web process's own)."""
    r.publish(keys.NOTICE_CHANNEL, wire.insight(room, *r.mget(keys.suggestions(room), keys.recommendations(room))))
