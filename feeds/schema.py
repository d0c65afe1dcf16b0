"""The event format of CONTRACT section 1: one msgspec definition, used by every entry point.

`judge(obj)` takes one decoded JSON value and returns the event to store (the original object, extra
fields kept, money rounded half-even to the cent) or raises `Invalid` with the reason.
"""
from __future__ import annotations

import json
import math
import re
import time
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Literal, Union

import msgspec
import orjson
from msgspec import UNSET, Meta, Struct, UnsetType

from feeds.jsonscan import deeper_than

MAX_EVENT_BYTES = 8 * 1024
MAX_NESTING = 16              # levels of objects and arrays in one event, the event object itself being 1
TEN_YEARS_S = 10 * 365.25 * 86400
SOURCES = ("recommend", "paid", "short_video", "follow", "search", "other")
PLATFORMS = ("douyin", "kuaishou", "taobao", "wechat", "xiaohongshu", "other")

Key = Annotated[str, Meta(min_length=1, max_length=128)]
ROOM_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}\Z"
ROOM_RE = re.compile(ROOM_PATTERN)   # for room names in paths and query strings
Room = Annotated[str, Meta(pattern=ROOM_PATTERN)]
# The limits of CONTRACT section 1, checked on the values as sent (before money is rounded): no single event
# can then overflow a sum, a float or a conversion anywhere downstream.
Money = Annotated[float, Meta(ge=0, le=100_000_000)]
Qty = Annotated[int, Meta(ge=1, le=100_000)]
Likes = Annotated[int, Meta(ge=1, le=1_000_000)]
StockCount = Annotated[int, Meta(ge=0, le=1_000_000_000)]
AdCount = Annotated[int, Meta(ge=0, le=10 ** 12)]
Source = Literal["recommend", "paid", "short_video", "follow", "search", "other"]
Platform = Literal["douyin", "kuaishou", "taobao", "wechat", "xiaohongshu", "other"]

# The audience and channel extension (README, "Audience and channels"): optional fields, each a fixed list.
# A traffic sub-channel belongs to one `source` group, so the contract's six-source figures never change.
CHANNELS = {
    "feed": "recommend", "nearby": "recommend", "plaza": "recommend",
    "short_video": "short_video",
    "qianchuan_pc": "paid", "suixintui": "paid", "brand_ad": "paid",
    "search": "search", "follow": "follow",
    "profile": "other", "other": "other",
}
Channel = Literal["feed", "nearby", "plaza", "short_video", "qianchuan_pc", "suixintui", "brand_ad", "search",
                  "follow", "profile", "other"]
VISIT_KINDS = ("first", "returning", "unknown")
GENDERS = ("f", "m", "unknown")
AGE_BANDS = ("18-23", "24-30", "31-40", "41-50", "50+", "unknown")
CITY_TIERS = ("1", "new1", "2", "3", "4", "5", "unknown")   # 一线, 新一线, 二线 … 五线, as 罗盘 groups cities
Visit = Literal["first", "returning", "unknown"]
Gender = Literal["f", "m", "unknown"]
AgeBand = Literal["18-23", "24-30", "31-40", "41-50", "50+", "unknown"]
CityTier = Literal["1", "new1", "2", "3", "4", "5", "unknown"]


class Invalid(ValueError):
    pass


class _Event(Struct, tag_field="type", kw_only=True):
    id: Key
    room: Room
    ts: float
    platform: Union[Platform, UnsetType] = UNSET


class SessionStart(_Event, tag="session_start", kw_only=True):
    title: Union[str, UnsetType] = UNSET
    streamer: Union[str, UnsetType] = UNSET
    target_roi: Union[Annotated[float, Meta(gt=0)], UnsetType] = UNSET


class SessionEnd(_Event, tag="session_end", kw_only=True):
    pass


class Impression(_Event, tag="impression", kw_only=True):
    user: Key
    source: Union[Source, UnsetType] = UNSET
    channel: Union[Channel, UnsetType] = UNSET


class Enter(_Event, tag="enter", kw_only=True):
    user: Key
    source: Union[Source, UnsetType] = UNSET
    channel: Union[Channel, UnsetType] = UNSET
    fan: Union[bool, UnsetType] = UNSET
    visit: Union[Visit, UnsetType] = UNSET
    gender: Union[Gender, UnsetType] = UNSET
    age: Union[AgeBand, UnsetType] = UNSET
    city_tier: Union[CityTier, UnsetType] = UNSET


class Leave(_Event, tag="leave", kw_only=True):
    user: Key


class ProductOn(_Event, tag="product_on", kw_only=True):
    sku: Key
    name: Union[str, UnsetType] = UNSET
    price: Union[Money, UnsetType] = UNSET
    cost: Union[Money, UnsetType] = UNSET
    stock: Union[StockCount, UnsetType] = UNSET


class ProductOff(_Event, tag="product_off", kw_only=True):
    sku: Key


class ProductView(_Event, tag="product_view", kw_only=True):
    user: Key
    sku: Key


class ProductClick(_Event, tag="product_click", kw_only=True):
    user: Key
    sku: Key


class CartAdd(_Event, tag="cart_add", kw_only=True):
    user: Key
    sku: Key
    qty: Union[Qty, UnsetType] = UNSET


class Order(_Event, tag="order", kw_only=True):
    user: Key
    sku: Key
    order_id: Key
    amount: Money
    qty: Union[Qty, UnsetType] = UNSET


class Pay(_Event, tag="pay", kw_only=True):
    user: Key
    sku: Key
    order_id: Key
    amount: Money
    qty: Union[Qty, UnsetType] = UNSET


class Refund(_Event, tag="refund", kw_only=True):
    order_id: Key
    amount: Money
    user: Union[Key, UnsetType] = UNSET
    sku: Union[Key, UnsetType] = UNSET


class Comment(_Event, tag="comment", kw_only=True):
    user: Key
    text: Annotated[str, Meta(max_length=500)]


class Like(_Event, tag="like", kw_only=True):
    user: Key
    count: Union[Likes, UnsetType] = UNSET


class Follow(_Event, tag="follow", kw_only=True):
    user: Key


class Share(_Event, tag="share", kw_only=True):
    user: Key


class FanClubJoin(_Event, tag="fan_club_join", kw_only=True):
    user: Key


class NegativeFeedback(_Event, tag="negative_feedback", kw_only=True):
    user: Key
    reason: Union[Annotated[str, Meta(max_length=500)], UnsetType] = UNSET


class AdSpend(_Event, tag="ad_spend", kw_only=True):
    campaign: Key
    amount: Money
    impressions: Union[AdCount, UnsetType] = UNSET
    clicks: Union[AdCount, UnsetType] = UNSET


class Stock(_Event, tag="stock", kw_only=True):
    sku: Key
    stock: StockCount


Event = Union[SessionStart, SessionEnd, Impression, Enter, Leave, ProductOn, ProductOff, ProductView,
              ProductClick, CartAdd, Order, Pay, Refund, Comment, Like, Follow, Share, AdSpend, Stock, FanClubJoin,
              NegativeFeedback]
TYPES = tuple(cls.__struct_config__.tag for cls in Event.__args__)
_MONEY_FIELDS = ("amount", "price", "cost")
_FINITE_FIELDS = ("ts", *_MONEY_FIELDS, "target_roi")
_CENT = Decimal("0.01")


def round_money(x: float) -> float:
    """Half-even to the cent, on the decimal value as written (2.675 -> 2.68), as CONTRACT section 1 asks."""
    return float(Decimal(repr(x)).quantize(_CENT, rounding=ROUND_HALF_EVEN))


_decode = msgspec.json.Decoder(Event).decode


class Malformed(Invalid):
    """The text is not JSON at all (or not UTF-8): a JSON-array body holding it is not JSON either."""


def judge_raw(raw: bytes, now: float | None = None) -> tuple[str, str, bytes]:
    """Validate one event given as JSON text: (id, room, the JSON to store), or raise Invalid.

    The fast path: msgspec decodes straight into the typed struct; the original text is stored as it came
    (extra fields kept) unless money needs rounding.
    """
    raw = bytes(raw)   # a slice of the body, or bytes already
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Malformed(f"not valid UTF-8 (byte {e.start})") from None
    # before any parser: they recurse per level, and an extra field is parsed even though it is ignored
    if deeper_than(raw, MAX_NESTING):
        raise Invalid(f"nested deeper than {MAX_NESTING} levels of objects and arrays")
    try:
        ev = _decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        if isinstance(e, msgspec.ValidationError) and not str(e).startswith("Number out of range"):
            raise Invalid(str(e)) from None
        # NaN, 1e999 and friends: let the tolerant parser read it, so the reason names the field
        try:
            obj = json.loads(raw)
        except ValueError as e:
            raise Malformed(f"malformed JSON: {e}") from None
        return judge(obj, now)
    fixes = _check(ev, now)
    # msgspec skips the fields it does not know without reading them; the engine's parser must read them all
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise Invalid(f"unreadable value in an extra field: {e}") from None
    if fixes or len(raw) > MAX_EVENT_BYTES:
        obj.update(fixes)
        raw = orjson.dumps(obj)
        if len(raw) > MAX_EVENT_BYTES:
            raise Invalid("event larger than 8 KiB (compact UTF-8 JSON)")
    return ev.id, ev.room, raw


def judge(obj, now: float | None = None) -> tuple[str, str, bytes]:
    """Validate one already-decoded event (it may hold NaN or infinities, which JSON text cannot)."""
    if not isinstance(obj, dict):
        raise Invalid("an event must be a JSON object")
    for f in _FINITE_FIELDS:   # said before a limit could say "must be <= 100000000" of an infinity
        v = obj.get(f)
        if isinstance(v, float) and not math.isfinite(v):
            raise Invalid(f"`{f}` must be a finite number - at `$.{f}`")
    try:
        ev = msgspec.convert(obj, Event)
    except msgspec.ValidationError as e:
        raise Invalid(str(e)) from None
    fixes = _check(ev, now)
    try:
        raw = orjson.dumps({**obj, **fixes})
    except orjson.JSONEncodeError as e:   # an integer beyond 64 bits, a lone surrogate
        raise Invalid(f"unstorable value in an extra field: {e}") from None
    if len(raw) > MAX_EVENT_BYTES:
        raise Invalid("event larger than 8 KiB (compact UTF-8 JSON)")
    return ev.id, ev.room, raw


def admissible(raw: bytes) -> dict:
    """A stored event as the engine may apply it, or Invalid: the types and limits of today's judge, without
    the 10-year window (a replay may be older). Events stored before a limit existed fail here, not in a sum."""
    if not raw:
        raise Invalid("an empty entry")
    try:
        _decode(raw)
        obj = orjson.loads(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, orjson.JSONDecodeError, UnicodeDecodeError,
            RecursionError) as e:
        raise Invalid(f"{type(e).__name__}: {e}") from None
    # JSON text holds no NaN or infinity (msgspec refuses 1e999), so the types and their limits say it all
    return obj


def _check(ev, now: float | None) -> dict:
    """What msgspec's types cannot say: finiteness, the 10-year window; returns money fields to round."""
    if not math.isfinite(ev.ts):
        raise Invalid("`ts` must be a finite number - at `$.ts`")
    if abs(ev.ts - (time.time() if now is None else now)) > TEN_YEARS_S:
        raise Invalid("`ts` must be within 10 years of now - at `$.ts`")
    fixes = {}
    for f in _MONEY_FIELDS:
        v = getattr(ev, f, UNSET)
        if v is UNSET:
            continue
        if not math.isfinite(v):
            raise Invalid(f"`{f}` must be a finite number - at `$.{f}`")
        if round(v, 2) != v:  # already a whole number of cents needs no decimal arithmetic
            try:
                fixes[f] = round_money(v)
            except InvalidOperation:
                raise Invalid(f"`{f}` is too large - at `$.{f}`") from None
    channel = getattr(ev, "channel", UNSET)
    if channel is not UNSET:
        # the source an old reader sees (absent = other) must be the channel's group, or the two disagree
        source = getattr(ev, "source", UNSET)
        group = CHANNELS[channel]
        if (source if source is not UNSET else "other") != group:
            raise Invalid(f"`channel` {channel} belongs to source {group}; send `source`: \"{group}\" - at `$.channel`")
    target = getattr(ev, "target_roi", UNSET)
    if target is not UNSET and not math.isfinite(target):
        raise Invalid("`target_roi` must be a finite number - at `$.target_roi`")
    return fixes
