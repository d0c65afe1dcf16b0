"""罗盘 (Compass) export import: the session figures a team exports from the platform's console, kept beside the
session's review and compared with livewall's own.

`python -m feeds.connectors.compass FILE --session S [--redis-url URL | --data-dir D]`, or
`POST /api/sessions/<session>/compass` (a manager) with {"filename", "content_base64"}; then
`GET /api/sessions/<session>/compass` has the comparison.

The file: CSV (UTF-8, with or without BOM; GBK is tried too) or XLSX, either a header row with one row of
figures under it (the first row is read), or two columns "指标, 数值" (metric, value). The headers read are those
of HEADERS below. They are the names the consoles show, NOT confirmed from an official export spec (none is
public): a header not in the list is reported back as ignored, never guessed. Values may carry ¥, thousands
commas, 万/亿, a % (a rate), or a duration like "1分23秒", "00:01:23" or "83s".
"""
from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import time
from pathlib import Path

import orjson

from store import keys

# header -> (livewall metric, kind): kind money | count | rate | seconds
HEADERS = {
    "直播间成交金额": ("gmv", "money"), "成交金额": ("gmv", "money"),
    "累计观看人数": ("viewers", "count"), "观看人数": ("viewers", "count"),
    "累计观看人次": ("visits", "count"), "观看人次": ("visits", "count"), "观看次数": ("visits", "count"),
    "最高在线人数": ("peak_online", "count"),
    "人均观看时长": ("avg_dwell_s", "seconds"),
    "商品点击率": ("ctr", "rate"),
    "成交人数": ("buyers", "count"),
    "成交订单数": ("paid_orders", "count"),
    "千次观看成交金额": ("gpm", "money"),
    "退款金额": ("refund_amount", "money"),
    "新增粉丝数": ("follows", "count"),
    "评论次数": ("comments", "count"),
    "点赞次数": ("likes", "count"),
    "分享次数": ("shares", "count"),
    "直播间曝光人数": ("funnel.impressed", "count"), "曝光人数": ("funnel.impressed", "count"),
    "千川消耗": ("ad_spend", "money"), "广告消耗": ("ad_spend", "money"),
}

# Why the two figures can differ, per metric (zh, en): shown beside each difference.
WHY = {
    "gmv": ("平台按直播间归因成交，含场后支付的订单；livewall 只计本场收到的支付事件",
            "the platform credits orders to the room, paid after the session included; livewall sums the pay "
            "events of the session"),
    "viewers": ("平台按自然日去重观看人数；livewall 按本场去重", "the platform counts UV per day, livewall per session"),
    "visits": ("平台计观看人次（含重复进入）；差异多为 livewall 未收到的进入事件",
               "both count entries, re-entries included; a gap is mostly enters livewall never received"),
    "peak_online": ("平台每分钟采样在线人数；livewall 在每个事件时刻精确计数",
                    "the platform samples online viewers each minute; livewall counts at every event exactly"),
    "avg_dwell_s": ("平台以观看人次或自然日人数为分母；livewall 为本场观看时长 / 本场观看人数",
                    "the platform divides by its own viewer count; livewall by the session's distinct viewers"),
    "ctr": ("平台为点击次数 / 曝光次数；livewall 为点击人数 / 曝光人数",
            "the platform divides clicks by card exposures (counts); livewall distinct clickers by viewers"),
    "buyers": ("平台含场后支付的买家", "the platform includes buyers who paid after the session"),
    "paid_orders": ("平台按订单归因直播间，含场后支付", "the platform credits orders paid after the session"),
    "gpm": ("平台为每千次观看成交额，分母与成交额口径均不同", "both per 1,000 views, with different GMV and view counts"),
    "refund_amount": ("平台计本场订单任何时候的退款；livewall 只计本场内收到的退款事件",
                      "the platform counts later refunds of the session's orders; livewall those received in it"),
    "follows": ("平台为净增粉丝（扣除取关）", "the platform counts net new fans (unfollows deducted)"),
    "comments": ("平台可能过滤违规评论", "the platform may leave out filtered comments"),
    "likes": ("口径相同：点赞次数", "the same measure: likes"),
    "shares": ("口径相同：分享次数", "the same measure: shares"),
    "funnel.impressed": ("平台为曝光人数（按日去重）", "the platform counts impressed users per day"),
    "ad_spend": ("平台按消耗入账时间；livewall 按报表轮询到的增量", "the platform by booking time; livewall by the "
                 "increments its poller read"),
}


class CompassError(ValueError):
    pass


def read_rows(name: str, content: bytes) -> list[list[str]]:
    if name.lower().endswith((".xlsx", ".xlsm")):
        import openpyxl   # only for XLSX files
        try:
            wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable workbook is the file's problem, said so
            raise CompassError(f"not a readable XLSX file ({type(e).__name__})") from None
        ws = wb.worksheets[0]
        return [["" if c is None else str(c) for c in row] for row in ws.iter_rows(values_only=True)]
    for encoding in ("utf-8-sig", "gbk"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise CompassError("CSV is neither UTF-8 nor GBK")
    return [row for row in csv.reader(io.StringIO(text))]


_DURATION = re.compile(r"^(?:(\d+)\s*(?:小时|时|h))?\s*(?:(\d+)\s*(?:分钟|分|m|min))?\s*(?:(\d+(?:\.\d+)?)\s*(?:秒|s))?$")


def value(raw: str, kind: str) -> float:
    s = str(raw).strip().replace(",", "").replace("¥", "").replace("￥", "").replace("元", "")
    if kind == "seconds":
        if re.fullmatch(r"\d+:\d{1,2}:\d{1,2}", s):
            h, m, sec = (int(x) for x in s.split(":"))
            return float(h * 3600 + m * 60 + sec)
        if re.fullmatch(r"\d+(\.\d+)?", s):
            return float(s)
        m = _DURATION.match(s)
        if not s or not m or not any(m.groups()):
            raise CompassError(f"not a duration: {raw!r}")
        return int(m[1] or 0) * 3600 + int(m[2] or 0) * 60 + float(m[3] or 0)
    scale = 1.0
    if s.endswith("%"):
        s, scale = s[:-1], 0.01
    elif s.endswith("万"):
        s, scale = s[:-1], 1e4
    elif s.endswith("亿"):
        s, scale = s[:-1], 1e8
    try:
        return float(s) * scale
    except ValueError:
        raise CompassError(f"not a number: {raw!r}") from None


def parse(name: str, content: bytes) -> dict:
    """{"figures": {metric: value}, "headers": {metric: header}, "ignored": [headers not read]}."""
    rows = [r for r in read_rows(name, content) if any(c.strip() for c in r)]
    if not rows:
        raise CompassError("the file has no rows")
    if len(rows[0]) >= 2 and rows[0][0].strip() in ("指标", "metric", "指标名称"):
        pairs = [(r[0], r[1]) for r in rows[1:] if len(r) >= 2]
    elif len(rows) >= 2:
        pairs = list(zip(rows[0], rows[1]))
    else:
        raise CompassError("expected a header row and a row of figures, or two columns 指标, 数值")
    figures, headers, ignored = {}, {}, []
    for header, raw in pairs:
        header = header.strip()
        if header not in HEADERS:
            if header:
                ignored.append(header)
            continue
        metric, kind = HEADERS[header]
        if metric in figures or str(raw).strip() in ("", "-", "--"):
            continue
        try:
            figures[metric] = value(raw, kind)
        except CompassError as e:
            raise CompassError(f"{header}: {e}") from None
        headers[metric] = header
    if not figures:
        raise CompassError("no supported header found (docs/connectors.md lists them)")
    return {"figures": figures, "headers": headers, "ignored": ignored}


def record(name: str, parsed: dict, by: str) -> dict:
    return {"file": Path(name).name, "imported_at": time.time(), "by": by, **parsed}


def _get(totals: dict, metric: str):
    v = totals
    for part in metric.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v


def compare(imported: dict, totals: dict) -> list[dict]:
    """A row per imported figure: the platform's, livewall's, the difference and why they can differ."""
    out = []
    for metric, theirs in imported["figures"].items():
        ours = _get(totals, metric)
        diff = None if ours is None else round(ours - theirs, 6)
        why_zh, why_en = WHY.get(metric, ("", ""))
        out.append({"metric": metric, "header": imported["headers"].get(metric), "platform": theirs,
                    "livewall": ours, "difference": diff,
                    "difference_pct": None if diff is None or not theirs else round(diff / theirs * 100, 2),
                    "why_zh": why_zh, "why_en": why_en})
    return out


def main(argv: list[str] | None = None) -> int:
    from settings import add_store_options
    from store.connect import sync_client
    p = argparse.ArgumentParser(prog="python -m feeds.connectors.compass",
                                description="import a 罗盘 (Compass) session export beside a session's review")
    p.add_argument("file", type=Path)
    p.add_argument("--session", required=True)
    add_store_options(p)
    a = p.parse_args(argv)
    if not a.redis_url:
        url = f"unix://{a.data_dir / 'redis' / 'redis.sock'}"
    else:
        url = a.redis_url
    try:
        parsed = parse(a.file.name, a.file.read_bytes())
    except (OSError, CompassError) as e:
        print(f"livewall: {a.file}: {e}", file=sys.stderr)
        return 2
    r = sync_client(url, retries=2)
    if not r.hexists(keys.SESSIONS, a.session):
        print(f"livewall: unknown session {a.session!r}", file=sys.stderr)
        return 2
    r.set(keys.compass(a.session), orjson.dumps(record(a.file.name, parsed, "cli")))
    print(f"imported {len(parsed['figures'])} figures for session {a.session}"
          + (f"; ignored headers: {', '.join(parsed['ignored'])}" if parsed["ignored"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
