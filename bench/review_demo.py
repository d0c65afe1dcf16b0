"""A room with a few ended sessions and one running now, for the review and ghost-line screenshots
(bench/screens.py): products on stage one after another (some without a cost), viewers coming in waves, buying
and leaving. Seeded: the same every run."""
from __future__ import annotations

import math
import random

PRODUCTS = [("y1", "羊毛大衣", 399.0, 160.0), ("y2", "羊绒围巾", 129.0, 41.0), ("y3", "保温杯", 89.9, None),
            ("y4", "加绒卫衣", 159.0, 62.0), ("y5", "雪地靴", 239.0, None), ("y6", "针织帽", 49.9, 12.5),
            ("y7", "手套三件套", 59.0, 18.0), ("y8", "暖宝宝 40 片", 29.9, None)]


def session(room: str, t0: float, minutes: int, seed: int, strength: float = 1.0, end: bool = True) -> list[dict]:
    rnd = random.Random(seed)
    n = 0

    def ev(type_, ts, **f):
        nonlocal n
        n += 1
        return {"id": f"demo-{room}-{seed}-{n}", "room": room, "ts": round(ts, 3), "type": type_, **f}
    out = [ev("session_start", t0, title=f"冬季上新 第{seed}场", streamer="小李", target_roi=2.5, platform="douyin")]
    stage = minutes * 60 / len(PRODUCTS)
    for i, (sku, name, price, cost) in enumerate(PRODUCTS):
        extra = {"cost": cost} if cost is not None else {}
        out.append(ev("product_on", t0 + 1 + i * stage, sku=sku, name=name, price=price, stock=300, **extra))
    for s in range(int(minutes * 60 / 4)):
        t = t0 + 5 + s * 4
        wave = 0.6 + 0.4 * math.sin(s / 35) + 0.3 * math.sin(s / 9 + seed)
        for _ in range(rnd.choices([0, 1, 2, 3], [3, 4, 2, 1 + wave * strength])[0]):
            u = f"{seed}-{rnd.randrange(10**6)}"
            src = rnd.choice(["recommend", "recommend", "paid", "follow", "search"])
            stay = rnd.expovariate(1 / 150) if rnd.random() > 0.2 else rnd.random() * 1.9
            sku, _name, price, _cost = PRODUCTS[min(len(PRODUCTS) - 1, int((t - t0) / stage))]
            out.append(ev("enter", t, user=u, source=src))
            if stay > 20 and rnd.random() < 0.5:
                out += [ev("product_view", t + 5, user=u, sku=sku), ev("product_click", t + 8, user=u, sku=sku)]
                if rnd.random() < 0.22 * strength:
                    oid = f"{u}-o"
                    out += [ev("order", t + 12, user=u, sku=sku, order_id=oid, amount=price),
                            ev("pay", t + 15, user=u, sku=sku, order_id=oid, amount=price)]
            out.append(ev("leave", t + max(0.5, min(stay, minutes * 60 - (t - t0) - 2)), user=u))
    out.append(ev("ad_spend", t0 + minutes * 30, campaign="qc-1", amount=round(800 * strength, 2)))
    if end:
        out.append(ev("session_end", t0 + minutes * 60))
    return sorted(out, key=lambda e: e["ts"])


def room_history(room: str, now: float, minutes: int = 40, live_minutes: int = 25) -> tuple[list[list[dict]], list[dict]]:
    """(three ended sessions, a day apart, the last one below par; the session running now, `live_minutes` in)."""
    day = 86400
    ended = [session(room, now - (3 - i) * day, minutes, seed=i + 1, strength=(1.2, 1.0, 0.7)[i]) for i in range(3)]
    live = [e for e in session(room, now - live_minutes * 60, minutes, seed=7, strength=0.8, end=False)
            if e["ts"] <= now]
    return ended, live
