"""Ad-spend suggestions: each rule and guard of insights.ads.decide on crafted figures, the list merge, the
interval helpers, and the loop end to end (engine -> suggestion -> approval over HTTP -> control hash, audit).
"""
from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import redis
import redis.asyncio as aredis

from insights import adapter, ads, audit, stats
from insights.jobs import each_room
from store import keys
from tests.conftest import wait_until
from tests.events import BASE_TS, Builder

PARAMS = ads.params_of(dict(ads.CONFIG_DEFAULTS))
T0 = 1_790_000_000.0


def figures(t, spend, gmv, pays, **over):
    """One campaign's cumulative figures at T0 + t: 0.8 paid visitors per yuan, orders of ¥100, no bounces, and
    a room whose only traffic is this campaign's, watched by 100 viewers at a time."""
    fig = {"campaign": "c1", "as_of": T0 + t, "spend": spend, "gmv": gmv, "pays": pays, "visits": spend * 0.8,
           "decided": spend * 0.8, "bounced": 0, "ticket": 100.0, "room_gmv": gmv, "room_visits": spend * 0.8,
           "room_watch_s": 100.0 * t, "room_pays": gmv / 100,
           "room_roi": None,
           "room_paid_roi": None, "target_roi": 2.0, "budget_per_hour": None, "roi_target": None,
           "paused": False, "changed_as_of": None, "changed_action": None}
    fig.update(over)
    return fig


def steady(roi, seconds, per_hour=3600.0, start=0.0, base=(0.0, 0.0, 0.0), prev=None, params=PARAMS,
           every=10.0, **over):
    """Feed decide() a campaign spending `per_hour` at a paid ROI of `roi` (orders of ¥100) every `every`
    seconds; roi may be a function of the step. Returns the decisions and the last state."""
    spend, gmv, pays = base
    out = []
    t = start
    i = 0
    while t < start + seconds:
        t += every
        spend += per_hour * every / 3600
        r = roi(i) if callable(roi) else roi
        gmv += per_hour * every / 3600 * r
        pays = gmv / 100
        sug, prev = ads.decide(figures(t, spend, gmv, pays, **over), prev, params)
        out.append(sug)
        i += 1
    return out, prev, (spend, gmv, pays)


def actions(sugs):
    return [s["action"] for s in sugs]


# -- the rules --------------------------------------------------------------------------------------------

def test_clear_surplus_raises_the_budget_within_the_step_limit():
    sugs, _, _ = steady(4.0, 900)
    first = next(s for s in sugs if s["action"] != "hold")
    assert first["action"] == "raise_budget"
    assert PARAMS["min_step_pct"] <= first["step_pct"] <= PARAMS["max_step_pct"]
    spent_per_hour = first["figures"]["spend_per_hour"]
    assert first["new_budget"] == pytest.approx(spent_per_hour * (1 + first["step_pct"] / 100), rel=1e-3)
    # visitors of the last lag_s have not had time to pay: here they did, so the estimate runs high
    assert first["figures"]["paid_roi_next_low"] > 2.0 and first["figures"]["paid_roi_next"] >= 4.0
    assert first["confidence"] > 0.9
    assert set(first["reason"]) == {"zh", "en"} and "Raise" in first["reason"]["en"]


def test_clear_shortfall_lowers_the_budget():
    sugs, _, _ = steady(0.4, 1200, per_hour=10000.0)
    first = next(s for s in sugs if s["action"] != "hold")
    assert first["action"] == "lower_budget"
    assert first["new_budget"] < first["figures"]["spend_per_hour"]
    assert first["figures"]["paid_roi_next_high"] < 2.0 * (1 - PARAMS["margin"])


def test_no_orders_at_all_on_plenty_of_spend_pauses():
    sugs, _, _ = steady(0.0, 1200)
    assert "pause" in actions(sugs)
    assert "raise_budget" not in actions(sugs)


def test_small_sample_holds_however_good_it_looks():
    # ¥30 an hour for 15 minutes: at the target that buys under one ¥100 order
    sugs, _, _ = steady(10.0, 900, per_hour=30.0)
    assert set(actions(sugs)) == {"hold"}
    assert "too little to judge" in sugs[-1]["reason"]["en"]


def test_on_target_holds():
    sugs, _, _ = steady(2.0, 1800)
    assert set(actions(sugs)) == {"hold"}


def test_oscillating_around_the_threshold_never_flips():
    # the ROI swings ±25% around the raise threshold target × (1 + margin), minute by minute
    bar = 2.0 * (1 + PARAMS["margin"])
    sugs, _, _ = steady(lambda i: bar * (1.25 if (i // 6) % 2 else 0.75), 2400)
    assert set(actions(sugs)) == {"hold"}


def test_a_change_is_followed_by_a_quiet_time_and_not_undone_at_once():
    sugs, _, _ = steady(4.0, 900)
    i = next(i for i, s in enumerate(sugs) if s["action"] == "raise_budget")
    sugs, state, base = steady(4.0, (i + 1) * 10.0)   # up to the raise, which is applied at once
    changed = T0 + (i + 1) * 10.0
    applied = {"changed_as_of": changed, "changed_action": "raise_budget",
               "budget_per_hour": sugs[i]["new_budget"]}
    # the raised budget turns out terrible: no orders at all (the room here is this campaign alone, so its stage
    # goes cold too: stage pacing is switched off to watch the session-level rules' quiet time)
    no_stage = {**PARAMS, "stage_window_s": 1e9}
    after, _, _ = steady(0.0, 1800, per_hour=sugs[i]["new_budget"], start=changed - T0, base=base, prev=state,
                         params=no_stage, **applied)
    # after[j] is at changed + 10 (j + 1)
    cooling = after[:int(PARAMS["min_gap_s"] // 10) - 1]
    quiet = after[:int(PARAMS["reverse_gap_s"] // 10) - 1]
    assert all("Waiting" in s["reason"]["en"] for s in cooling)
    assert set(actions(quiet)) == {"hold"}
    later = actions(after[len(quiet) + 1:])
    assert "lower_budget" in later or "pause" in later


def test_spend_cap_limits_a_raise_and_then_holds():
    capped = {**PARAMS, "max_spend_per_hour": 3800.0}
    sugs, _, _ = steady(4.0, 900, params=capped)
    raise_ = next(s for s in sugs if s["action"] == "raise_budget")
    assert raise_["new_budget"] == 3800.0
    at_cap = {**PARAMS, "max_spend_per_hour": 3600.0}
    sugs, _, _ = steady(4.0, 900, params=at_cap)
    assert set(actions(sugs)) == {"hold"}
    assert "spend cap" in sugs[-1]["reason"]["en"]


def test_under_spent_budget_moves_the_roi_target_instead():
    # the budget is ¥10000/h but only ¥3600/h goes out: the bid binds, not the budget
    sugs, _, _ = steady(4.0, 900, budget_per_hour=10000.0, roi_target=3.0)
    first = next(s for s in sugs if s["action"] != "hold")
    assert first["action"] == "lower_roi_target"
    assert 2.0 * PARAMS["roi_target_floor"] <= first["new_roi_target"] < 3.0


def test_paid_visitors_bouncing_block_a_raise():
    spend = gmv = 0.0
    prev = None
    out = []
    for i in range(90):   # the surplus of test_clear_surplus_raises_the_budget, but 90% bounce within 2 s
        spend += 10.0
        gmv += 40.0
        fig = figures(10.0 * (i + 1), spend, gmv, gmv / 100)
        fig["bounced"] = fig["decided"] * 0.9
        sug, prev = ads.decide(fig, prev, PARAMS)
        out.append(sug)
    assert "raise_budget" not in actions(out)
    assert any("bounce" in s["reason"]["en"] for s in out)


def test_a_paused_campaign_is_probed_again_after_a_while():
    fig = figures(0, 100.0, 0.0, 0, paused=True, changed_as_of=T0, budget_per_hour=4000.0)
    sug, state = ads.decide(fig, None, PARAMS)
    assert sug["action"] == "hold"
    fig = figures(PARAMS["probe_after_s"] + 10, 100.0, 0.0, 0, paused=True, changed_as_of=T0,
                  budget_per_hour=4000.0)
    sug, _ = ads.decide(fig, state, PARAMS)
    assert sug["action"] == "raise_budget"
    assert sug["new_budget"] == 4000.0 * PARAMS["probe_share"]


def stage_run(value, seconds, prev=None, start=0.0, base=None, params=PARAMS, stop=False, **over):
    """A campaign spending ¥3600/h on target (ROI 2) in a room of 100 viewers whose GMV per viewer-second is
    value(t) (orders of ¥100); the budget in force is `budget_per_hour`. Returns the decisions, the last state
    and the running totals; with stop, from the first change on."""
    spend, gmv, room = base or (0.0, 0.0, 0.0)
    out = []
    t = start
    while t < start + seconds:
        t += 10.0
        spend += 10.0
        gmv += 20.0
        room += 100.0 * 10.0 * value(t)
        # the room's visitors are worth what the paid ones are: only the stage moves the budget
        fig = figures(t, spend, gmv, gmv / 100, room_gmv=room, room_pays=room / 100, room_visits=room / 2.5, **over)
        sug, prev = ads.decide(fig, prev, params)
        out.append((t, sug))
        if stop and sug["action"] != "hold":
            break
    return out, prev, (spend, gmv, room)


def test_the_budget_follows_the_stage_within_the_room_limits():
    # 10 minutes at ¥0.05 per viewer-second, then a product on stage that sells three times as well
    hot = lambda t: 0.05 if t <= 600 else 0.15
    out, state, totals = stage_run(hot, 720, budget_per_hour=3600.0, stop=True)
    moves = [(t, s) for t, s in out if s["action"] != "hold"]
    assert moves and moves[0][0] > 600
    t, up = moves[0]
    assert up["action"] == "raise_budget" and up["new_budget"] == pytest.approx(3600 * 1.3)
    assert up["step_pct"] <= PARAMS["max_step_pct"] and up["figures"]["stage_ratio_low"] > 1
    assert set(up["reason"]) == {"zh", "en"} and "sells" in up["reason"]["en"] and 0.5 < up["confidence"] <= 1
    # applied; then the next product does not sell at all: down, but never by more than the max step at once,
    # and never twice within stage_gap_s
    applied = {"budget_per_hour": up["new_budget"], "changed_as_of": T0 + t, "changed_action": "raise_budget"}
    out, state, totals = stage_run(lambda t: 0.0, 300, prev=state, start=t, base=totals, stop=True, **applied)
    downs = [(t2, s) for t2, s in out if s["action"] != "hold"]
    assert downs and downs[0][0] - t >= PARAMS["stage_gap_s"]
    t2, down = downs[0]
    # the window still holds some of the good minutes: not clearly worse yet, so back to the base first
    assert down["action"] == "lower_budget" and "back toward its base" in down["reason"]["en"]
    assert down["new_budget"] == pytest.approx(3600.0) and down["figures"]["base_budget"] == pytest.approx(3600.0)
    applied = {"budget_per_hour": down["new_budget"], "changed_as_of": T0 + t2, "changed_action": "lower_budget"}
    out, _, _ = stage_run(lambda t: 0.0, 300, prev=state, start=t2, base=totals, stop=True, **applied)
    cold = next(s for _, s in out if s["action"] != "hold")
    assert cold["action"] == "lower_budget" and "does not sell" in cold["reason"]["en"]
    # it aims lower than one step below the base, but moves by at most the max step at once
    assert cold["new_budget"] == pytest.approx(3600.0 * (1 - PARAMS["max_step_pct"] / 100), abs=0.01)


def test_the_stage_is_not_followed_on_a_few_orders():
    # 50% better for the last minutes, but the room's whole window holds a handful of orders
    few = {**PARAMS}
    out, _, _ = stage_run(lambda t: 0.003 if t <= 600 else 0.0045, 900, budget_per_hour=3600.0, params=few)
    assert {s["action"] for _, s in out} == {"hold"}


def test_the_stage_raise_stops_at_the_spend_cap():
    capped = {**PARAMS, "max_spend_per_hour": 4000.0}
    out, _, _ = stage_run(lambda t: 0.05 if t <= 600 else 0.15, 720, budget_per_hour=3600.0, params=capped)
    up = next(s for _, s in out if s["action"] != "hold")
    assert up["new_budget"] == 4000.0


def test_decide_is_pure():
    fig = figures(300, 300.0, 1200.0, 12.0)
    prev = {"hist": [[T0 + 10.0 * i, 10.0 * i, 40.0 * i, 0.4 * i, 8.0 * i, 8.0 * i, 0.0] for i in range(30)]}
    snapshot = orjson.dumps(prev)
    a = ads.decide(fig, prev, PARAMS)
    b = ads.decide(fig, prev, PARAMS)
    assert a == b
    assert orjson.dumps(prev) == snapshot


# -- figures from the room's metrics ----------------------------------------------------------------------

def test_figures_share_paid_results_by_ad_clicks():
    m = {"as_of": T0, "gmv": 1000.0, "paid_orders": 10, "roi": 2.0, "paid_roi": 1.0, "target_roi": 3.0,
         "campaigns": {"a": {"spend": 300.0, "impressions": 0, "clicks": 30},
                       "b": {"spend": 200.0, "impressions": 0, "clicks": 10}},
         "sources": {"paid": {"visits": 400, "viewers": 400, "gmv": 500.0, "pays": 8, "decided": 400,
                              "bounced": 40, "bounce_2s_rate": 0.1}}}
    a = ads.figures_of(m, "a", None, {})
    assert (a["gmv"], a["pays"], a["visits"]) == (375.0, 6.0, 300.0)
    # a paid order's value: the paid average (¥62.5) shrunk toward the room's (¥100) with 20 orders' weight
    assert a["target_roi"] == 3.0 and a["ticket"] == pytest.approx((500 + 20 * 100) / (8 + 20))
    assert ads.figures_of(m, "a", None, {"target_roi": 2.5})["target_roi"] == 2.5
    control = {"budget_per_hour": 900.0, "paused": True, "changed_as_of": T0 - 5, "action": "pause"}
    b = ads.figures_of(m, "b", control, {})
    assert (b["budget_per_hour"], b["paused"], b["changed_action"]) == (900.0, True, "pause")


# -- the list kept for the screens ------------------------------------------------------------------------

def proposal(action, campaign="c1"):
    return {"campaign": campaign, "action": action, "reason": {"zh": "", "en": action}, "confidence": 0.9,
            "figures": {}, "step_pct": None, "new_budget": 1.0, "new_roi_target": None}


def test_merge_keeps_the_snapshot_still_and_replaces_it_with_a_mark():
    lst, log, replaced = ads.merge([], [proposal("raise_budget")], "r1", T0, 1.0)
    assert [e["kind"] for e in log] == ["proposed"] and replaced == {}
    shown = lst[0]
    assert shown["id"].startswith("r1~") and shown["state"] == "proposed" and "replaces" not in shown
    # the same decision with drifting figures: the shown snapshot stays exactly as it was made
    drift = {**proposal("raise_budget"), "confidence": 0.7, "figures": {"spend": 99.0}, "new_budget": 1.005}
    lst, log, replaced = ads.merge(lst, [drift], "r1", T0 + 10, 2.0)
    assert lst[0] == shown and log == [] and replaced == {}
    # a different amount replaces it: a new id that says which one it replaces
    lst, log, replaced = ads.merge(lst, [{**drift, "new_budget": 1.5}], "r1", T0 + 20, 3.0)
    assert lst[0]["id"] != shown["id"] and lst[0]["replaces"] == shown["id"] and lst[0]["new_budget"] == 1.5
    assert replaced == {shown["id"]: lst[0]["id"]} and [e["kind"] for e in log] == ["superseded", "proposed"]
    # and so does age: figures older than the snapshot age are refreshed under a new id
    second = lst[0]
    lst, _, replaced = ads.merge(lst, [{**drift, "new_budget": 1.5}], "r1",
                                 T0 + 20 + ads.settings.SUGGESTION_SNAPSHOT_MAX_AGE_S, 4.0)
    assert lst[0]["replaces"] == second["id"] and replaced == {second["id"]: lst[0]["id"]}


def test_a_hold_is_noted_never_proposed():
    lst, log, _ = ads.merge([], [{**proposal("hold"), "new_budget": None, "confidence": None}], "r1", T0, 1.0)
    assert lst[0]["state"] == "noted" and log == []
    lst, log, replaced = ads.merge(lst, [proposal("raise_budget")], "r1", T0 + 10, 2.0)
    assert lst[0]["state"] == "proposed" and replaced == {lst[0]["replaces"]: lst[0]["id"]}
    # every hold decide() makes carries no confidence: nothing changes, so nothing to be sure of
    holds = [s for s in steady(2.0, 600)[0] if s["action"] == "hold"]
    assert holds and all(s["confidence"] is None for s in holds)


def test_merge_keeps_decisions_and_respects_a_rejection():
    lst, _, _ = ads.merge([], [proposal("lower_budget")], "r1", T0, 1.0)
    lst[0].update(state="rejected", decided_by="amy", decided_at=2.0, decided_as_of=T0 + 5)
    lst, log, _ = ads.merge(lst, [proposal("lower_budget")], "r1", T0 + 60, 3.0)
    assert [s["state"] for s in lst] == ["noted", "rejected"]
    assert lst[0]["action"] == "hold" and "amy" in lst[0]["reason"]["en"] and lst[0]["confidence"] is None
    lst, _, _ = ads.merge(lst, [proposal("lower_budget")], "r1", T0 + 5 + ads.REJECT_QUIET_S, 4.0)
    assert lst[0]["action"] == "lower_budget" and lst[0]["state"] == "proposed"


def test_a_suggestion_says_when_it_reverses_a_recent_decision():
    lst, _, _ = ads.merge([], [{**proposal("lower_budget"), "step_pct": 30.0}], "r1", T0, 1.0)
    cut = lst[0]
    cut.update(state="applied", decided_by="amy", decided_at=2.0, decided_as_of=T0 + 5)
    lst, _, _ = ads.merge(lst, [proposal("raise_budget")], "r1", T0 + 180, 3.0)
    rev = lst[0]["reverses"]
    assert (rev["id"], rev["action"], rev["step_pct"], rev["decided_by"], rev["decided_at"]) == \
        (cut["id"], "lower_budget", 30.0, "amy", 2.0)
    # the same direction reverses nothing; neither does a decision older than the notice window
    lst2, _, _ = ads.merge([cut], [{**proposal("lower_budget"), "new_budget": 0.5}], "r1", T0 + 180, 3.0)
    assert "reverses" not in lst2[0]
    lst3, _, _ = ads.merge([cut], [proposal("raise_budget")], "r1", T0 + 5 + 601, 3.0, notice_s=600)
    assert "reverses" not in lst3[0]
    lst4, _, _ = ads.merge([cut], [proposal("raise_roi_target")], "r1", T0 + 5 + 599, 3.0, notice_s=600)
    assert "reverses" not in lst4[0], "a higher ROI target goes the same way as a cut"


def test_a_stage_cut_with_no_order_in_the_window_says_so_plainly():
    why = ads._why("stage_none", w=90, expected=3.2, step=30, old=1000, new=700, base=1000)
    assert "0.0" not in why["en"] and "3.2" in why["en"] and "¥1,000/h → ¥700/h" in why["en"]
    assert "¥1,000/小时 → ¥700/小时" in why["zh"]


# -- interval helpers -------------------------------------------------------------------------------------

def test_intervals_match_known_values():
    lo, hi = stats.wilson(10, 100, 1.96)
    assert (round(lo, 4), round(hi, 4)) == (0.0552, 0.1744)
    assert stats.wilson(0, 0) == (0.0, 1.0)
    # exact Garwood 90% bounds: k=0 -> (0, 2.996), k=10 -> (5.425, 16.962)
    assert stats.poisson(0, 1.645)[1] == pytest.approx(2.996, rel=0.02)
    lo, hi = stats.poisson(10, 1.645)
    assert lo == pytest.approx(5.425, rel=0.02) and hi == pytest.approx(16.962, rel=0.02)
    assert stats.prob_above(100, 1.0) == pytest.approx(0.5)
    assert stats.prob_above(100, 1.5) > 0.99 > stats.prob_above(2, 1.5)
    assert math.isclose(stats.beta_mean(0, 0, 0.1, 20), 0.1)


# -- the whole loop against the running app -----------------------------------------------------------------

def paid_minutes(b: Builder, t0: float, seconds: int, start_user: int) -> list[dict]:
    """A campaign spending ¥40 every 10 s (¥14400/h) while four paid visitors pay ¥100 each: paid ROI 10."""
    evs = []
    for i in range(0, seconds, 10):
        t = t0 + i
        evs.append(b("ad_spend", t, campaign="c1", amount=40.0, impressions=200, clicks=20))
        for j in range(4):
            n = start_user + i * 4 + j
            u, o = f"u{n}", f"o{n}"
            evs += [b("enter", t + 0.5 + j, user=u, source="paid"),
                    b("product_click", t + 1 + j, user=u, sku="s1"),
                    b("order", t + 2 + j, user=u, sku="s1", order_id=o, amount=100.0),
                    b("pay", t + 3 + j, user=u, sku="s1", order_id=o, amount=100.0),
                    b("leave", t + 5 + j, user=u)]
    return evs


def test_a_suggestion_is_approved_over_http_and_reaches_the_ad_platform(system):
    room = "adroom"
    r = redis.Redis.from_url(system.redis_url)
    b = Builder("ads", room=room)
    t0 = float(BASE_TS)
    system.post([b("session_start", t0, target_roi=2.0),
                 b("product_on", t0 + 0.1, sku="s1", name="保温杯", price=100.0, cost=40.0, stock=500)])
    # minutes of event time, each seen by the insight job before the next (it samples the room as it runs)
    for n in range(7):
        end = t0 + 60 * (n + 1)
        system.post(paid_minutes(b, t0 + 60 * n, 60, 10000 * n))
        system.metrics_when(room, lambda m, end=end: m["as_of"] >= end - 10)

        def sampled(end=end):
            st = r.get(keys.ads_state(room))
            return st and orjson.loads(st)["campaigns"]["c1"]["hist"][-1][0] >= end - 10
        wait_until(sampled, timeout=15, what="the ads job to sample the chunk")

    def proposed():
        got = system.get(f"/api/rooms/{room}/suggestions")["suggestions"]
        return next((s for s in got if s["state"] == "proposed" and s["action"] == "raise_budget"), None)
    sug = wait_until(proposed, timeout=15,
                     what=f"a raise_budget proposal (have {system.get(f'/api/rooms/{room}/suggestions')})")
    assert sug["room"] == room and sug["campaign"] == "c1" and sug["confidence"] > 0.5
    assert {"spend", "paid_roi", "paid_roi_next", "paid_roi_next_low", "target_roi", "paid_cvr", "cvr_trend",
            "paid_bounce_2s_rate"} \
        <= set(sug["figures"])

    amy = system.add_user("amy", "manager")
    missing = amy.post(f"/api/suggestions/{room}~nope/approve", json={})
    assert missing.status_code == 404 and "error" in missing.json()

    # who decided is who is signed in (amy), whatever the body says
    resp = amy.post(f"/api/suggestions/{sug['id']}/approve", json={"by": "ceo"})
    assert resp.status_code == 200, resp.text
    applied = resp.json()["suggestion"]
    assert applied["state"] == "applied" and applied["decided_by"] == "amy"
    again = amy.post(f"/api/suggestions/{sug['id']}/reject", json={})
    assert again.status_code == 409

    control = adapter.read_controls(r, room)["c1"]
    assert control["budget_per_hour"] == sug["new_budget"] and control["version"] == 1
    assert control["by"] == "amy" and control["suggestion"] == sug["id"] and control["paused"] is False
    command = r.xrevrange("lw:sim:controls", count=1)[0][1]
    assert command[b"room"] == room.encode() and command[b"action"] == b"set_budget"

    trail = system.get("/api/audit", params={"room": room})["audit"]
    mine = [e["kind"] for e in trail if e.get("suggestion") == sug["id"]]
    assert mine == ["applied", "approved", "proposed"]   # newest first
    entry = next(e for e in trail if e["kind"] == "approved")
    assert entry["by"] == "amy" and entry["suggestion"] == sug["id"] and entry["figures"]["paid_roi_next"] > 2

    # the decision stays on the room's list for the screens, beside what the job proposes next
    got = system.get(f"/api/rooms/{room}/suggestions")["suggestions"]
    assert any(s["id"] == sug["id"] and s["state"] == "applied" for s in got)
    amy.close()
    r.close()


def test_ads_config_round_trip_and_validation(system):
    room = "cfgroom"
    b = Builder("cfg", room=room)
    system.post([b("session_start", float(BASE_TS), target_roi=2.5)])
    system.metrics_when(room, lambda m: True)
    assert system.get(f"/api/rooms/{room}/ads/config") == {"room": room, **ads.CONFIG_DEFAULTS}
    resp = system.http.put(f"/api/rooms/{room}/ads/config",
                           json={"auto_apply": True, "max_step_pct": 20, "max_spend_per_hour": 5000, "by": "amy"})
    assert resp.status_code == 200
    assert resp.json()["auto_apply"] is True and resp.json()["target_roi"] is None
    assert system.get(f"/api/rooms/{room}/ads/config")["max_step_pct"] == 20
    for body in ({"auto_apply": "yes"}, {"max_step_pct": 0}, {"target_roi": -1}, {"colour": "red"}, [1]):
        bad = system.http.put(f"/api/rooms/{room}/ads/config", json=body)
        assert bad.status_code == 400 and "error" in bad.json()
    assert system.http.get("/api/rooms/nosuchroom/ads/config").status_code == 404
    audit_kinds = [e["kind"] for e in system.get("/api/audit", params={"room": room})["audit"]]
    assert audit_kinds == ["config"]
    assert system.get("/api/audit", params={"room": room})["audit"][0]["by"] == "admin", "who is signed in, not `by`"
    assert system.http.get("/api/audit", params={"limit": "x"}).status_code == 400


def test_audit_entries_carry_who_when_and_figures(redis_url):
    r = redis.Redis.from_url(redis_url)
    sug = {"id": "r1~1", "campaign": "c1", "action": "pause", "figures": {"spend": 1.0}}
    audit.record(r, audit.entry("proposed", "r1", "ads", sug))
    audit.record(r, audit.entry("config", "r2", "amy", change={"auto_apply": True}))
    async def read():
        ar = aredis.Redis.from_url(redis_url)
        try:
            return await audit.read(ar, "r1", 10), await audit.read(ar, None, 10)
        finally:
            await ar.aclose()
    # on a thread of its own: a browser test run before this one leaves Playwright's event loop on this thread
    with ThreadPoolExecutor(1) as pool:
        mine, every = pool.submit(asyncio.run, read()).result()
    assert [e["kind"] for e in mine] == ["proposed"] and mine[0]["figures"] == {"spend": 1.0}
    assert [e["room"] for e in every] == ["r2", "r1"] and all(e["ts"] > 0 for e in every)
    r.close()


def test_run_writes_proposals_and_auto_applies_within_limits(redis_url):
    """ads.run against a real Redis with hand-written snapshots (no engine): the adapter's side."""
    r = redis.Redis.from_url(redis_url)
    room = "snaproom"
    r.sadd(keys.ROOMS, room)
    r.set(keys.ads_config(room), orjson.dumps({"auto_apply": True, "max_step_pct": 20}))
    for i in range(1, 90):
        t = T0 + 10 * i
        spend, gmv = 5.0 * i, 40.0 * i
        m = {"session": "s1", "started": T0, "ended": None, "as_of": t, "gmv": gmv, "paid_orders": i * 0.4,
             "roi": 8.0, "paid_roi": 8.0, "target_roi": 2.0,
             "campaigns": {"c1": {"spend": spend, "impressions": 0, "clicks": 0}},
             "sources": {"paid": {"visits": 8 * i, "viewers": 8 * i, "gmv": gmv, "pays": 0.4 * i, "decided": 8 * i,
                                  "bounced": 0, "bounce_2s_rate": 0.0}}}
        r.set(keys.snapshot(room), orjson.dumps({"room": room, "metrics": m, "products": []}))
        each_room(r, ads.run_room)
        control = adapter.read_controls(r, room).get("c1")
        if control:
            break
    assert control is not None, "no change was applied"
    assert control["by"] == "auto" and control["action"] == "raise_budget"
    listed = orjson.loads(r.get(keys.suggestions(room)))
    applied = next(s for s in listed if s["state"] == "applied")
    assert applied["step_pct"] <= 20 and control["budget_per_hour"] == applied["new_budget"]
    kinds = [orjson.loads(f[b"a"])["kind"] for _id, f in r.xrange(keys.AUDIT)]
    assert kinds == ["proposed", "applied"]
    r.close()


def test_a_hold_and_an_outdated_snapshot_cannot_be_approved_over_http(system):
    """The API side of snapshots: a noted hold is refused with a 409, an id replaced by a newer snapshot gets a
    409 naming the newer one, and the newer one is approved exactly as shown. (An ended session: the ads job
    leaves its list alone, so the list written here is the one judged.)"""
    room = "snaproom-http"
    b = Builder("snap", room=room)
    system.post([b("session_start", float(BASE_TS)), b("session_end", float(BASE_TS) + 1)])
    system.metrics_when(room, lambda m: m.get("ended") is not None)
    lst, _, _ = ads.merge([], [{**proposal("hold"), "new_budget": None, "confidence": None},
                               proposal("raise_budget", campaign="c2")], room, T0, 1.0)
    hold, first = lst
    lst, _, replaced = ads.merge(lst, [{**proposal("hold"), "new_budget": None, "confidence": None},
                                       {**proposal("raise_budget", campaign="c2"), "new_budget": 2.0}], room, T0 + 10, 2.0)
    newer = next(s for s in lst if s["campaign"] == "c2")
    assert replaced == {first["id"]: newer["id"]}
    r = redis.Redis.from_url(system.redis_url)
    r.set(keys.suggestions(room), orjson.dumps(lst))
    r.hset(keys.suggestions_superseded(room), mapping=replaced)

    listed = system.get(f"/api/rooms/{room}/suggestions")["suggestions"]
    assert {s["id"]: s["state"] for s in listed} == {hold["id"]: "noted", newer["id"]: "proposed"}
    for verdict in ("approve", "reject"):
        resp = system.http.post(f"/api/suggestions/{hold['id']}/{verdict}", json={})
        assert resp.status_code == 409 and "hold" in resp.json()["error"], resp.text
    old = system.http.post(f"/api/suggestions/{first['id']}/approve", json={})
    assert old.status_code == 409 and old.json()["superseded_by"] == newer["id"], old.text
    assert "updated" in old.json()["error"]
    ok = system.http.post(f"/api/suggestions/{newer['id']}/approve", json={})
    assert ok.status_code == 200 and ok.json()["suggestion"]["new_budget"] == 2.0, ok.text
    assert adapter.read_controls(r, room)["c2"]["budget_per_hour"] == 2.0
    r.close()
