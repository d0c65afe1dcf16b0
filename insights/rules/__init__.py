"""The risk rules, registered: the one list the risk job (insights/risk.py) walks.

A room rule is a function `check(own, room, view, p)` yielding (subject, figures, events) for what holds now,
and, if it keeps anything between evaluations, a state class whose `OBSERVES` maps the event types it takes in
to its methods; the risk job dispatches each event once, to the states and records that declared its type.
Rules are evaluated in the order below (the order of their conditions); each has a block in rules.yaml.
"""
from __future__ import annotations

from collections import deque

from insights.rules import buyers, comments, live, money, products, system
from insights.rules.base import Rule
from insights.rules.records import Buying, Comments, Visits

ROOM_RULES = (
    Rule("bounce_storm", live.bounce_storm, live.BounceTimes),
    Rule("viewer_drop", live.viewer_drop, live.Stays),
    Rule("low_dwell", live.low_dwell),
    Rule("stale_data", live.stale_data),
    Rule("roi_low", money.roi_low),
    Rule("paid_stall", money.paid_stall, money.PaidStall),
    Rule("spend_ahead", money.spend_ahead),
    Rule("refund_spike", money.refund_spike, money.Refunds),
    Rule("stock_low", products.stock_low),
    Rule("sold_out", products.sold_out),
    Rule("clicks_no_sales", products.clicks_no_sales, products.Clicks),
    Rule("restock_request", products.restock_request),
    Rule("buyer_burst", buyers.buyer_burst, buyers.Repeats),
    Rule("instant_orders", buyers.instant_orders),
    Rule("comment_flood", comments.comment_flood, comments.Flood),
    Rule("banned_words", comments.banned_words, deque),
    Rule("negative_comments", comments.negative_comments, comments.Moods),
)

# once per job run, over the whole system: check(own, r, wall, config, since) -> [Condition]
SYSTEM_RULES = (
    Rule("engine_lag", system.engine_lag),
    Rule("dead_letter", system.dead_letter, system.DeadLetters),
)

# a room's records that several rules read (attribute of the room's RiskState -> class); they take each
# event in after the rules' own states
RECORDS = {"visits": Visits, "buying": Buying, "comments": Comments}

NAMES = frozenset(rule.name for rule in ROOM_RULES + SYSTEM_RULES)


def observers() -> dict:
    """Event type -> [(unit, method)], a unit being a room rule's name or a record's: the one dispatch."""
    table: dict = {}
    units = [(rule.name, rule.state) for rule in ROOM_RULES if rule.state] + list(RECORDS.items())
    for unit, cls in units:
        for event_type, method in getattr(cls, "OBSERVES", {}).items():
            table.setdefault(event_type, []).append((unit, method))
    return table
