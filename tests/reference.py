"""Reference computation of CONTRACT section 2, written from the contract text alone.

It is the independent check of the engine: it recomputes everything from the raw event list in one
batch with pandas, so it shares no incremental bookkeeping (and so no bugs of that kind) with the engine.
Clarity beats speed here; the tests feed it sessions of a few thousand events at most.

`reference(events)` takes the events of ONE room in arrival order (list index = arrival order) and
returns the metrics, product rows and series of the room's current session, or None when the room has
no session.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

SOURCES = ("recommend", "paid", "short_video", "follow", "search", "other")
WINDOWS = (60, 300)
# Only these types carry a `sku` field of their own; an unknown extra `sku` on another type is ignored.
SKU_TYPES = ("product_on", "product_off", "product_view", "product_click", "cart_add", "order", "pay",
             "refund", "stock")
FIELDS = ("id", "room", "ts", "type", "user", "source", "sku", "name", "price", "cost", "stock", "qty",
          "order_id", "amount", "count", "campaign", "channel", "fan", "visit", "gender", "age", "city_tier")
# The audience extension (README, "Audience and channels"), written out again from the README's text.
AUDIENCE = {"fan": ("true", "false", "unknown"), "visit": ("first", "returning", "unknown"),
            "gender": ("f", "m", "unknown"), "age": ("18-23", "24-30", "31-40", "41-50", "50+", "unknown"),
            "city_tier": ("1", "new1", "2", "3", "4", "5", "unknown")}
CHANNELS = ("feed", "nearby", "plaza", "short_video", "qianchuan_pc", "suixintui", "brand_ad", "search", "follow",
            "profile", "other", "none")
INTERACTIONS = ("comment", "like", "share", "follow", "fan_club_join")
FUNNEL = (("impressed", "impression"), ("entered", "enter"), ("product_viewers", "product_view"),
          ("product_clickers", "product_click"), ("orderers", "order"), ("buyers", "pay"))


def _ratio(num, den):
    return None if den == 0 else num / den


def _cents(x) -> int:
    # Ingest already rounded money to the cent, so x * 100 is within float noise of an integer.
    return int(round(float(x) * 100))


def _yuan(cents) -> float:
    return int(cents) / 100


def _ordered(events: list[dict]) -> pd.DataFrame:
    """All events, duplicates (by id) dropped, in application order: ts, then arrival."""
    seen: set = set()
    rows = []
    for arrival, ev in enumerate(events):
        if ev["id"] in seen:  # the first arrival of an id is the event; later ones change nothing
            continue
        seen.add(ev["id"])
        rows.append({**{k: ev.get(k) for k in FIELDS}, "arrival": arrival})
    df = pd.DataFrame(rows, columns=[*FIELDS, "arrival"])
    df["ts"] = df["ts"].astype(float)
    df = df.sort_values(["ts", "arrival"], kind="stable").reset_index(drop=True)
    df["pos"] = np.arange(len(df))  # position in application order
    # Fields that only mean something on their own types: blank them elsewhere so extras are ignored.
    df.loc[~df["type"].isin(SKU_TYPES), "sku"] = None
    df.loc[~df["type"].isin(("impression", "enter")), "source"] = None
    df.loc[df["type"] != "enter", ["channel", *AUDIENCE]] = None
    df.loc[~df["type"].isin(("cart_add", "order", "pay")), "qty"] = None
    df.loc[df["type"] != "like", "count"] = None
    return df


def _current_session(df: pd.DataFrame) -> pd.DataFrame | None:
    """The rows of the latest session, in application order."""
    label = []
    n = 0
    active = False
    for i, t in enumerate(df["type"]):
        # The room's first event opens a session even without a session_start.
        if t == "session_start" or i == 0:
            n += 1
            active = True
        label.append(n if active else 0)
        if t == "session_end" and active:
            active = False  # the session_end itself belongs to the session it closes
    if n == 0:
        return None
    return df[np.asarray(label) == n].reset_index(drop=True)


def _visits(s: pd.DataFrame) -> pd.DataFrame:
    """One row per visit: user, source, open ts/pos, close ts (NaN while open)."""
    inside: dict = {}
    visits: list[dict] = []
    for r in s[s["type"].isin(("enter", "leave"))].itertuples():
        if r.type == "enter":
            if r.user not in inside:
                inside[r.user] = len(visits)
                src = r.source if isinstance(r.source, str) else "other"
                chan = r.channel if isinstance(r.channel, str) else "none"
                visits.append({"user": r.user, "source": src, "channel": chan, "open_ts": r.ts,
                               "open_pos": r.pos, "close_ts": np.nan})
        elif r.user in inside:
            visits[inside.pop(r.user)]["close_ts"] = r.ts
    return pd.DataFrame(visits, columns=["user", "source", "channel", "open_ts", "open_pos", "close_ts"])


def _bounce_rate(v: pd.DataFrame, as_of: float):
    closed = v["close_ts"].notna()
    bounced = closed & ((v["close_ts"] - v["open_ts"]) < 2.0)
    decided = closed | ((as_of - v["open_ts"]) >= 2.0)
    return _ratio(int(bounced.sum()), int(decided.sum()))


def _online_counter(v: pd.DataFrame):
    """online(t, strict): open visits after all events with ts <= t (or ts < t when strict).

    A visit opened at ts a and closed at ts b (a <= b) is open after the events up to t exactly when
    a <= t < b, so counting opens minus closes up to t is enough."""
    opens = np.sort(v["open_ts"].to_numpy(dtype=float))
    closes = np.sort(v["close_ts"].dropna().to_numpy(dtype=float))

    def online(t, strict=False):
        side = "left" if strict else "right"
        return np.searchsorted(opens, t, side) - np.searchsorted(closes, t, side)

    return online


def _credit_sources(pays: pd.DataFrame, v: pd.DataFrame, field: str = "source", none: str = "other") -> list[str]:
    """Source (or channel) credited for each pay: the payer's visit with the largest opening ts <= the pay's
    ts, on equal ts the one opened later; `none` when the payer has none."""
    by_user = {u: g.sort_values("open_pos") for u, g in v.groupby("user")}
    out = []
    for p in pays.itertuples():
        g = by_user.get(p.user)
        if g is None:
            out.append(none)
            continue
        cand = g[g["open_ts"] <= p.ts]
        if cand.empty:
            out.append(none)
            continue
        best = cand[cand["open_ts"] == cand["open_ts"].max()]
        out.append(best.iloc[-1][field])  # sorted by open_pos: the last is the later opened
    return out


def _attributes(s: pd.DataFrame) -> dict:
    """user -> {attribute: value}: per attribute, the value on the user's latest enter carrying it."""
    out: dict = {}
    enters = s[s["type"] == "enter"]
    for user, g in enters.groupby("user"):
        a = {}
        for name in AUDIENCE:
            vals = [x for x in g[name] if x is not None and not (isinstance(x, float) and math.isnan(x))]
            if not vals:
                a[name] = "unknown"
            elif name == "fan":
                a[name] = "true" if bool(vals[-1]) else "false"
            else:
                a[name] = vals[-1]
        out[user] = a
    return out


def _audience(s: pd.DataFrame, pays: pd.DataFrame, v: pd.DataFrame, viewers: int, as_of: float,
              first_ts: float) -> dict:
    typ = s["type"]
    attrs = _attributes(s)
    unknown = {name: "unknown" for name in AUDIENCE}
    viewer_set = set(s.loc[typ == "enter", "user"])
    buyer_set = set(pays["user"])
    audience = {}
    for name, vals in AUDIENCE.items():
        audience[name] = {}
        for val in vals:
            nv = sum(1 for u in viewer_set if attrs.get(u, unknown)[name] == val)
            nb = sum(1 for u in buyer_set if attrs.get(u, unknown)[name] == val)
            audience[name][val] = {"viewers": nv, "buyers": nb, "buy_rate": _ratio(nb, nv)}

    def returning_fan(u):
        a = attrs.get(u, unknown)
        return a["fan"] == "true" and a["visit"] == "returning"

    credit = _credit_sources(pays, v, "channel", "none") if len(pays) else []
    pays = pays.assign(chan=credit)
    channels = {}
    for ch in CHANNELS:
        vs = v[v["channel"] == ch]
        gmv = _yuan(int(pays.loc[pays["chan"] == ch, "cents"].sum()))
        channels[ch] = {"visits": len(vs), "viewers": int(vs["user"].nunique()), "gmv": gmv,
                        "gpm": None if len(vs) == 0 else gmv / len(vs) * 1000}

    def users(types):
        return int(s.loc[typ.isin(types), "user"].nunique())

    comments = s[typ == "comment"]
    new_fans = users(("follow",))
    joiners = users(("fan_club_join",))
    negative = users(("negative_feedback",))
    returning = sum(1 for u in viewer_set if returning_fan(u))
    return {
        "audience": audience,
        "returning_fans": returning,
        "returning_fan_buyers": sum(1 for u in buyer_set if returning_fan(u)),
        "returning_fan_share": _ratio(returning, viewers),
        "new_fans": new_fans,
        "channels": channels,
        "interactors": users(INTERACTIONS),
        "interaction_rate": _ratio(users(INTERACTIONS), viewers),
        "follow_rate": _ratio(new_fans, viewers),
        "fan_club_joins": int((typ == "fan_club_join").sum()),
        "fan_club_joiners": joiners,
        "fan_club_rate": _ratio(joiners, viewers),
        "negative_feedbacks": int((typ == "negative_feedback").sum()),
        "negative_feedback_users": negative,
        "negative_feedback_rate": _ratio(negative, viewers),
        "comments_per_min": int((comments["ts"] > as_of - 60).sum()),
        "comments_per_min_avg": None if as_of == first_ts else len(comments) * 60 / (as_of - first_ts),
    }, pays


def _minute(ts) -> int:
    return int(math.floor(ts / 60) * 60)


def _products(s: pd.DataFrame, as_of: float) -> list[dict]:
    rows = []
    named = s[s["sku"].notna()]
    for sku in pd.unique(named["sku"]):
        e = named[named["sku"] == sku]
        ons = e[e["type"] == "product_on"]
        row: dict = {"sku": sku}
        for f in ("name", "price", "cost"):
            carrying = ons[ons[f].notna()]
            v = carrying.iloc[-1][f] if len(carrying) else None
            row[f] = v if (v is None or f == "name") else _yuan(_cents(v))

        settings = e[((e["type"] == "product_on") & e["stock"].notna()) | (e["type"] == "stock")]
        pays = e[e["type"] == "pay"]
        qty = pays["qty"].fillna(1).astype(int)
        if len(settings):
            last = settings.iloc[-1]
            row["stock"] = int(last["stock"]) - int(qty[pays["pos"] > last["pos"]].sum())
        else:
            row["stock"] = None

        on = False
        start = 0.0
        stage = 0.0
        for r in e[e["type"].isin(("product_on", "product_off"))].itertuples():
            if r.type == "product_on" and not on:
                on, start = True, r.ts
            elif r.type == "product_off" and on:
                on = False
                stage += r.ts - start
        if on:
            stage += as_of - start
        row["on_stage"] = on
        row["stage_seconds"] = stage

        def users(t):
            return e.loc[e["type"] == t, "user"].nunique()

        row["viewers"] = users("product_view")
        row["clickers"] = users("product_click")
        row["cart_adders"] = users("cart_add")
        row["buyers"] = users("pay")
        row["units"] = int(qty.sum())
        gmv_c = int(pays["amount"].map(_cents).sum())
        row["gmv"] = _yuan(gmv_c)
        row["ctr"] = _ratio(row["clickers"], row["viewers"])
        row["cvr"] = _ratio(row["buyers"], row["clickers"])
        row["_gmv_c"] = gmv_c
        rows.append(row)
    rows.sort(key=lambda r: r["sku"])
    rows.sort(key=lambda r: (r["_gmv_c"], r["clickers"]), reverse=True)  # stable: sku asc on ties
    for r in rows:
        del r["_gmv_c"]
    return rows


def _minute_channels(v: pd.DataFrame, pays: pd.DataFrame) -> dict:
    out = {}
    for ch in CHANNELS:
        n = int((v["channel"] == ch).sum())
        c = int(pays.loc[pays["chan"] == ch, "cents"].sum())
        if n or c:
            out[ch] = {"visits": n, "gmv": _yuan(c)}
    return out


def reference(events: list[dict]) -> dict | None:
    if not events:
        return None
    s = _current_session(_ordered(events))
    if s is None or s.empty:
        return None
    as_of = float(s["ts"].max())
    first_ts = float(s["ts"].min())
    typ = s["type"]

    v = _visits(s)
    v["dur"] = np.where(v["close_ts"].notna(), v["close_ts"] - v["open_ts"], as_of - v["open_ts"])
    online = _online_counter(v)
    visits = len(v)
    viewers = v["user"].nunique()
    watch = float(v["dur"].sum()) if visits else 0.0
    peak = max((int(online(t)) for t in s["ts"].unique()), default=0)

    pays = s[typ == "pay"].copy()
    pays["cents"] = pays["amount"].map(_cents).astype("int64")
    pays["qty"] = pays["qty"].fillna(1).astype(int)
    pays["credit"] = _credit_sources(pays, v) if len(pays) else []
    gmv_c = int(pays["cents"].sum())
    gmv = _yuan(gmv_c)
    refund_c = int(s.loc[typ == "refund", "amount"].map(_cents).sum())
    ad_c = int(s.loc[typ == "ad_spend", "amount"].map(_cents).sum())
    paid_c = int(pays.loc[pays["credit"] == "paid", "cents"].sum())

    funnel = {k: int(s.loc[typ == t, "user"].nunique()) for k, t in FUNNEL}
    for (prev, _), (k, _) in zip(FUNNEL, FUNNEL[1:]):
        funnel[k + "_rate"] = _ratio(funnel[k], funnel[prev])

    sources = {}
    for src in SOURCES:
        vs = v[v["source"] == src]
        sources[src] = {"visits": len(vs), "viewers": int(vs["user"].nunique()),
                        "gmv": _yuan(int(pays.loc[pays["credit"] == src, "cents"].sum()))}

    windows = {}
    for w in WINDOWS:
        wp = pays[pays["ts"] > as_of - w]
        wv = v[v["open_ts"] > as_of - w]
        windows[str(w)] = {"gmv": _yuan(int(wp["cents"].sum())), "visits": len(wv),
                           "paid_orders": int(wp["order_id"].nunique()),
                           "bounce_2s_rate": _bounce_rate(wv, as_of)}

    likes = s.loc[typ == "like", "count"].fillna(1).astype(int)
    metrics = {
        "as_of": as_of,
        "visits": visits,
        "viewers": int(viewers),
        "online": int(online(as_of)),
        "peak_online": int(peak),
        "watch_seconds": watch,
        "avg_dwell_s": _ratio(watch, viewers),
        "bounce_2s_rate": _bounce_rate(v, as_of),
        "gmv": gmv,
        "orders": int(s.loc[typ == "order", "order_id"].nunique()),
        "paid_orders": int(pays["order_id"].nunique()),
        "buyers": int(pays["user"].nunique()),
        "refund_amount": _yuan(refund_c),
        "net_gmv": _yuan(gmv_c - refund_c),
        "units": int(pays["qty"].sum()),
        "gpm": None if visits == 0 else gmv / visits * 1000,
        "uv_value": _ratio(gmv, viewers),
        "ctr": _ratio(funnel["product_clickers"], funnel["product_viewers"]),
        "cvr": _ratio(funnel["buyers"], funnel["product_clickers"]),
        "funnel": funnel,
        "sources": sources,
        "ad_spend": _yuan(ad_c),
        "roi": _ratio(gmv, _yuan(ad_c)),
        "paid_gmv": _yuan(paid_c),
        "paid_roi": _ratio(_yuan(paid_c), _yuan(ad_c)),
        "comments": int((typ == "comment").sum()),
        "likes": int(likes.sum()),
        "follows": int((typ == "follow").sum()),
        "shares": int((typ == "share").sum()),
        "windows": windows,
    }
    extra, pays = _audience(s, pays, v, int(viewers), as_of, first_ts)
    metrics.update(extra)

    pays["minute"] = pays["ts"].map(_minute)
    v["minute"] = v["open_ts"].map(_minute)
    series = []
    last_minute = _minute(as_of)
    for m in range(_minute(first_ts), last_minute + 60, 60):
        mp = pays[pays["minute"] == m]
        series.append({"minute": m, "gmv": _yuan(int(mp["cents"].sum())),
                       "visits": int((v["minute"] == m).sum()),
                       "paid_orders": int(mp["order_id"].nunique()),
                       # events with ts < m + 60; for the last minute that is every event, i.e. at as_of
                       "online": int(online(m + 60, strict=True)),
                       "channels": _minute_channels(v[v["minute"] == m], mp)})

    return {"metrics": metrics, "products": _products(s, as_of), "series": series}
