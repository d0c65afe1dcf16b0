"""The metric definitions of CONTRACT section 2, kept incrementally for one live session.

Events may arrive in any order. Everything that depends on order (visits, watch time, bounces, traffic-source
credit, stock, stage time, the latest product fields) is derived per user or per product from that user's
or product's own events kept sorted by (ts, arrival), so a late event — however late — gives exactly the
in-order result. Only `peak_online` looks across users through time: it is exact for events up to
PEAK_HORIZON_S behind `as_of` and approximate beyond, as the contract allows.

Money is kept in integer cents; ratios are computed only when a snapshot is asked for.
"""
from __future__ import annotations

import bisect
import struct

from feeds.schema import AGE_BANDS, CHANNELS, CITY_TIERS, GENDERS, SOURCES, VISIT_KINDS

PEAK_HORIZON_S = 60.0      # late-event horizon of CONTRACT section 2
WINDOWS = (60, 300)        # seconds of event time for the windowed figures
BOUNCE_S = 2.0             # a visit that closes within this bounced
_WINDOW_KEEP_S = 300 + PEAK_HORIZON_S + 60

SRC = {s: i for i, s in enumerate(SOURCES)}
OTHER = SRC["other"]
FUNNEL = ("impressed", "entered", "product_viewers", "product_clickers", "orderers", "buyers")
_STAGE_BIT = {"impression": 1, "enter": 2, "product_view": 4, "product_click": 8, "order": 16, "pay": 32}
# more per-user bits beside the funnel stages, counted the same way (distinct users)
INTERACTED, FOLLOWED, JOINED, NEGATIVE = 64, 128, 256, 512
_ENTERED, _PAID = _STAGE_BIT["enter"], _STAGE_BIT["pay"]
_ENTER, _LEAVE = 1, 0
INF = float("inf")
_MOVE = struct.Struct("<ddH")  # (ts, key, code) of one enter/leave; packed, a visit costs 36 bytes, not ~150
_MV = _MOVE.size

# The audience extension: an enter's attributes and channel packed in the move's 16-bit `code`, 0 = absent.
# Each attribute's value list ends with "unknown", where users without the attribute are counted.
AUDIENCE = (("fan", ("true", "false", "unknown"), 0, 3), ("visit", VISIT_KINDS, 2, 3),
            ("gender", GENDERS, 4, 3), ("age", AGE_BANDS, 6, 7), ("city_tier", CITY_TIERS, 9, 7))
_AUD_INDEX = {name: {v: i + 1 for i, v in enumerate(vals)} for name, vals, _s, _m in AUDIENCE[1:]}
_ATTR_BITS = 0xFFF
_CHAN_SHIFT = 12
CHANNEL_KEYS = ("none", *CHANNELS)   # index 0: a visit whose enter named no channel
CHAN = {c: i for i, c in enumerate(CHANNEL_KEYS)}
NCHAN = len(CHANNEL_KEYS)
_RETURNING_FAN = 1 | (VISIT_KINDS.index("returning") + 1) << 2
_RETURNING_FAN_MASK = 3 | 3 << 2


# field -> {value: its bits in the code}
_CODE_BITS = (("fan", {True: 1, False: 2}),
              *((name, {v: i << shift for v, i in _AUD_INDEX[name].items()}) for name, _v, shift, _m in AUDIENCE[1:]),
              ("channel", {c: i << _CHAN_SHIFT for c, i in CHAN.items() if i}))


def enter_code(ev: dict) -> int:
    code = 0
    for name, bits in _CODE_BITS:
        v = ev.get(name)
        if v is not None:
            code |= bits.get(v, 0)
    return code


def _merge(a: int, code: int) -> int:
    for _name, _vals, shift, mask in AUDIENCE:
        f = code & (mask << shift)
        if f:
            a = (a & ~(mask << shift)) | f
    return a


# an enter carrying every attribute decides them all, whatever came before: the common case, made one lookup
_FULL = [_merge(0, c) == c and all(c >> s & m for _n, _v, s, m in AUDIENCE) for c in range(_ATTR_BITS + 1)]


def attrs_of(moves: bytes) -> int:
    """The user's attributes: per attribute, the value of their latest enter (in (ts, seq) order) carrying it."""
    a = 0
    for _ts, _k, code in _MOVE.iter_unpack(moves):
        code &= _ATTR_BITS
        if code:
            a = code if _FULL[code] else _merge(a, code)
    return a


def minute_of(ts: float) -> int:
    return int(ts // 60) * 60


def ratio(num, den):
    return None if not den else num / den


def cents(amount: float) -> int:
    return round(amount * 100)


# One viewer in one session is one packed record, because viewers are what a room has most of:
#   head (stages reached: a bit per funnel stage and per interaction kind, and the number of moves), then
#   the enter/leave moves as (ts, key, code) in (ts, seq) order with key = seq * 16 + kind * 8 + source and
#   code the enter's attributes and channel, then a (product index, flags) entry per product the viewer
#   viewed, clicked, carted or bought.
_HEAD = struct.Struct("<HI")
_PROD = struct.Struct("<IB")
_NEW_USER = _HEAD.pack(0, 0)
VIEWED, CLICKED, CARTED, BOUGHT = 1, 2, 4, 8


def _split(rec: bytes) -> tuple[int, bytes, bytes]:
    stages, n = _HEAD.unpack_from(rec)
    end = _HEAD.size + _MV * n
    return stages, rec[_HEAD.size:end], rec[end:]


def _join(stages: int, moves: bytes, prods: bytes) -> bytes:
    return _HEAD.pack(stages, len(moves) // _MV) + moves + prods


def visits_of(moves: bytes) -> list[tuple]:
    """The user's visits as (open_ts, open_key, close_ts or None, source, channel), from moves in (ts, seq)
    order."""
    out = []
    inside = None
    for ts, k, code in _MOVE.iter_unpack(moves):
        key = int(k)
        if (key >> 3) & 1 == _ENTER:
            if inside is None:
                inside = (ts, key, key & 7, code >> _CHAN_SHIFT)
        elif inside is not None:
            out.append((inside[0], inside[1], ts, inside[2], inside[3]))
            inside = None
    if inside is not None:
        out.append((inside[0], inside[1], None, inside[2], inside[3]))
    return out


def credit_of(visits: list[tuple], pays: list | None) -> list[tuple]:
    """(source, channel, cents, ts) per pay: the payer's visit with the latest opening ts <= the pay's ts,
    else source `other` and no channel."""
    if not pays:
        return []
    out = []
    for ts, _seq, amount in pays:
        src, ch = OTHER, 0
        for v in visits:  # sorted by opening; the last that opened at or before the pay wins (ties: later)
            if v[0] <= ts:
                src, ch = v[3], v[4]
            else:
                break
        out.append((src, ch, amount, ts))
    return out


class Product:
    __slots__ = ("sku", "index", "fields", "stock_set", "stage_moves", "viewers", "clickers", "cart_adders",
                 "buyers", "units", "gmv", "pays", "sold", "orders", "paid_orders")

    def __init__(self, sku: str, index: int):
        self.sku = sku
        self.index = index
        self.fields: dict = {}          # name/price/cost -> ((ts, seq), value) of the latest product_on carrying it
        self.stock_set = None           # ((ts, seq), stock) of the latest stock-setting event
        self.stage_moves: list = []     # sorted [(ts, seq, on)]
        self.viewers = 0                # distinct users, counted from the flags in their records
        self.clickers = 0
        self.cart_adders = 0
        self.buyers = 0
        self.units = 0
        self.gmv = 0
        # sorted [(ts, seq, qty)]: every pay until a stock is set, then only those after it (a later
        # stock-setting event can only need fewer); `sold` is their total, so stock costs no scan
        self.pays: list = []
        self.sold = 0
        self.orders: set = set()        # order ids created / paid, for unmet demand (not contract fields)
        self.paid_orders: set = set()

    def stage(self, as_of: float) -> tuple[bool, float]:
        on_since, total = None, 0.0
        for ts, _seq, on in self.stage_moves:
            if on and on_since is None:
                on_since = ts
            elif not on and on_since is not None:
                total += ts - on_since
                on_since = None
        if on_since is not None:
            total += as_of - on_since
        return on_since is not None, total

    def stock(self):
        if self.stock_set is None:
            return None
        return self.stock_set[1] - self.sold

    def add_pay(self, ts: float, seq: int, qty: int) -> None:
        if self.stock_set is None or (ts, seq) > self.stock_set[0]:
            bisect.insort(self.pays, (ts, seq, qty))
            self.sold += qty

    def row(self, as_of: float) -> dict:
        on, secs = self.stage(as_of)
        f = self.fields
        return {
            "sku": self.sku,
            "name": f["name"][1] if "name" in f else None,
            "price": f["price"][1] if "price" in f else None,
            "cost": f["cost"][1] if "cost" in f else None,
            "stock": self.stock(),
            "on_stage": on,
            "stage_seconds": secs,
            "viewers": self.viewers,
            "clickers": self.clickers,
            "cart_adders": self.cart_adders,
            "buyers": self.buyers,
            "units": self.units,
            "gmv": self.gmv / 100,
            "ctr": ratio(self.clickers, self.viewers),
            "cvr": ratio(self.buyers, self.clickers),
            "orders": len(self.orders),
            "paid_orders": len(self.paid_orders),
        }


class Session:
    """All metric state of one session of one room."""

    def __init__(self, session_id: str, started: float, start_seq: int, info: dict | None = None):
        self.id = session_id
        self.started = started            # ts of its session_start (or of its first event)
        self.start_seq = start_seq
        self.ended: float | None = None
        self.end_seq: int | None = None
        self.info = dict(info or {})      # title, streamer, target_roi
        self.first_ts = started
        self.as_of = started
        self.epoch = float(int(started))  # origin for sums of timestamps, to keep them well-conditioned

        self.users: dict[str, bytes] = {}
        self.user_pays: dict[str, list] = {}                           # user -> sorted [(ts, seq, cents)]
        self.products: dict[str, Product] = {}
        self.product_list: list[Product] = []
        # visits
        self.visits = 0
        self.src_visits = [0] * 6
        self.src_viewers = [0] * 6
        self.closed = 0
        self.bounced = 0
        self.src_closed = [0] * 6
        self.src_bounced = [0] * 6
        self.watch_closed = 0.0
        self.open_rel_sum = 0.0
        self.open_n = 0                                                # = online
        self.open_enters: list[list[float]] = [[] for _ in range(6)]   # sorted opening ts of open visits
        self.min_visits: dict[int, int] = {}
        self.min_online: dict[int, int] = {}                           # net change of `online` per minute
        # the windows (section 2) are asked for with every frame, so each of their figures is a count of
        # a sorted list beyond a bisect, never a scan: visits as (open_ts, open_key)
        self.win_open: list[tuple] = []
        self.win_closed: list[tuple] = []
        self.win_bounced: list[tuple] = []
        # peak_online: exact step function of `online` for ts > boundary, folded beyond
        self.online_deltas: dict[float, int] = {}
        self.boundary = float("-inf")
        self.online_at_boundary = 0
        self.peak_at_boundary = 0
        self.peak = 0
        self.peak_dirty = False
        self.last_visit_ts = float("-inf")
        # money
        self.gmv = 0
        self.refunds = 0
        self.units = 0
        self.orders: set = set()
        self.paid_orders: set = set()
        self.src_gmv = [0] * 6
        self.src_pays = [0] * 6
        self.min_gmv: dict[int, int] = {}
        self.min_paid: dict[int, set] = {}
        self.win_pays: list[tuple] = []                                # sorted (ts, seq, cents)
        self.win_cum: list[int] = []                                   # running cents along win_pays
        self.win_cum_base = 0                                          # ... of the entries trimmed off
        self.win_orders: list[tuple] = []                              # sorted (ts, seq, order_id): last pay
        self.order_last: dict = {}                                     # order_id -> its (ts, seq) there
        # ads and engagement
        self.ad_spend = 0
        self.campaigns: dict[str, list] = {}                           # campaign -> [cents, impressions, clicks]
        self.comments = 0
        self.likes = 0
        self.follows = 0
        self.shares = 0
        self.stage_counts = [0] * 10                                   # per bit of a user's head
        self.fan_club_joins = 0
        self.negative_feedbacks = 0
        self.win_comments: list[float] = []                            # sorted comment ts, for the window
        # audience: distinct viewers / buyers per value of each attribute (AUDIENCE order)
        # audience: distinct viewers / buyers per combination of attributes (a user's folded code), summed
        # per attribute value only when read: one count to move per event, whatever the number of attributes
        self.aud_viewers: dict[int, int] = {}
        self.aud_buyers: dict[int, int] = {}
        # channels, indexed as CHANNEL_KEYS; per minute: visits of each channel, then cents credited to each
        self.chan_visits = [0] * NCHAN
        self.chan_viewers = [0] * NCHAN
        self.chan_gmv = [0] * NCHAN
        self.min_chan: dict[int, list[int]] = {}
        self.recent_comments: list = []
        self.version = 0

    # -- applying events ------------------------------------------------------------------------------

    def apply(self, ev: dict, seq: int) -> None:
        ts = ev["ts"]
        if ts > self.as_of:
            self.as_of = ts
        if ts < self.first_ts:
            self.first_ts = ts
        self.version += 1
        t = ev["type"]
        handler = _HANDLERS.get(t)
        if handler is not None:
            handler(self, ev, ts, seq)

    def _reach(self, stages: int, stage: str) -> int:
        bit = _STAGE_BIT[stage]
        if not stages & bit:
            stages |= bit
            self.stage_counts[bit.bit_length() - 1] += 1
        return stages

    def _product(self, sku: str) -> Product:
        p = self.products.get(sku)
        if p is None:
            p = self.products[sku] = Product(sku, len(self.product_list))
            self.product_list.append(p)
        return p

    def _touch(self, name: str, stage: str | None, sku: str, flag: int) -> Product:
        """Mark a user's stage and their first view/click/cart/buy of a product, counting distinct users."""
        rec = self.users.get(name, _NEW_USER)
        stages, moves, prods = _split(rec)
        if stage is not None:
            stages = self._reach(stages, stage)
        p = self._product(sku)
        for i in range(0, len(prods), _PROD.size):
            idx, flags = _PROD.unpack_from(prods, i)
            if idx == p.index:
                if not flags & flag:
                    prods = prods[:i] + _PROD.pack(idx, flags | flag) + prods[i + _PROD.size:]
                    _count(p, flag)
                break
        else:
            prods += _PROD.pack(p.index, flag)
            _count(p, flag)
        self.users[name] = _join(stages, moves, prods)
        return p

    def _mark(self, name: str, stage: str) -> None:
        rec = self.users.get(name, _NEW_USER)
        stages = self._reach(rec[0], stage)   # funnel stages live in the head's low byte
        if stages != rec[0]:
            self.users[name] = bytes((stages,)) + rec[1:]

    def _interacted(self, name: str) -> None:
        rec = self.users.get(name)
        if rec is None or not rec[0] & INTERACTED:   # a bit of the head's low byte: most are set already
            self._mark_bits(name, INTERACTED)

    def _mark_bits(self, name: str, bits: int) -> None:
        rec = self.users.get(name, _NEW_USER)
        old = rec[0] | rec[1] << 8
        new = old | bits
        if new != old:   # most interactions come from users already counted: nothing to write
            gained = new ^ old
            counts = self.stage_counts
            while gained:
                low = gained & -gained
                counts[low.bit_length() - 1] += 1
                gained ^= low
            self.users[name] = _HEAD.pack(new, _HEAD.unpack_from(rec)[1]) + rec[_HEAD.size:]

    @staticmethod
    def _audience(a: int, sign: int, counts: dict) -> None:
        """Count (sign +1) or uncount one user of attributes `a` in `counts` (viewers or buyers)."""
        counts[a] = counts.get(a, 0) + sign

    def _on_impression(self, ev, ts, seq):
        self._mark(ev["user"], "impression")

    def _on_move(self, ev, ts, seq):
        name = ev["user"]
        stages, m, prods = _split(self.users.get(name, _NEW_USER))
        kind = _ENTER if ev["type"] == "enter" else _LEAVE
        code = 0
        if kind == _ENTER:
            code = enter_code(ev)
            if not stages & _ENTERED:
                # a first enter: the user's attributes are this enter's (earlier moves are leaves only)
                a = code & _ATTR_BITS
                av = self.aud_viewers
                av[a] = av.get(a, 0) + 1
                if stages & _PAID:
                    self._audience(0, -1, self.aud_buyers)
                    self._audience(code & _ATTR_BITS, +1, self.aud_buyers)
                code_changes = False
            else:
                code_changes = bool(code & _ATTR_BITS)
            if code_changes:
                old_a = attrs_of(m)
            stages = self._reach(stages, "enter")
        key = seq * 16 + kind * 8 + SRC[ev.get("source", "other")] if kind == _ENTER else seq * 16
        if ts > self.last_visit_ts:
            # online now is the value after every event of the previous instant: a sample for the peak
            self._sample_peak()
            self.last_visit_ts = ts
        elif ts < self.last_visit_ts:
            self.peak_dirty = True
        old = visits_of(m)
        rec = _MOVE.pack(ts, key, code)
        i = len(m)
        # a late move goes back into its place (keys are unique, so the code never decides)
        while i and _MOVE.unpack_from(m, i - _MV) > (ts, key, code):
            i -= _MV
        m = m + rec if i == len(m) else m[:i] + rec + m[i:]
        self.users[name] = _join(stages, m, prods)
        if kind == _ENTER and code_changes:
            new_a = attrs_of(m)
            if new_a != old_a:
                self._audience(old_a, -1, self.aud_viewers)
                self._audience(new_a, +1, self.aud_viewers)
                if stages & _PAID:
                    self._audience(old_a, -1, self.aud_buyers)
                    self._audience(new_a, +1, self.aud_buyers)
        new = visits_of(m)
        if old != new:
            self._replace_visits(name, old, new)

    def _replace_visits(self, name: str, old: list, new: list) -> None:
        if not old and len(new) == 1:   # a user's first visit, the usual case: one of each, nothing to compare
            v = new[0]
            self._visit(v, +1)
            self._channel_visit(v, +1)
            self.src_viewers[v[3]] += 1
            self.chan_viewers[v[4]] += 1
            pays = self.user_pays.get(name)
            if pays:
                self._recredit(credit_of(old, pays), credit_of(new, pays))
            return
        i = 0
        while i < len(old) and i < len(new) and old[i] == new[i]:
            i += 1
        for v in old[i:]:
            self._visit(v, -1)
        for v in new[i:]:
            self._visit(v, +1)
        if len(old) == len(new) and [v[1] for v in old[i:]] == [v[1] for v in new[i:]]:
            return   # the same openings (a visit closed or reopened): channels, viewers and credit stay
        for v in old[i:]:
            self._channel_visit(v, -1)
        for v in new[i:]:
            self._channel_visit(v, +1)
        new_mask = _viewer_mask(new)
        changed = _viewer_mask(old) ^ new_mask
        while changed:   # the sources and channels the user is now a viewer of, or no longer
            low = changed & -changed
            changed ^= low
            bit = low.bit_length() - 1
            counts, k = (self.src_viewers, bit) if bit < 8 else (self.chan_viewers, bit - 8)
            counts[k] += 1 if new_mask & low else -1
        pays = self.user_pays.get(name)
        if pays:
            self._recredit(credit_of(old, pays), credit_of(new, pays))

    def _visit(self, v: tuple, sign: int) -> None:
        o, okey, c, src, _ch = v
        self.visits += sign
        self.src_visits[src] += sign
        m = minute_of(o)
        self.min_visits[m] = self.min_visits.get(m, 0) + sign
        self.min_online[m] = self.min_online.get(m, 0) + sign
        self._online_delta(o, sign)
        entry = (o, okey)
        lists = (self.win_open,) if c is None else \
            (self.win_closed, self.win_bounced) if c - o < BOUNCE_S else (self.win_closed,)
        for lst in lists:
            if sign > 0:
                bisect.insort(lst, entry)
            else:
                _remove_sorted(lst, entry)
        if c is None:
            if sign > 0:
                bisect.insort(self.open_enters[src], o)
            else:
                _remove_sorted(self.open_enters[src], o)
            self.open_n += sign
            self.open_rel_sum += sign * (o - self.epoch)
        else:
            d = c - o
            self.watch_closed += sign * d
            self.closed += sign
            self.src_closed[src] += sign
            if d < BOUNCE_S:
                self.bounced += sign
                self.src_bounced[src] += sign
            mc = minute_of(c)
            self.min_online[mc] = self.min_online.get(mc, 0) - sign
            self._online_delta(c, -sign)

    def _channel_visit(self, v: tuple, sign: int) -> None:
        ch = v[4]
        self.chan_visits[ch] += sign
        m = minute_of(v[0])
        row = self.min_chan.get(m)
        if row is None:
            row = self._min_chan(m)
        row[ch] += sign

    def _online_delta(self, ts: float, d: int) -> None:
        if ts <= self.boundary:
            self.online_at_boundary += d   # beyond the late horizon: current online stays exact, the peak need not
        else:
            self.online_deltas[ts] = self.online_deltas.get(ts, 0) + d

    def _sample_peak(self) -> None:
        if self.open_n > self.peak:
            self.peak = self.open_n

    def _recount_peak(self) -> None:
        online, peak = self.online_at_boundary, self.peak_at_boundary
        for ts in sorted(self.online_deltas):
            online += self.online_deltas[ts]
            if online > peak:
                peak = online
        self.peak = peak
        self.peak_dirty = False

    def _fold(self) -> None:
        """Fold the online steps older than the late horizon into one number, to keep the map small."""
        limit = self.as_of - PEAK_HORIZON_S - 30
        if limit <= self.boundary + 30:
            return
        deltas = self.online_deltas
        online, peak = self.online_at_boundary, self.peak_at_boundary
        for ts in sorted(ts for ts in deltas if ts <= limit):
            online += deltas[ts]
            peak = max(peak, online)
        self.online_at_boundary, self.peak_at_boundary = online, peak
        # a new dict: a dict never gives back the memory of popped entries
        self.online_deltas = {ts: d for ts, d in deltas.items() if ts > limit}
        self.boundary = limit
        # drop window entries that no window can reach any more
        keep = self.as_of - _WINDOW_KEEP_S
        for lst in (self.win_open, self.win_closed, self.win_bounced):
            i = bisect.bisect_left(lst, (keep,))
            if i:
                del lst[:i]
        j = bisect.bisect_left(self.win_pays, (keep,))
        if j:
            self.win_cum_base = self.win_cum[j - 1]
            del self.win_pays[:j]
            del self.win_cum[:j]
        c = bisect.bisect_left(self.win_comments, keep)
        if c:
            del self.win_comments[:c]
        k = bisect.bisect_left(self.win_orders, (keep,))
        if k:
            for _ts, _seq, oid in self.win_orders[:k]:
                del self.order_last[oid]
            del self.win_orders[:k]

    def _recredit(self, old: list, new: list) -> None:
        for src, ch, amount, ts in old:
            self.src_gmv[src] -= amount
            self.src_pays[src] -= 1
            self.chan_gmv[ch] -= amount
            self._min_chan(minute_of(ts))[NCHAN + ch] -= amount
        for src, ch, amount, ts in new:
            self.src_gmv[src] += amount
            self.src_pays[src] += 1
            self.chan_gmv[ch] += amount
            self._min_chan(minute_of(ts))[NCHAN + ch] += amount

    def _min_chan(self, m: int) -> list[int]:
        row = self.min_chan.get(m)
        if row is None:
            row = self.min_chan[m] = [0] * (2 * NCHAN)
        return row

    def _on_product_on(self, ev, ts, seq):
        p = self._product(ev["sku"])
        key = (ts, seq)
        for f in ("name", "price", "cost"):
            if f in ev and (f not in p.fields or p.fields[f][0] <= key):
                p.fields[f] = (key, ev[f])
        if "stock" in ev:
            self._set_stock(p, key, ev["stock"])
        bisect.insort(p.stage_moves, (ts, seq, True))

    def _on_product_off(self, ev, ts, seq):
        bisect.insort(self._product(ev["sku"]).stage_moves, (ts, seq, False))

    def _on_stock(self, ev, ts, seq):
        self._set_stock(self._product(ev["sku"]), (ts, seq), ev["stock"])

    @staticmethod
    def _set_stock(p: Product, key: tuple, value: int) -> None:
        if p.stock_set is None or p.stock_set[0] <= key:
            p.stock_set = (key, value)
            del p.pays[:bisect.bisect_right(p.pays, (key[0], key[1], INF))]
            p.sold = sum(q for _t, _s, q in p.pays)

    def _on_product_view(self, ev, ts, seq):
        self._touch(ev["user"], "product_view", ev["sku"], VIEWED)

    def _on_product_click(self, ev, ts, seq):
        self._touch(ev["user"], "product_click", ev["sku"], CLICKED)

    def _on_cart_add(self, ev, ts, seq):
        self._touch(ev["user"], None, ev["sku"], CARTED)

    def _on_order(self, ev, ts, seq):
        self._mark(ev["user"], "order")
        self._product(ev["sku"]).orders.add(ev["order_id"])
        self.orders.add(ev["order_id"])

    def _on_pay(self, ev, ts, seq):
        name = ev["user"]
        was_buyer = _HEAD.unpack_from(self.users.get(name, _NEW_USER))[0] & _PAID
        p = self._touch(name, "pay", ev["sku"], BOUGHT)
        amount = cents(ev["amount"])
        qty = ev.get("qty", 1)
        oid = ev["order_id"]
        self.gmv += amount
        self.units += qty
        self.paid_orders.add(oid)
        m = minute_of(ts)
        self.min_gmv[m] = self.min_gmv.get(m, 0) + amount
        self.min_paid.setdefault(m, set()).add(oid)
        self._window_pay(ts, seq, amount, oid)
        p.paid_orders.add(oid)
        p.units += qty
        p.gmv += amount
        p.add_pay(ts, seq, qty)
        moves = _split(self.users[name])[1]
        if not was_buyer:
            self._audience(attrs_of(moves), +1, self.aud_buyers)
        visits = visits_of(moves)
        pays = self.user_pays.setdefault(name, [])
        old = credit_of(visits, pays)
        bisect.insort(pays, (ts, seq, amount))
        self._recredit(old, credit_of(visits, pays))

    def _on_refund(self, ev, ts, seq):
        self.refunds += cents(ev["amount"])
        if "sku" in ev:
            self._product(ev["sku"])

    def _on_comment(self, ev, ts, seq):
        self.comments += 1
        self._interacted(ev["user"])
        bisect.insort(self.win_comments, ts)
        self.recent_comments.append((ts, ev["user"], ev["text"]))
        if len(self.recent_comments) > 40:
            self.recent_comments.sort()
            del self.recent_comments[:20]

    def _on_like(self, ev, ts, seq):
        self.likes += ev.get("count", 1)
        self._interacted(ev["user"])

    def _on_follow(self, ev, ts, seq):
        self.follows += 1
        self._mark_bits(ev["user"], INTERACTED | FOLLOWED)

    def _on_share(self, ev, ts, seq):
        self.shares += 1
        self._interacted(ev["user"])

    def _on_fan_club_join(self, ev, ts, seq):
        self.fan_club_joins += 1
        self._mark_bits(ev["user"], INTERACTED | JOINED)

    def _on_negative_feedback(self, ev, ts, seq):
        self.negative_feedbacks += 1
        self._mark_bits(ev["user"], NEGATIVE)

    def _on_ad_spend(self, ev, ts, seq):
        amount = cents(ev["amount"])
        self.ad_spend += amount
        c = self.campaigns.setdefault(ev["campaign"], [0, 0, 0])
        c[0] += amount
        c[1] += ev.get("impressions", 0)
        c[2] += ev.get("clicks", 0)

    # -- reading metrics ------------------------------------------------------------------------------

    def online(self) -> int:
        return self.open_n

    def peak_online(self) -> int:
        if self.peak_dirty:
            self._recount_peak()
        # the current instant counts once all its events are in: they are, as far as we know
        return max(self.peak, self.open_n)

    def decided_open(self, src: int | None = None) -> int:
        lists = self.open_enters if src is None else [self.open_enters[src]]
        return sum(_count_old(x, self.as_of) for x in lists)

    def metrics(self) -> dict:
        self._fold()
        as_of = self.as_of
        viewers = self.stage_counts[1]
        open_n = self.open_n
        watch = self.watch_closed + open_n * (as_of - self.epoch) - self.open_rel_sum
        decided = self.closed + self.decided_open()
        gmv = self.gmv / 100
        fs = dict(zip(FUNNEL, self.stage_counts))
        funnel = dict(fs)
        for prev, stage in zip(FUNNEL, FUNNEL[1:]):
            funnel[f"{stage}_rate"] = ratio(fs[stage], fs[prev])
        sources = {}
        for s, name in enumerate(SOURCES):
            dec = self.src_closed[s] + self.decided_open(s)
            sources[name] = {
                "visits": self.src_visits[s], "viewers": self.src_viewers[s], "gmv": self.src_gmv[s] / 100,
                "pays": self.src_pays[s], "decided": dec, "bounced": self.src_bounced[s],
                "bounce_2s_rate": ratio(self.src_bounced[s], dec),
            }
        paid_gmv = self.src_gmv[SRC["paid"]] / 100
        spend = self.ad_spend / 100
        return {
            "session": self.id,
            "started": self.started,
            "ended": self.ended,
            "first_ts": self.first_ts,
            "as_of": as_of,
            **self.info,
            "visits": self.visits,
            "viewers": viewers,
            "online": open_n,
            "peak_online": self.peak_online(),
            "watch_seconds": watch,
            "avg_dwell_s": ratio(watch, viewers),
            "decided_visits": decided,
            "bounced_visits": self.bounced,
            "bounce_2s_rate": ratio(self.bounced, decided),
            "gmv": gmv,
            "orders": len(self.orders),
            "paid_orders": len(self.paid_orders),
            "buyers": fs["buyers"],
            "refund_amount": self.refunds / 100,
            "net_gmv": (self.gmv - self.refunds) / 100,
            "units": self.units,
            "gpm": ratio(gmv * 1000, self.visits),
            "uv_value": ratio(gmv, viewers),
            "product_viewers": fs["product_viewers"],
            "product_clickers": fs["product_clickers"],
            "ctr": ratio(fs["product_clickers"], fs["product_viewers"]),
            "cvr": ratio(fs["buyers"], fs["product_clickers"]),
            "funnel": funnel,
            "sources": sources,
            "ad_spend": spend,
            "roi": ratio(gmv, spend),
            "paid_gmv": paid_gmv,
            "paid_roi": ratio(paid_gmv, spend),
            "campaigns": {k: {"spend": v[0] / 100, "impressions": v[1], "clicks": v[2]}
                          for k, v in self.campaigns.items()},
            "comments": self.comments,
            "likes": self.likes,
            "follows": self.follows,
            "shares": self.shares,
            "windows": {str(w): self._window(w) for w in WINDOWS},
            **self._audience_metrics(viewers),
        }

    def _audience_metrics(self, viewers: int) -> dict:
        """The audience, channel and interaction figures of the README's "Audience and channels"."""
        counts = self.stage_counts
        per_value = [([0] * len(vals), [0] * len(vals)) for _n, vals, _s, _m in AUDIENCE]
        returning = [0, 0]
        for k, by_code in enumerate((self.aud_viewers, self.aud_buyers)):
            for a, n in by_code.items():
                for i, (_n, vals, shift, mask) in enumerate(AUDIENCE):
                    v = (a >> shift) & mask
                    per_value[i][k][v - 1 if v else len(vals) - 1] += n
                if a & _RETURNING_FAN_MASK == _RETURNING_FAN:
                    returning[k] += n
        audience = {}
        for (name, vals, _s, _m), (nv, nb) in zip(AUDIENCE, per_value):
            audience[name] = {v: {"viewers": nv[j], "buyers": nb[j], "buy_rate": ratio(nb[j], nv[j])}
                              for j, v in enumerate(vals)}
        channels = {}
        for c in (*range(1, NCHAN), 0):
            gmv = self.chan_gmv[c] / 100
            channels[CHANNEL_KEYS[c]] = {"visits": self.chan_visits[c], "viewers": self.chan_viewers[c],
                                         "gmv": gmv, "gpm": ratio(gmv * 1000, self.chan_visits[c])}
        as_of = self.as_of
        recent = len(self.win_comments) - bisect.bisect_right(self.win_comments, as_of - 60)
        joiners = counts[JOINED.bit_length() - 1]
        negative = counts[NEGATIVE.bit_length() - 1]
        new_fans = counts[FOLLOWED.bit_length() - 1]
        interactors = counts[INTERACTED.bit_length() - 1]
        return {
            "audience": audience,
            "returning_fans": returning[0],
            "returning_fan_buyers": returning[1],
            "returning_fan_share": ratio(returning[0], viewers),
            "new_fans": new_fans,
            "channels": channels,
            "interactors": interactors,
            "interaction_rate": ratio(interactors, viewers),
            "follow_rate": ratio(new_fans, viewers),
            "fan_club_joins": self.fan_club_joins,
            "fan_club_joiners": joiners,
            "fan_club_rate": ratio(joiners, viewers),
            "negative_feedbacks": self.negative_feedbacks,
            "negative_feedback_users": negative,
            "negative_feedback_rate": ratio(negative, viewers),
            "comments_per_min": recent,
            "comments_per_min_avg": ratio(self.comments * 60, as_of - self.first_ts),
        }

    def _window_pay(self, ts: float, seq: int, amount: int, oid) -> None:
        i = bisect.bisect_right(self.win_pays, (ts, seq))
        self.win_pays.insert(i, (ts, seq, amount))
        cum = self.win_cum
        cum.insert(i, (cum[i - 1] if i else self.win_cum_base) + amount)
        for k in range(i + 1, len(cum)):   # only a late pay has any entries after it
            cum[k] += amount
        last = self.order_last.get(oid)
        if last is None or (ts, seq) > last:
            if last is not None:
                _remove_sorted(self.win_orders, (*last, oid))
            bisect.insort(self.win_orders, (ts, seq, oid))
            self.order_last[oid] = (ts, seq)

    def _window(self, w: int) -> dict:
        as_of = self.as_of
        after = (as_of - w, INF)   # entries with ts > as_of - w
        i = bisect.bisect_right(self.win_pays, after)
        cum = self.win_cum
        gmv = (cum[-1] - (cum[i - 1] if i else self.win_cum_base)) if cum else 0
        closed = len(self.win_closed) - bisect.bisect_right(self.win_closed, after)
        bounced = len(self.win_bounced) - bisect.bisect_right(self.win_bounced, after)
        opens = self.win_open
        j = bisect.bisect_right(opens, after)
        open_old = max(0, _count_old(opens, as_of, key=0) - j)   # open long enough to have stayed
        return {
            "gmv": gmv / 100,
            "visits": closed + len(opens) - j,
            "paid_orders": len(self.win_orders) - bisect.bisect_right(self.win_orders, after),
            "bounce_2s_rate": ratio(bounced, closed + open_old),
        }

    def _minute_channels(self, m: int) -> dict:
        """The channels with visits or credited GMV in minute m (any other had none)."""
        row = self.min_chan.get(m)
        if row is None:
            return {}
        return {CHANNEL_KEYS[c]: {"visits": row[c], "gmv": row[NCHAN + c] / 100}
                for c in (*range(1, NCHAN), 0) if row[c] or row[NCHAN + c]}

    def product_rows(self) -> list[dict]:
        rows = [p.row(self.as_of) for p in self.products.values()]
        rows.sort(key=lambda r: r["sku"])
        rows.sort(key=lambda r: (r["gmv"], r["clickers"]), reverse=True)
        return rows

    def series(self) -> list[dict]:
        first, last = minute_of(self.first_ts), minute_of(self.as_of)
        out, online = [], 0
        for m in range(first, last + 60, 60):
            online += self.min_online.get(m, 0)
            out.append({
                "minute": m,
                "gmv": self.min_gmv.get(m, 0) / 100,
                "visits": self.min_visits.get(m, 0),
                "paid_orders": len(self.min_paid.get(m, ())),
                "online": online,
                "channels": self._minute_channels(m),
            })
        return out


def _count(p: Product, flag: int) -> None:
    if flag == VIEWED:
        p.viewers += 1
    elif flag == CLICKED:
        p.clickers += 1
    elif flag == CARTED:
        p.cart_adders += 1
    else:
        p.buyers += 1


def _viewer_mask(visits: list) -> int:
    """A bit per source (bits 0-7) and per channel (bits 8 on) the visits came by."""
    mask = 0
    for v in visits:
        mask |= 1 << v[3] | 256 << v[4]
    return mask


def _remove_sorted(lst: list, item) -> None:
    i = bisect.bisect_left(lst, item)
    if i < len(lst) and lst[i] == item:
        del lst[i]


def _count_old(opens: list, as_of: float, key: int | None = None) -> int:
    """How many opening times o satisfy as_of - o >= 2 (a prefix of the sorted list), evaluated exactly so.
    `key`: the opening time is that item of each entry."""
    lo, hi = 0, len(opens)
    while lo < hi:
        mid = (lo + hi) // 2
        o = opens[mid] if key is None else opens[mid][key]
        if as_of - o >= BOUNCE_S:
            lo = mid + 1
        else:
            hi = mid
    return lo


_HANDLERS = {
    "impression": Session._on_impression,
    "enter": Session._on_move,
    "leave": Session._on_move,
    "product_on": Session._on_product_on,
    "product_off": Session._on_product_off,
    "stock": Session._on_stock,
    "product_view": Session._on_product_view,
    "product_click": Session._on_product_click,
    "cart_add": Session._on_cart_add,
    "order": Session._on_order,
    "pay": Session._on_pay,
    "refund": Session._on_refund,
    "comment": Session._on_comment,
    "like": Session._on_like,
    "follow": Session._on_follow,
    "share": Session._on_share,
    "ad_spend": Session._on_ad_spend,
    "fan_club_join": Session._on_fan_club_join,
    "negative_feedback": Session._on_negative_feedback,
}


# -- late events of a frozen session ------------------------------------------------------------------
# Once a newer session has started, a session is frozen: an event that arrives later with a ts inside it is
# kept here, on that session, and never applied (see engine/room.py). Money in cents, like the rest.

LATE_KEPT = 20            # late events kept whole per frozen session; beyond, only counted and summed
_LATE_MONEY = ("pay", "refund", "order", "ad_spend")


def late_record() -> dict:
    return {"count": 0, "by_type": {}, "events": []}


def add_late(rec: dict, ev: dict) -> None:
    """Count `ev` into a frozen session's late record."""
    t = ev["type"]
    rec["count"] += 1
    by = rec["by_type"].setdefault(t, {"count": 0, "amount": 0} if t in _LATE_MONEY else {"count": 0})
    by["count"] += 1
    if t in _LATE_MONEY:
        by["amount"] += cents(ev["amount"])
    if len(rec["events"]) < LATE_KEPT:
        rec["events"].append(ev)

