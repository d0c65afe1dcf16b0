"""Simulated live rooms: live-commerce sessions with a hidden ground truth, for the app, tests and backtests.

The core, `SimRoom`, is pure and deterministic: seeded `random.Random` streams, no wall clock, event time only.
`step(until_ts)` returns every event up to `until_ts`, sorted by `ts`. Time advances in ticks of TICK_S; a
tick draws the arrivals and actions of that second, and whatever happens later (an enter after an
impression, a leave after a dwell, a pay after an order) waits in a heap until its time comes. So the output
is the same however finely `step` is called, as long as no control changes in between.

Randomness comes from separate streams: the stage (the product schedule, stock, the session's frame, when
anomalies strike), organic viewers (their arrivals and everything they do), paid viewers (the same for
traffic bought by campaigns) and the details of anomalies. A change of budget or ROI target then moves only
what paid viewers do: two runs of one seed under different ad settings see the same products on stage at the
same moments and the same organic crowd (common random numbers), so their difference is the settings', not
luck's. Paid viewers buy the stage's products, so stock, and rarely a sell-out, still couple the streams.

What the insight jobs try to discover stays hidden in the room and is exposed by `truth()` for backtests:
each product's click->pay conversion, demand and CTR; how paid traffic answers budget and ROI target; every
anomaly in `anomalies` ({"kind", "start", "end", ...} in event time) and every flash sale in `flash_sales`.

`run()` drives rooms by the wall clock and stores their events in Redis, keeping a resume record per room
there so that a restarted simulator continues each room's session instead of starting a new one. The ad
adapter reaches a room's controls with `room_controls(room)` in the same process, or with `send_control()`
through Redis from another process (app.py runs the simulator as its own process); `read_truth()` reads a
room's truth from there.
"""
from __future__ import annotations

import hashlib
import heapq
import logging
import math
import pickle
import random
import threading
import time
import zlib
from dataclasses import dataclass, replace

import orjson
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from feeds.audience_sim import Audience
from feeds.ingest import ingest_sync
from settings import (REDIS_URL_ENV, RESUME_EVERY_S, RESUME_MAX_GAP_S, SIM_FIRST_SESSION_MINUTES,
                      add_sender_token_options, parser)
from store import keys

log = logging.getLogger("livewall.simulator")

TICK_S = 1.0
ANOMALY_KINDS = ("bounce_storm", "viewer_drop", "order_burst", "comment_flood", "banned_words", "stockout",
                 "refund_spike", "roi_crash")
BANNED_TERMS = ("加微信", "私下交易", "加vx", "线下转账")

# (name, short name used in comments, typical price in yuan)
CATALOGUE = (
    ("爆款保温杯", "保温杯", 59), ("冰丝防晒衣", "防晒衣", 129), ("无线蓝牙耳机", "蓝牙耳机", 199),
    ("纯棉四件套", "四件套", 299), ("家用空气炸锅", "空气炸锅", 249), ("氨基酸洗面奶", "洗面奶", 69),
    ("补水面膜10片装", "面膜", 89), ("每日坚果礼盒", "坚果", 99), ("速食螺蛳粉", "螺蛳粉", 39),
    ("懒人沙发", "懒人沙发", 399), ("儿童保温水壶", "水壶", 79), ("手工牛轧糖", "牛轧糖", 29),
    ("羊毛围巾", "围巾", 159), ("麦饭石不粘锅", "不粘锅", 139), ("运动速干T恤", "T恤", 49),
    ("护手霜套装", "护手霜", 45), ("玻尿酸精华液", "精华", 259), ("扫地机器人", "扫地机", 1299),
)
STREAMERS = ("小雅", "阿杰", "琳琳", "大鹏", "菲菲", "老王", "小鹿", "娜娜")
THEMES = ("秋冬上新专场", "宠粉福利日", "源头工厂直发", "年货节预热", "品牌特卖", "夜场捡漏", "新人专享价")

GENERIC_COMMENTS = ("主播好", "来了来了", "666", "主播好美", "今天有什么福利", "怎么买", "包邮吗", "发什么快递",
                    "几号发货", "有优惠券吗", "已关注", "刚来，这是卖什么的", "主播辛苦了", "点赞点赞", "支持主播",
                    "声音好好听", "能不能便宜点", "有赠品吗", "第一次来", "老粉报到", "质量好吗", "七天无理由吗")
ON_STAGE_COMMENTS = ("{s}多少钱", "{s}有优惠吗", "{s}怎么用", "{s}质量怎么样", "已拍{s}", "{s}拍了", "{s}还有别的颜色吗",
                     "{s}好用吗", "想要{s}", "{s}上链接")
ASK_BACK_COMMENTS = ("{s}还有吗", "求返场{s}", "{s}什么时候再上", "想要{s}", "{s}还能买吗", "再讲一下{s}")
ASK_BACK_GENERIC = ("求返场", "刚才那个还有吗", "上一个还能买吗")
SOLD_OUT_COMMENTS = ("没货了吗", "{s}怎么拍不了", "什么时候补货", "{s}秒没了")
AFTER_BUY_COMMENTS = ("已下单", "拍了拍了", "已付款", "下单了等发货")
FLOOD_COMMENTS = ("扣1扣1扣1", "666666", "主播看我看我", "上链接上链接", "福利福利福利")
BANNED_TEMPLATES = ("{t}更便宜", "{t}有内部价", "想要的{t}", "{t}送赠品")
LIKE_COUNTS = (1, 1, 1, 1, 2, 3, 5, 10, 20)


@dataclass(frozen=True)
class Source:
    enter: float      # impression -> enter probability
    bounce: float     # share of visits that leave within 2 s
    conv: float       # multiplier on a product's click->pay conversion
    returning: float  # chance an impression goes to a user seen before (a fan for `follow`)
    follow: float     # chance a (non-bouncing) visitor follows the account


SOURCE = {
    "recommend": Source(0.22, 0.30, 0.9, 0.05, 0.04),
    "paid": Source(0.18, 0.32, 0.7, 0.03, 0.03),
    "short_video": Source(0.45, 0.20, 1.0, 0.05, 0.05),
    "follow": Source(0.60, 0.08, 1.5, 0.85, 0.0),
    "search": Source(0.55, 0.12, 1.4, 0.20, 0.03),
    "other": Source(0.50, 0.20, 1.0, 0.20, 0.03),
}


@dataclass(frozen=True)
class Platform:
    scale: float           # organic traffic relative to ORGANIC_ENTERS_PER_S
    mix: dict              # share of organic enters by source
    conv: float            # platform-wide conversion multiplier (Taobao viewers come to buy)
    campaign: str          # ad product: qc = 巨量千川, jn = 磁力金牛, zb = 超级直播
    budgets: tuple         # default yuan per hour of each campaign


PLATFORM_PROFILES = {
    "douyin": Platform(1.0, {"recommend": .62, "short_video": .15, "follow": .08, "search": .05, "other": .10},
                       1.0, "qc", (6000.0, 3000.0)),
    "kuaishou": Platform(1.0, {"recommend": .50, "short_video": .15, "follow": .22, "search": .05, "other": .08},
                         1.1, "jn", (5000.0,)),
    "taobao": Platform(0.8, {"recommend": .35, "short_video": .05, "follow": .25, "search": .25, "other": .10},
                       1.4, "zb", (4000.0,)),
    "xiaohongshu": Platform(0.5, {"recommend": .55, "short_video": .20, "follow": .10, "search": .10, "other": .05},
                            0.9, "ad", (2000.0,)),
    "wechat": Platform(0.6, {"recommend": .30, "short_video": .10, "follow": .30, "search": .05, "other": .25},
                       1.0, "ad", (2000.0,)),
    "other": Platform(0.5, {"recommend": .40, "short_video": .15, "follow": .20, "search": .10, "other": .15},
                      1.0, "ad", (2000.0,)),
}

ORGANIC_ENTERS_PER_S = 2.4
DWELL_MEDIAN_S, DWELL_SIGMA = 45.0, 1.1     # lognormal dwell of visits that do not bounce
VIEW_ON = 0.02          # product views per viewer-second of the product on stage, times its demand
VIEW_OFF = 0.003        # product views per viewer-second of products off stage (the shopping bag)
OFF_STAGE_CONV = 0.5    # off stage, nobody is selling the product: conversion halves
MEAN_QTY = 1.2
COMMENT_RATE, LIKE_RATE, SHARE_P = 0.008, 0.006, 0.012
ORDER_DELAY_S = (5.0, 40.0)   # from a product click to its order
FLASH_BOOST = 2.5       # views and conversion during the first minute of a flash sale

# Paid traffic: arrivals/min = a * budget**PAID_EXP * (REF_ROI / roi_target)**TARGET_EXP, with `a` set per
# room so that its largest default budget earns a paid ROI of REF_ROI * U(PAID_ROI_RANGE) (some rooms
# under-spend, some over-spend) while bringing PAID_ARRIVALS per minute at most and at least. A higher ROI
# target makes the platform bid lower: fewer visitors, better ones (quality), and less of the budget spent.
PAID_EXP, PAID_ROI_RANGE, PAID_ARRIVALS = 0.7, (0.6, 1.8), (10.0, 50.0)
REF_ROI, TARGET_EXP, QUALITY_EXP, SPEND_EXP = 2.0, 0.8, 0.6, 0.3

CONTROL_ACTIONS = ("set_budget", "set_roi_target", "pause", "resume")


@dataclass
class SimConfig:
    session_s: float = 7200.0       # a session's length
    session_jitter: float = 0.0     # each session lasts session_s * U(1 - jitter, 1 + jitter)
    break_s: float = 120.0          # between two sessions
    traffic: float = 1.0            # scales organic traffic
    products: tuple = (8, 15)       # catalogue size range
    budgets: dict | None = None     # campaign -> yuan/hour; None = the platform's defaults
    anomalies: bool = True
    anomaly_per_hour: float = 2.0
    anomaly_kinds: tuple = ANOMALY_KINDS
    flash_sale_share: float = 0.15  # share of product_on that are flash sales
    refund_rate: float = 0.03
    first_session_s: float | None = None   # the room's first session lasts this instead (no jitter)


@dataclass
class Product:
    sku: str
    name: str
    short: str
    price: float
    cost: float
    demand: float
    ctr: float
    conversion: float
    stock: int = 0
    reserved: int = 0   # units of placed orders that will be paid: not for sale any more


@dataclass
class Campaign:
    budget: float
    roi_target: float = REF_ROI
    paused: bool = False
    accrued: float = 0.0          # spend since the last ad_spend report
    impressions: int = 0
    clicks: int = 0
    next_report: float = 0.0
    visitors: int = 0             # realized this session: the ground truth of what the money bought
    spend: float = 0.0
    gmv: float = 0.0


class Visit:
    __slots__ = ("source", "campaign", "enter", "leave")

    def __init__(self, source, campaign, enter, leave):
        self.source, self.campaign, self.enter, self.leave = source, campaign, enter, leave


GROUPS = ("organic", "paid")


def group_of(source: str) -> str:
    return "paid" if source == "paid" else "organic"


class Crowd:
    """The viewers online in one group, with O(1) join, leave and random pick."""
    __slots__ = ("users", "pos")

    def __init__(self):
        self.users: list[str] = []
        self.pos: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.users)

    def add(self, user: str) -> None:
        self.pos[user] = len(self.users)
        self.users.append(user)

    def remove(self, user: str) -> None:
        i = self.pos.pop(user)
        last = self.users.pop()
        if last != user:
            self.users[i] = last
            self.pos[last] = i

    def pick(self, rng: random.Random) -> str:
        return self.users[rng.randrange(len(self.users))]


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _retail(x: float) -> float:
    """A shop price: 59.9 rather than 60.13."""
    return max(9.9, round(x) - 0.1)


class SimRoom:
    def __init__(self, room: str, platform: str, seed, start_ts: float, config: SimConfig | dict | None = None,
                 nonce: str | None = None):
        self.room, self.platform, self.seed = room, platform, seed
        self.config = SimConfig(**config) if isinstance(config, dict) else (config or SimConfig())
        self.profile = PLATFORM_PROFILES[platform]
        self.rng = random.Random(f"{room}|{seed}")   # the room's setup, then the stage
        self._rngs = {g: random.Random(f"{room}|{seed}|{g}") for g in GROUPS}
        self._anom = random.Random(f"{room}|{seed}|anomalies")
        # Ids carry a nonce of the run (the start time): a restarted simulator never reuses an earlier run's ids.
        self.nonce = nonce or hashlib.blake2b(f"{room}|{seed}|{start_ts}".encode(), digest_size=4).hexdigest()
        self._prefix = f"{room}-{self.nonce}-"
        self._user_prefix = {"douyin": "dy", "kuaishou": "ks", "taobao": "tb"}.get(platform, platform[:2])
        self.anomalies: list[dict] = []
        self._crash: dict | None = None   # the latest ROI crash's record, which its clicks add their loss to
        self.flash_sales: list[dict] = []
        self.controls_log: list[dict] = []
        self._lock = threading.Lock()
        self._heap: list = []
        self._seq = 0
        self._n = 0
        self._orders = 0
        self._out: list[dict] = []
        self._clock = start_ts     # events up to here have been returned
        self._sim_end = start_ts   # ticks simulated up to here
        self._next_user = self.rng.randrange(10_000_000, 90_000_000)
        self.products = self._catalogue()
        self.campaigns = self._campaigns()
        budget = max([c.budget for c in self.campaigns.values()] + [1000.0])
        roi = REF_ROI * self.rng.uniform(*PAID_ROI_RANGE)
        arrivals = roi * budget / (60 * self._value_per_visitor("paid"))
        self._paid_a = min(max(arrivals, PAID_ARRIVALS[0]), PAID_ARRIVALS[1]) / budget ** PAID_EXP
        self._imp_rates = [(s, self.profile.scale * ORGANIC_ENTERS_PER_S * share / SOURCE[s].enter, SOURCE[s].enter)
                           for s, share in self.profile.mix.items()]
        # Viewers seen before, per group: the account's fans, whom `follow` traffic mostly brings back, and
        # those an ad reached before (kept apart so that what ads buy never changes who comes back organically).
        self._past = {"organic": [self._new_user() for _ in range(2000)], "paid": []}
        self._audience = Audience(room, seed, self._past["organic"])
        self._crowds = {g: Crowd() for g in GROUPS}
        self._visits: dict[str, Visit] = {}
        self._live = False
        self._session_no = 0
        self._at(start_ts, self._start_session)

    # ---- setup -------------------------------------------------------------------------------------------

    def _catalogue(self) -> dict[str, Product]:
        rng = self.rng
        lo, hi = self.config.products
        picked = rng.sample(CATALOGUE, min(len(CATALOGUE), rng.randint(lo, hi)))
        codes = rng.sample(range(10000, 99999), len(picked))
        out = {}
        for (name, short, base), code in zip(picked, codes):
            price = _retail(base * rng.uniform(0.85, 1.15))
            sku = f"sku-{code}"
            out[sku] = Product(sku, name, short, price, round(price * rng.uniform(0.35, 0.6), 2),
                               demand=rng.lognormvariate(0, 0.5), ctr=rng.uniform(0.08, 0.3),
                               conversion=rng.uniform(0.03, 0.25))
        return out

    def _campaigns(self) -> dict[str, Campaign]:
        budgets = self.config.budgets
        if budgets is None:
            budgets = {f"{self.profile.campaign}-{i + 1}": b for i, b in enumerate(self.profile.budgets)}
        return {name: Campaign(float(b)) for name, b in budgets.items()}

    def _new_user(self) -> str:
        self._next_user += 1
        return f"{self._user_prefix}{self._next_user}"

    # ---- the event heap ----------------------------------------------------------------------------------

    def _at(self, ts: float, fn, *args) -> None:
        """Run fn(ts, *args) when event time reaches ts."""
        self._seq += 1
        heapq.heappush(self._heap, (round(ts, 3), self._seq, fn, args))

    def _later(self, ts: float, type_: str, **fields) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (round(ts, 3), self._seq, None, (type_, fields)))

    def _now(self, ts: float, type_: str, **fields) -> None:
        """Emit at once: only from an action running at ts, when everything before ts is out."""
        self._out.append(self._event(ts, type_, fields))

    def _event(self, ts: float, type_: str, fields: dict) -> dict:
        self._n += 1
        ev = {"id": f"{self._prefix}{self._n}", "room": self.room, "platform": self.platform, "ts": ts,
              "type": type_}
        ev.update(fields)
        return ev

    def _release(self, bound: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= bound:
            ts, _, fn, args = heapq.heappop(heap)
            if fn is None:
                self._out.append(self._event(ts, *args))
            else:
                fn(ts, *args)
        self._clock = max(self._clock, bound)

    # ---- public ------------------------------------------------------------------------------------------

    @property
    def clock(self) -> float:
        """Event time up to which events have been returned."""
        return self._clock

    def __getstate__(self) -> dict:
        # a resume record (see `run_with`): everything but the lock and the last step's output
        state = dict(self.__dict__)
        del state["_lock"], state["_out"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock(), _out=[])
        if "_audience" not in state:   # a resume record from before the audience fields
            self._audience = Audience(self.room, self.seed, self._past["organic"])

    def restart_at(self, ts: float) -> list[dict]:
        """End the running session where the room's events stopped (its clock), then begin a new one at ts:
        for a room that cannot catch up with a long outage. Returns the session's closing events."""
        with self._lock:
            self._out = []
            if self._live:
                self._end_session(self._clock)
            self._heap.clear()
            self._clock = self._sim_end = ts
            self._at(ts, self._start_session)
            return self._out

    def step(self, until_ts: float) -> list[dict]:
        """Every event with clock < ts <= until_ts, sorted by ts."""
        with self._lock:
            self._out = []
            while True:
                # A tick is simulated only once everything up to its start is out, so that the actions it
                # sees (who is online, what is on stage) are those of its time.
                self._release(min(until_ts, self._sim_end))
                if self._sim_end > until_ts:
                    return self._out
                self._tick(self._sim_end, TICK_S)
                self._sim_end += TICK_S

    def inject(self, kind: str, at_ts: float) -> None:
        """Force an anomaly at at_ts (or as soon as possible after the events already returned)."""
        if kind not in ANOMALY_KINDS:
            raise ValueError(f"unknown anomaly {kind!r}; one of {', '.join(ANOMALY_KINDS)}")
        with self._lock:
            self._at(max(at_ts, self._clock), self._anomaly, kind)

    def set_budget(self, campaign: str, yuan_per_hour: float) -> None:
        """A positive budget also resumes a paused campaign; an unknown campaign is created."""
        with self._lock:
            c = self.campaigns.setdefault(campaign, Campaign(0.0))
            c.budget = max(0.0, float(yuan_per_hour))
            if c.budget > 0:
                c.paused = False
            self._log_control("set_budget", campaign, c.budget)

    def get_budget(self, campaign: str) -> float | None:
        c = self.campaigns.get(campaign)
        return None if c is None else c.budget

    def set_roi_target(self, campaign: str, roi: float) -> None:
        if not roi > 0:
            raise ValueError("an ROI target must be > 0")
        with self._lock:
            self.campaigns.setdefault(campaign, Campaign(0.0)).roi_target = float(roi)
            self._log_control("set_roi_target", campaign, float(roi))

    def pause(self, campaign: str) -> None:
        with self._lock:
            if campaign in self.campaigns:
                self.campaigns[campaign].paused = True
                self._log_control("pause", campaign, None)

    def resume(self, campaign: str) -> None:
        with self._lock:
            if campaign in self.campaigns:
                self.campaigns[campaign].paused = False
                self._log_control("resume", campaign, None)

    def _log_control(self, action: str, campaign: str, value) -> None:
        self.controls_log.append({"ts": self._sim_end, "action": action, "campaign": campaign, "value": value})

    def paid_model(self, budget: float, roi_target: float = REF_ROI) -> dict:
        """What a campaign with this budget and ROI target buys, in expectation."""
        arrivals = self._paid_a * budget ** PAID_EXP * (REF_ROI / roi_target) ** TARGET_EXP if budget > 0 else 0.0
        spend = budget * min(1.0, (REF_ROI / roi_target) ** SPEND_EXP)
        quality = (roi_target / REF_ROI) ** QUALITY_EXP
        value = self._value_per_visitor("paid") * quality
        roi = arrivals * 60 * value / spend if spend else None
        return {"arrivals_per_min": arrivals, "spend_per_hour": spend,
                "conversion_multiplier": SOURCE["paid"].conv * self.profile.conv * quality,
                "gmv_per_visitor": value, "expected_roi": roi,
                # gmv grows as budget**PAID_EXP while spend grows as budget
                "marginal_roi": None if roi is None else PAID_EXP * roi}

    def _value_per_visitor(self, source: str) -> float:
        """Approximate GMV a visitor of this source brings (stage time split evenly, no flash sales)."""
        s = SOURCE[source]
        dwell = (1 - s.bounce) * DWELL_MEDIAN_S * math.exp(DWELL_SIGMA ** 2 / 2) + s.bounce * 1.1
        ps = self.products.values()
        dsum = sum(p.demand for p in ps)
        per_s = sum((VIEW_ON * p.demand / len(ps) + VIEW_OFF * p.demand / dsum * OFF_STAGE_CONV)
                    * p.ctr * p.conversion * p.price * MEAN_QTY for p in ps)
        return dwell * per_s * s.conv * self.profile.conv

    def truth(self) -> dict:
        """The hidden ground truth (JSON-ready): see the module docstring."""
        with self._lock:
            campaigns = {}
            for name, c in self.campaigns.items():
                model = self.paid_model(c.budget, c.roi_target) if not c.paused else None
                campaigns[name] = {"budget_per_hour": c.budget, "roi_target": c.roi_target, "paused": c.paused,
                                   "model": model, "visitors": c.visitors, "spend": round(c.spend, 2),
                                   "gmv": round(c.gmv, 2), "roi": round(c.gmv / c.spend, 4) if c.spend else None}
            return {
                "room": self.room, "platform": self.platform, "seed": self.seed, "session": self._session_no,
                "clock": self._clock,
                "products": {p.sku: {"name": p.name, "price": p.price, "cost": p.cost, "demand": p.demand,
                                     "ctr": p.ctr, "conversion": p.conversion} for p in self.products.values()},
                "sources": {s: {"enter_rate": v.enter, "bounce_share": v.bounce,
                                "conversion_multiplier": v.conv * self.profile.conv} for s, v in SOURCE.items()},
                "paid": {"formula": "arrivals_per_min = a * budget_per_hour ** exponent"
                                    " * (ref_roi_target / roi_target) ** target_exponent",
                         "a": self._paid_a, "exponent": PAID_EXP, "ref_roi_target": REF_ROI,
                         "target_exponent": TARGET_EXP, "quality_exponent": QUALITY_EXP, "spend_exponent": SPEND_EXP, "campaigns": campaigns},
                "anomalies": [dict(a) for a in self.anomalies],
                "flash_sales": [dict(f) for f in self.flash_sales],
                "controls": list(self.controls_log),
            }

    # ---- sessions ----------------------------------------------------------------------------------------

    def _start_session(self, ts: float) -> None:
        rng, cfg = self.rng, self.config
        self._session_no += 1
        self._live = True
        self._session_start = ts
        self._end_ts = ts + cfg.session_s * rng.uniform(1 - cfg.session_jitter, 1 + cfg.session_jitter)
        first = getattr(cfg, "first_session_s", None)   # a resume record from before the field has none
        if self._session_no == 1 and first:
            self._end_ts = ts + first
        self._on = self._last_on = None
        self._stage_token = 0
        self._stage_price = 0.0
        self._stage_off_at = 0.0
        self._shown: set[str] = set()
        self._paid: list[tuple] = []     # (ts, order_id, amount, user, sku) of every pay, for refunds
        self._refunded: set[str] = set()
        self._wave = 0.0
        self._flash_until = self._storm_until = self._crash_until = self._drop_until = 0.0
        self._stockout_pending = False
        for p in self.products.values():
            p.stock, p.reserved = rng.randint(800, 3000), 0
        for c in self.campaigns.values():
            c.accrued, c.impressions, c.clicks = 0.0, 0, 0
            c.visitors, c.spend, c.gmv = 0, 0.0, 0.0
            c.next_report = ts + self._rngs["paid"].uniform(10, 30)
        streamer = rng.choice(STREAMERS)
        self._now(ts, "session_start", title=f"{rng.choice(THEMES)}｜{streamer}直播间", streamer=streamer,
                  target_roi=round(rng.uniform(1.8, 3.5), 1))
        self._at(ts + rng.uniform(5, 15), self._product_on)
        self._at(ts + rng.uniform(60, 180), self._stock_sync)
        self._at(self._end_ts, self._end_session)

    def _end_session(self, ts: float) -> None:
        self._heap.clear()   # what was still to come (leaves, pays, refunds) dies with the session
        if self._on is not None:
            self._now(ts, "product_off", sku=self._on)
            self._on = None
        for name, c in self.campaigns.items():
            self._report(ts, name, c)
        for g, crowd in self._crowds.items():
            for user in crowd.users:
                self._now(ts, "leave", user=user)
                self._past_add(user, g)
                self._audience.left(user)
        self._crowds, self._visits = {g: Crowd() for g in GROUPS}, {}
        self._now(ts, "session_end")
        for rec in (*self.anomalies, *self.flash_sales):
            rec["end"] = min(rec["end"], ts)
        self._live = False
        self._at(ts + self.config.break_s, self._start_session)

    # ---- one tick ----------------------------------------------------------------------------------------

    def _tick(self, t: float, dt: float) -> None:
        if not self._live:
            return
        span = min(dt, self._end_ts - t)
        if span <= 0:
            return
        self._traffic(t, span)
        self._paid_traffic(t, span)
        for g in GROUPS:
            self._engagement(t, span, g)
        cfg = self.config
        if cfg.anomalies and self.rng.random() < cfg.anomaly_per_hour * span / 3600:
            kind = self.rng.choice(cfg.anomaly_kinds)
            if not any(a["kind"] == kind and a["end"] > t for a in self.anomalies):
                self._at(t + self.rng.random() * span, self._anomaly, kind)

    def _organic_level(self, t: float) -> float:
        rng = self._rngs["organic"]
        # Recommendation traffic comes in waves (流量池): a slow random walk around 1.
        self._wave = max(-1.0, min(1.0, self._wave * 0.995 + rng.gauss(0, 0.04)))
        warm = min(1.0, 0.3 + 0.7 * (t - self._session_start) / 180)
        fade = 0.6 if self._end_ts - t < 300 else 1.0
        level = self.config.traffic * warm * fade * math.exp(self._wave)
        if t < self._storm_until:
            level *= 2    # a storm of low-quality traffic
        if t < self._drop_until:
            level *= 0.3
        return level

    def _traffic(self, t: float, span: float) -> None:
        rng = self._rngs["organic"]
        level = self._organic_level(t)
        for source, imp_rate, p_enter in self._imp_rates:
            for _ in range(poisson(rng, imp_rate * level * span)):
                ts = t + rng.random() * span
                user = self._newcomer(source, rng)
                self._later(ts, "impression", user=user, source=source)
                if rng.random() < p_enter:
                    self._at(ts + rng.uniform(0.3, 3.0), self._enter, user, source, None, None)

    def _paid_traffic(self, t: float, span: float) -> None:
        rng = self._rngs["paid"]
        p_enter = SOURCE["paid"].enter
        for name, c in self.campaigns.items():
            if not c.paused and c.budget > 0:
                model = self.paid_model(c.budget, c.roi_target)
                c.accrued += model["spend_per_hour"] / 3600 * span * rng.uniform(0.7, 1.3)
                for _ in range(poisson(rng, model["arrivals_per_min"] / 60 / p_enter * span)):
                    ts = t + rng.random() * span
                    user = self._newcomer("paid", rng)
                    c.impressions += 1
                    self._later(ts, "impression", user=user, source="paid")
                    if rng.random() < p_enter:
                        c.clicks += 1
                        self._at(ts + rng.uniform(0.3, 3.0), self._enter, user, "paid", name, None)
            if t >= c.next_report:
                self._at(t + rng.random() * span, self._report, name, c)
                c.next_report = t + rng.uniform(10, 30)

    def _report(self, ts: float, name: str, c: Campaign) -> None:
        amount = round(c.accrued, 2)
        if amount <= 0:
            return
        self._now(ts, "ad_spend", campaign=name, amount=amount, impressions=c.impressions, clicks=c.clicks)
        c.accrued -= amount   # the rounding remainder rides on to the next report
        c.spend += amount
        c.impressions = c.clicks = 0

    def _engagement(self, t: float, span: float, group: str) -> None:
        """What one group's viewers online do in this tick, drawn from that group's stream."""
        rng, crowd = self._rngs[group], self._crowds[group]
        n = len(crowd)
        if n == 0:
            return
        if self._on is not None:
            p = self.products[self._on]
            boost = FLASH_BOOST if t < self._flash_until else 1.0
            for _ in range(poisson(rng, n * VIEW_ON * p.demand * boost * span)):
                self._view(t + rng.random() * span, p, self._stage_price, boost, crowd.pick(rng), rng)
        off = [p for p in self.products.values() if p.sku != self._on]
        k = poisson(rng, n * VIEW_OFF * span)
        if k:
            for p in rng.choices(off, weights=[p.demand for p in off], k=k):
                self._view(t + rng.random() * span, p, p.price, OFF_STAGE_CONV, crowd.pick(rng), rng)
        for _ in range(poisson(rng, n * COMMENT_RATE * span)):
            self._later(t + rng.random() * span, "comment", user=crowd.pick(rng), text=self._comment_text(rng))
        for _ in range(poisson(rng, n * LIKE_RATE * span)):
            self._later(t + rng.random() * span, "like", user=crowd.pick(rng), count=rng.choice(LIKE_COUNTS))

    def _view(self, ts: float, p: Product, price: float, factor: float, user: str, rng: random.Random) -> None:
        """A product card shown to a viewer, and what follows: click, cart, order, pay."""
        visit = self._visits[user]
        self._later(ts, "product_view", user=user, sku=p.sku)
        if rng.random() >= p.ctr * min(factor, 1.3):
            return
        click = ts + rng.uniform(0.5, 4.0)
        self._later(click, "product_click", user=user, sku=p.sku)
        conv = p.conversion * factor * SOURCE[visit.source].conv * self.profile.conv
        if visit.source == "paid":
            c = self.campaigns[visit.campaign]
            conv *= (c.roi_target / REF_ROI) ** QUALITY_EXP
            if click < self._crash_until:
                self._crash["orders_lost"] += min(1.0, conv * 1.2)   # orders, paid or not (below)
                conv = 0.0
        r = rng.random()
        qty = rng.choices((1, 2, 3), (0.82, 0.14, 0.04))[0]
        if r < conv:
            if rng.random() < 0.5:
                self._later(click + rng.uniform(1, 6), "cart_add", user=user, sku=p.sku, qty=qty)
            self._at(click + rng.uniform(*ORDER_DELAY_S), self._order, user, p.sku, qty, price, visit.campaign, (2, 25))
        elif r < conv * 1.2:    # ordered, never paid
            self._at(click + rng.uniform(*ORDER_DELAY_S), self._order, user, p.sku, qty, price, visit.campaign, None)
        elif r < conv * 1.2 + 0.06:
            self._later(click + rng.uniform(1, 6), "cart_add", user=user, sku=p.sku, qty=qty)

    def _comment_text(self, rng: random.Random) -> str:
        r = rng.random()
        on = self.products.get(self._on) if self._on else None
        if on is not None and on.stock <= 0 and r < 0.3:
            return rng.choice(SOLD_OUT_COMMENTS).format(s=on.short)
        if on is not None and r < 0.35:
            return rng.choice(ON_STAGE_COMMENTS).format(s=on.short)
        if r < 0.5:
            # Viewers ask back for what they want: the products of high demand.
            off = [p for p in self.products.values() if p is not on]
            p = rng.choices(off, weights=[p.demand ** 2 for p in off])[0]
            return rng.choice(ASK_BACK_COMMENTS).format(s=p.short)
        if r < 0.55:
            return rng.choice(ASK_BACK_GENERIC)
        return rng.choice(GENERIC_COMMENTS)

    # ---- viewers -----------------------------------------------------------------------------------------

    def _newcomer(self, source: str, rng: random.Random) -> str:
        past = self._past[group_of(source)]
        if past and rng.random() < SOURCE[source].returning:
            user = past[rng.randrange(len(past))]
            if user not in self._visits:
                return user
        return self._new_user()

    def _past_add(self, user: str, group: str) -> None:
        past = self._past[group]
        if len(past) < 20000:
            past.append(user)
        else:
            past[self._rngs[group].randrange(20000)] = user

    def _random_viewer(self) -> str:
        """Anyone online (for anomalies, from their own stream)."""
        org, paid = self._crowds["organic"], self._crowds["paid"]
        n = len(org) + len(paid)
        if n == 0:
            return self._new_user()
        i = self._anom.randrange(n)
        return org.users[i] if i < len(org) else paid.users[i - len(org)]

    def _dwell(self, source: str, ts: float, rng: random.Random) -> float:
        if ts < self._storm_until and rng.random() < 0.9:
            return rng.uniform(0.2, 1.0)
        if rng.random() < SOURCE[source].bounce:
            return rng.uniform(0.3, 1.9)
        return max(2.5, rng.lognormvariate(math.log(DWELL_MEDIAN_S), DWELL_SIGMA))

    def _enter(self, ts: float, user: str, source: str, campaign: str | None, dwell: float | None) -> None:
        if user in self._visits:
            return
        rng = self._rngs[group_of(source)]
        leave = round(ts + (dwell if dwell is not None else self._dwell(source, ts, rng)), 3)
        visit = self._visits[user] = Visit(source, campaign, ts, leave)
        self._crowds[group_of(source)].add(user)
        group = group_of(source)
        self._now(ts, "enter", user=user, source=source, **self._audience.enter_fields(user, source, group))
        self._at(leave, self._leave, user, visit)
        if campaign is not None:
            self.campaigns[campaign].visitors += 1
        stay = leave - ts
        for at, type_, fields in self._audience.reactions(user, source, group, ts, stay):
            self._later(at, type_, **fields)
        if stay > 8:
            if rng.random() < SOURCE[source].follow:
                self._later(ts + rng.uniform(5, stay), "follow", user=user)
                self._audience.followed(user)
            if rng.random() < SHARE_P:
                self._later(ts + rng.uniform(5, stay), "share", user=user)

    def _leave(self, ts: float, user: str, visit: Visit) -> None:
        if self._visits.get(user) is not visit or visit.leave != ts:
            return   # a stale leave: the visit was cut short (viewer_drop) or is over
        del self._visits[user]
        group = group_of(visit.source)
        self._crowds[group].remove(user)
        self._now(ts, "leave", user=user)
        self._past_add(user, group)
        self._audience.left(user)

    # ---- products and orders -----------------------------------------------------------------------------

    def _product_on(self, ts: float) -> None:
        rng = self.rng
        skus = list(self.products)
        unseen = [s for s in skus if s not in self._shown]
        sku = rng.choice(unseen or [s for s in skus if s != self._last_on])
        p = self.products[sku]
        if p.stock <= 0:
            p.stock = rng.randint(300, 1000)   # restocked before it comes back
        flash = bool(self._shown) and rng.random() < self.config.flash_sale_share
        self._shown.add(sku)
        price = _retail(p.price * rng.uniform(0.5, 0.75)) if flash else p.price
        self._on, self._last_on, self._stage_price = sku, sku, price
        self._now(ts, "product_on", sku=sku, name=p.name, price=price, cost=p.cost, stock=p.stock)
        duration = rng.uniform(60, 150) if flash else rng.uniform(180, 420)
        if flash:
            self._flash_until = ts + min(60.0, duration)
            self.flash_sales.append({"sku": sku, "start": ts, "end": round(ts + duration, 3), "price": price,
                                     "list_price": p.price})
        self._schedule_off(ts + duration)
        if self._stockout_pending:
            self._stockout_pending = False
            self._at(ts + rng.uniform(15, 30), self._anomaly, "stockout")

    def _schedule_off(self, at: float) -> None:
        self._stage_token += 1
        self._stage_off_at = at
        self._at(at, self._product_off, self._stage_token)

    def _product_off(self, ts: float, token: int) -> None:
        if token != self._stage_token or self._on is None:
            return
        self._now(ts, "product_off", sku=self._on)
        self._on = None
        self._flash_until = 0.0
        self._at(ts + self.rng.uniform(3, 20), self._product_on)

    def _order(self, ts: float, user: str, sku: str, qty: int, price: float, campaign: str | None,
               pay_in: tuple | None) -> None:
        p = self.products[sku]
        if p.stock - p.reserved < qty:
            return
        self._orders += 1
        order_id = f"{self._prefix}o{self._orders}"
        amount = round(price * qty, 2)
        self._now(ts, "order", user=user, sku=sku, order_id=order_id, amount=amount, qty=qty)
        if pay_in is not None:
            p.reserved += qty
            self._at(ts + self._buyer_rng(campaign).uniform(*pay_in), self._pay, user, sku, qty, amount, order_id,
                     campaign)

    def _buyer_rng(self, campaign: str | None) -> random.Random:
        return self._rngs["organic" if campaign is None else "paid"]

    def _pay(self, ts: float, user: str, sku: str, qty: int, amount: float, order_id: str,
             campaign: str | None) -> None:
        rng = self._buyer_rng(campaign)
        p = self.products[sku]
        self._now(ts, "pay", user=user, sku=sku, order_id=order_id, amount=amount, qty=qty)
        p.reserved -= qty
        p.stock -= qty
        self._paid.append((ts, order_id, amount, user, sku))
        if campaign is not None:
            self.campaigns[campaign].gmv += amount
        if p.stock <= 0 < p.stock + qty:
            self._sold_out(ts, p)
        if rng.random() < self.config.refund_rate:
            self._at(ts + rng.uniform(120, 1800), self._refund, order_id, amount, user, sku)
        if rng.random() < 0.25:
            self._later(ts + rng.uniform(1, 10), "comment", user=user, text=rng.choice(AFTER_BUY_COMMENTS))

    def _sold_out(self, ts: float, p: Product) -> None:
        self._now(ts, "stock", sku=p.sku, stock=max(0, p.stock))
        if p.sku == self._on:
            # The streamer moves on a little later; until then the product is on stage with nothing to sell.
            off = ts + self.rng.uniform(30, 90)
            self._schedule_off(off)
            self.anomalies.append({"kind": "stockout", "start": ts, "end": round(off, 3), "sku": p.sku})

    def _refund(self, ts: float, order_id: str, amount: float, user: str, sku: str) -> None:
        if order_id in self._refunded:
            return
        self._refunded.add(order_id)
        self._now(ts, "refund", order_id=order_id, amount=amount, user=user, sku=sku)

    def _stock_sync(self, ts: float) -> None:
        rng = self.rng
        p = self.products[rng.choice(list(self.products))]
        if p.stock > 0 and rng.random() < 0.2:
            p.stock += rng.randint(100, 400)
        self._now(ts, "stock", sku=p.sku, stock=max(0, p.stock))
        self._at(ts + rng.uniform(120, 300), self._stock_sync)

    # ---- anomalies ---------------------------------------------------------------------------------------

    def _anomaly(self, ts: float, kind: str) -> None:
        if not self._live:
            return
        record = getattr(self, f"_a_{kind}")(ts)
        if record is not None:
            self.anomalies.append({"kind": kind, "start": ts, "end": round(record.pop("end"), 3), **record})
            if kind == "roi_crash":
                self._crash = self.anomalies[-1]

    def _a_bounce_storm(self, ts):
        self._storm_until = ts + 60
        return {"end": ts + 60}

    def _a_viewer_drop(self, ts):
        rng = self._anom
        share = rng.uniform(0.6, 0.8)
        for user in [u for crowd in self._crowds.values() for u in crowd.users]:
            if rng.random() < share:
                visit = self._visits[user]
                leave = round(ts + rng.uniform(0, 30), 3)
                if leave < visit.leave:
                    visit.leave = leave
                    self._at(leave, self._leave, user, visit)
        self._drop_until = ts + 60
        return {"end": ts + 30, "share": round(share, 3)}

    def _a_order_burst(self, ts):
        rng = self._anom
        user = self._new_user()
        self._enter(ts, user, "other", None, 90.0)
        sku = self._on or rng.choice(list(self.products))
        price = self._stage_price if sku == self._on else self.products[sku].price
        for _ in range(rng.randint(12, 30)):
            self._at(ts + rng.uniform(2, 55), self._order, user, sku, rng.randint(1, 3), price, None, (1, 3))
        return {"end": ts + 60, "user": user, "sku": sku}

    def _a_comment_flood(self, ts):
        rng = self._anom
        text = rng.choice(FLOOD_COMMENTS)
        for _ in range(rng.randint(60, 120)):
            self._later(ts + rng.uniform(0, 40), "comment", user=self._random_viewer(), text=text)
        return {"end": ts + 40, "text": text}

    def _a_banned_words(self, ts):
        rng = self._anom
        term = rng.choice(BANNED_TERMS)
        spammers = [self._new_user() for _ in range(rng.randint(1, 2))]
        for user in spammers:
            self._enter(ts, user, "other", None, 70.0)
        for _ in range(rng.randint(3, 6)):
            self._later(ts + rng.uniform(1, 59), "comment", user=rng.choice(spammers),
                        text=rng.choice(BANNED_TEMPLATES).format(t=term))
        return {"end": ts + 60, "term": term}

    def _a_stockout(self, ts):
        """Stock drops to a few units and a rush sells them; `_sold_out` records the anomaly."""
        if self._on is None:
            self._stockout_pending = True
            return None
        rng = self._anom
        p = self.products[self._on]
        p.stock = min(p.stock, p.reserved + rng.randint(2, 4))
        self._now(ts, "stock", sku=p.sku, stock=p.stock)
        for _ in range(p.stock - p.reserved + 3):
            self._at(ts + rng.uniform(3, 20), self._order, self._random_viewer(), p.sku, 1, self._stage_price,
                     None, (1, 4))
        if self._stage_off_at < ts + 60:
            self._schedule_off(ts + 60)
        return None

    def _a_refund_spike(self, ts):
        rng = self._anom
        unrefunded = [o for o in self._paid if o[1] not in self._refunded]
        recent = [o for o in unrefunded if o[0] > ts - 1200]
        pool = recent if len(recent) >= 5 else unrefunded
        if not pool:
            return None
        duration = rng.uniform(120, 240)
        picked = rng.sample(pool, max(min(len(pool), 5), int(len(pool) * rng.uniform(0.4, 0.6))))
        for _, order_id, amount, user, sku in picked:
            self._at(ts + rng.uniform(0, duration), self._refund, order_id, amount, user, sku)
        return {"end": ts + duration, "refunds": len(picked)}

    def _a_roi_crash(self, ts):
        self._crash_until = ts + self._anom.uniform(300, 600)
        # conversion is decided at the click: the orders a crash takes away stop coming only this much later.
        # orders_lost: the orders its paid clicks would have made, expected (the truth a perfect test reads)
        return {"end": self._crash_until, "shows_until": round(self._crash_until + ORDER_DELAY_S[1], 3),
                "orders_lost": 0.0}


def platform_of(room: str) -> str:
    prefix = room.split("-", 1)[0]
    return prefix if prefix in PLATFORM_PROFILES else "douyin"


def simulate_session(room: str, seed, duration_s: float, start_ts: float, **config) -> list[dict]:
    """A whole session's events, session_start ... session_end (platform from the room name: douyin-01)."""
    sim = SimRoom(room, platform_of(room), seed, start_ts, SimConfig(session_s=duration_s, **config))
    return sim.step(start_ts + duration_s)


# ---- the wall-clock runner -------------------------------------------------------------------------------

registry: dict[str, SimRoom] = {}   # the rooms `run` is driving in this process, by name
status = {"stored": 0, "failures": 0, "pending": 0}   # of run's sends; `pending` = events not yet stored
RUN_PLATFORMS = ("douyin", "kuaishou", "taobao")
STEP_S = 0.25
TRUTH_EVERY_S = 2.0
RESUME_VERSION = 1        # bump when SimRoom's shape changes: older resume records are then not resumed
CATCHUP_SLICE_S = 30.0    # event time a room steps at most per batch while catching up with an outage
CLOSE_SCAN = 200_000      # log entries read back at most to find the running session of a room without record


def room_controls(room: str) -> SimRoom | None:
    """The live SimRoom of that name (set_budget, get_budget, set_roi_target, pause, resume, truth)."""
    return registry.get(room)


def room_names(n: int) -> list[tuple[str, str]]:
    return [(f"{RUN_PLATFORMS[i % 3]}-{i + 1:02d}", RUN_PLATFORMS[i % 3]) for i in range(n)]


def send_control(client, room: str, action: str, campaign: str, value: float | None = None) -> None:
    """Ask the simulator process to change a campaign (action: set_budget, set_roi_target, pause, resume)."""
    if action not in CONTROL_ACTIONS:
        raise ValueError(f"unknown control {action!r}; one of {', '.join(CONTROL_ACTIONS)}")
    fields = {"room": room, "action": action, "campaign": campaign}
    if value is not None:
        fields["value"] = repr(float(value))
    client.xadd(keys.SIM_CONTROLS, fields, maxlen=10000, approximate=True)


def read_truth(client, room: str) -> dict | None:
    """The truth() of a room as the simulator process last published it."""
    raw = client.hget(keys.SIM_TRUTH, room)
    return None if raw is None else orjson.loads(raw)


def apply_control(fields: dict) -> bool:
    sim = registry.get(fields.get("room", ""))
    action = fields.get("action")
    if sim is None or action not in CONTROL_ACTIONS:
        return False
    campaign = fields.get("campaign", "")
    if action in ("pause", "resume"):
        getattr(sim, action)(campaign)
    else:
        getattr(sim, action)(campaign, float(fields["value"]))
    return True


class _Link:
    """The runner's side channel through Redis: controls in (keys.SIM_CONTROLS, from the moment the runner
    started, or for resumed rooms from the last command their records had seen), truth out (keys.SIM_TRUTH)."""

    def __init__(self, client, last=None):
        self.client = client
        self.last = last   # a resumed run goes on after the last command its rooms' records had seen

    def poll(self) -> bool:
        """Apply the commands that came since the last poll; True if any changed a room."""
        changed = False
        try:
            if self.last is None:
                newest = self.client.xrevrange(keys.SIM_CONTROLS, count=1)
                self.last = newest[0][0] if newest else b"0-0"
            for _, entries in self.client.xread({keys.SIM_CONTROLS: self.last}, count=100) or []:
                for entry_id, raw in entries:
                    self.last = entry_id
                    fields = {k.decode(): v.decode() for k, v in raw.items()}
                    try:
                        changed = apply_control(fields) or changed
                    except (ValueError, KeyError) as e:
                        log.warning("bad control %s: %s", fields, e)
        except (redis.ConnectionError, redis.TimeoutError) as e:
            log.warning("cannot read controls: %s", e)
        return changed

    def publish_truth(self) -> None:
        try:
            self.client.hset(keys.SIM_TRUTH, mapping={name: orjson.dumps(sim.truth()) for name, sim in registry.items()})
        except (redis.ConnectionError, redis.TimeoutError) as e:
            log.warning("cannot publish truth: %s", e)


def _redis_sender(client, stop_event: threading.Event):
    def send(events: list[dict]) -> bool:
        delay = 0.1
        while True:
            try:
                ingest_sync(client, events)
                return True
            except (redis.ConnectionError, redis.TimeoutError) as e:
                # Retrying the same batch is safe: ids are idempotency keys.
                status["failures"] += 1
                log.warning("redis unavailable (%s); retrying %d events", e, len(events))
                if stop_event.wait(delay):
                    return False
                delay = min(delay * 2, 2.0)
    return send


def _http_sender(url: str, token: str | None, stop_event: threading.Event, token_file: str | None = None):
    from feeds.publisher import Publisher, PublishError
    pub = Publisher(url, token=token, token_file=token_file, retry_for_s=10.0)

    def send(events: list[dict]) -> bool:
        pub.send_many(events)
        while True:
            try:
                pub.flush()
                return True
            except PublishError as e:
                if e.status is not None:
                    raise   # refused (a wrong token): no point in going on
                status["failures"] += 1
                log.warning("%s", e)
                if stop_event.wait(1.0):
                    return False
    return send


def run_with(send, rooms: int, stop_event: threading.Event, speed: float = 1.0, seed=None, control_client=None,
             preroll_s: float = 0.0, first_end_s: tuple[float, float] | None = None, **config) -> None:
    """Step `rooms` rooms to the wall clock (times `speed`) every STEP_S and hand their events to send(),
    which returns whether they were stored.

    With `control_client` (a Redis client), rooms resume: each keeps a resume record there (its whole
    SimRoom, saved only once what it returned is stored), and a restart continues every room's session from
    it, catching up with the outage in event time. A room that cannot (no usable record, or an outage longer
    than RESUME_MAX_GAP_S) has its running session ended at its last event and a new one started now; with
    preroll_s, a room with no events at all begins with a session already running for up to that long,
    staggered across rooms, so that the screens start with sessions in full swing at different stages.
    With first_end_s = (a, b), a fresh room's first session ends a to b seconds of wall time after the start,
    staggered across rooms, so that a newcomer has ended sessions to review within minutes."""
    base = seed if seed is not None else random.SystemRandom().randrange(2 ** 31)
    cfg = replace(SimConfig(session_jitter=0.15), **config)
    t0 = time.time()
    clock = _read_clock(control_client) if control_client is not None else None
    # event time continues where the previous run left it, at this run's speed
    e0 = max(t0, clock["event"] + (t0 - clock["wall"]) * speed) if clock else t0
    sims, opening = [], []
    for i, (name, platform) in enumerate(room_names(rooms)):
        fresh = e0 - preroll_s * (rooms - i) / rooms
        room_cfg = cfg
        if first_end_s:
            a, b = first_end_s
            wall = a + (b - a) * i / max(1, rooms - 1)
            first = e0 - fresh + wall * speed
            room_cfg = replace(cfg, first_session_s=first) if first < cfg.session_s else cfg
        sim, events = _open_room(control_client, name, platform, f"{base}-{i}", room_cfg, fresh, e0)
        sims.append(sim)
        opening += events
    if opening and not send(opening):
        return
    registry.update({s.room: s for s in sims})
    controls = _Link(control_client, clock and clock.get("controls")) if control_client is not None else None
    next_truth = next_save = 0.0
    try:
        while not stop_event.is_set():
            started = time.monotonic()
            changed = controls is not None and controls.poll()
            now = e0 + (time.time() - t0) * speed
            # an outage is caught up in slices, so that no one batch is huge
            batch = [ev for s in sims for ev in s.step(min(now, s.clock + CATCHUP_SLICE_S))]
            if batch:
                status["pending"] = len(batch)
                if not send(batch):
                    break   # stopping: what was not stored is not in the resume record either
                status["stored"] += len(batch)
                status["pending"] = 0
            if control_client is not None and (changed or started >= next_save):
                _save(control_client, sims, controls.last)
                next_save = started + RESUME_EVERY_S
            if controls is not None and started >= next_truth:
                controls.publish_truth()
                next_truth = started + TRUTH_EVERY_S
            behind = any(s.clock < now for s in sims)
            stop_event.wait(0.0 if behind else max(0.0, STEP_S - (time.monotonic() - started)))
        else:
            if control_client is not None:
                _save(control_client, sims, controls.last)
    finally:
        for s in sims:
            registry.pop(s.room, None)


# ---- resuming after a restart ------------------------------------------------------------------------------

def _open_room(client, name: str, platform: str, seed, cfg: SimConfig, fresh_ts: float, now: float):
    """The room's SimRoom for this run, and the events that must be stored before it steps."""
    if client is None:
        return SimRoom(name, platform, seed, fresh_ts, cfg), []
    sim = _load(client, name)
    if sim is not None:
        if now - sim.clock <= RESUME_MAX_GAP_S:
            log.info("%s resumes its session from %.0f s ago", name, now - sim.clock)
            return sim, []
        log.info("%s was stopped %.0f s ago: its session ends there and a new one starts", name, now - sim.clock)
        return sim, sim.restart_at(now)
    if not client.xlen(keys.events(name)):   # a fresh room (a consumer group may have made its stream empty)
        return SimRoom(name, platform, seed, fresh_ts, cfg), []
    # events but no usable record: end what the log says is running, start afresh from now (or from the log's
    # end, if an earlier run's speed took event time past the wall clock)
    events, last_ts = _close_log(client, name)
    return SimRoom(name, platform, seed, max(now, last_ts), cfg), events


def _load(client, room: str) -> SimRoom | None:
    blob = client.get(keys.sim_resume(room))
    if not blob:
        return None
    try:
        version, sim = pickle.loads(zlib.decompress(blob))
    except Exception as e:  # noqa: BLE001 - an unreadable record only means the room cannot resume
        log.warning("%s: resume record unreadable (%s)", room, e)
        return None
    return sim if version == RESUME_VERSION else None


def _save(client, sims: list[SimRoom], controls_last) -> None:
    """Every room's resume record, and where event time and the control stream stood. Called only when
    every event the rooms returned is stored: a record is never ahead of the log. A record behind it (a
    crash between saves) replays its rooms' same events with the same ids, which are duplicates."""
    try:
        pipe = client.pipeline(transaction=False)
        for sim in sims:
            with sim._lock:
                blob = pickle.dumps((RESUME_VERSION, sim), protocol=pickle.HIGHEST_PROTOCOL)
            pipe.set(keys.sim_resume(sim.room), zlib.compress(blob, 1))
        last = controls_last.decode() if isinstance(controls_last, bytes) else controls_last
        pipe.set(keys.SIM_CLOCK, orjson.dumps({"wall": time.time(), "event": max(s.clock for s in sims),
                                               "controls": last}))
        pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError) as e:
        log.warning("cannot save resume records: %s", e)


def _read_clock(client) -> dict | None:
    raw = client.get(keys.SIM_CLOCK)
    return orjson.loads(raw) if raw else None


def _close_log(client, room: str) -> tuple[list[dict], float]:
    """The events that end the session the room's log has running (none if its latest session ended):
    product_off for what is on stage, then session_end, at the log's last event time; and that time. The
    log's tail is read back to the latest session boundary, at most CLOSE_SCAN entries."""
    last_ts, on, off, end = None, [], set(), None
    top = "+"
    scanned = 0
    while scanned < CLOSE_SCAN and end is None:
        chunk = client.xrevrange(keys.events(room), max=top, count=1000)
        for entry_id, fields in chunk:
            ev = orjson.loads(fields[b"e"])
            last_ts = ev["ts"] if last_ts is None else max(last_ts, ev["ts"])
            t = ev["type"]
            if t in ("session_start", "session_end"):
                end = t
                break
            if t == "product_off":
                off.add(ev["sku"])
            elif t == "product_on" and ev["sku"] not in off and ev["sku"] not in on:
                on.append(ev["sku"])
        scanned += len(chunk)
        if len(chunk) < 1000:
            break
        top = b"(" + chunk[-1][0]
    if last_ts is None:
        return [], float("-inf")
    if end == "session_end":
        return [], last_ts
    tag = f"{room}-close-{int(last_ts * 1000)}"
    out = [{"id": f"{tag}-off-{sku}", "room": room, "ts": last_ts, "type": "product_off", "sku": sku} for sku in on]
    log.info("%s: no resume record; its running session ends at its last event", room)
    return out + [{"id": f"{tag}-end", "room": room, "ts": last_ts, "type": "session_end"}], last_ts


def run(redis_url: str, rooms: int, stop_event: threading.Event, speed: float = 1.0, seed=None,
        preroll_s: float = 0.0, first_end_s: tuple[float, float] | None = None, **config) -> None:
    """The app's feed: `rooms` simulated rooms stored straight into Redis until stop_event is set."""
    from store.connect import sync_client
    client = sync_client(redis_url)
    # Fail fast and let the loop retry: it keeps the batch, logs the outage and can still be stopped.
    client.set_retry(Retry(ExponentialBackoff(cap=0.2, base=0.05), 2))
    try:
        run_with(_redis_sender(client, stop_event), rooms, stop_event, speed, seed, control_client=client,
                 preroll_s=preroll_s, first_end_s=first_end_s, **config)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> None:
    p = parser("python -m feeds.simulator", "simulated live rooms",
               redis_help="store events in this Redis (and take ad controls from it)")
    p.add_argument("--url", help="send events to this livewall over HTTP instead, e.g. http://127.0.0.1:8050")
    add_sender_token_options(p)   # the ingest token for --url
    p.add_argument("--rooms", type=int, default=4)
    p.add_argument("--speed", type=float, default=1.0, help="event time per wall-clock second")
    p.add_argument("--seed", type=int)
    p.add_argument("--session-minutes", type=float, default=120.0)
    p.add_argument("--preroll-minutes", type=float, default=10.0,
                   help="rooms with no events yet start with sessions already running for up to this long, "
                        "staggered across rooms (a restarted room continues its session instead)")
    p.add_argument("--first-session-minutes", default=SIM_FIRST_SESSION_MINUTES,
                   help="A,B: fresh rooms' first sessions end A to B minutes (wall clock) after the start, staggered "
                        "across rooms, so that there are reviews to open at once; 0 for full-length first sessions")
    a = p.parse_args(argv)
    first_end_s = _minutes_span(p, a.first_session_minutes)
    if not a.redis_url and not a.url:
        p.error(f"give --redis-url (or {REDIS_URL_ENV}) or --url")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)   # a line per request would drown the log
    from store.parts import stop_on_signals
    stop = stop_on_signals()
    config = {"session_s": a.session_minutes * 60, "preroll_s": a.preroll_minutes * 60, "first_end_s": first_end_s}
    log.info("simulating %d rooms at speed %g", a.rooms, a.speed)
    if a.url:
        from store.connect import sync_client
        control = sync_client(a.redis_url) if a.redis_url else None
        if control is None and config["preroll_s"]:
            # without the store, whether a room has sessions already cannot be known: never backdate into one
            log.info("no --redis-url: rooms start now, without preroll, and cannot resume")
            config["preroll_s"] = 0.0
        run_with(_http_sender(a.url, a.token, stop, a.token_file), a.rooms, stop, a.speed, a.seed,
                 control_client=control, **config)
    else:
        run(a.redis_url, a.rooms, stop, a.speed, a.seed, **config)


def _minutes_span(p, raw: str) -> tuple[float, float] | None:
    try:
        parts = [float(x) for x in raw.split(",")]
    except ValueError:
        parts = []
    if parts == [0.0]:
        return None
    if len(parts) != 2 or not 0 < parts[0] <= parts[1]:
        p.error("--first-session-minutes takes A,B with 0 < A <= B (or 0)")
    return parts[0] * 60, parts[1] * 60


if __name__ == "__main__":
    main()
