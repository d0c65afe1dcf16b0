"""The daily report: yesterday's sessions, a few lines each, to the alert webhook's chat (rules.yaml `webhook:`),
at a configured time (APScheduler cron, insights/jobs.py).

"Yesterday" is the calendar day before the run in the report's timezone; a session belongs to the day it ended
on. Each line: the room, the title, when and how long, GMV, ROI, GMV against the room's earlier sessions
(insights/baseline.py, over the same minutes from the start) and a link to the review on the manager's page.
A day's report goes out once (a set of sent days in Redis), whoever runs the job; a failed post is retried by
the next run. Titles are viewer-facing text: they go through the webhook's `quoted` (inert in every chat).
"""
from __future__ import annotations

import logging
import time
import urllib.parse
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson

from insights import baseline, webhook
from settings import BASELINE_SESSIONS
from store import archive, keys, wire

log = logging.getLogger("livewall.report")


def day_bounds(now: float, tz: str) -> tuple[str, float, float]:
    """(YYYY-MM-DD, start, end) of the day before `now` in `tz`, as epoch seconds [start, end)."""
    zone = ZoneInfo(tz)
    today = datetime.fromtimestamp(now, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today - timedelta(days=1)
    return day.strftime("%Y-%m-%d"), day.timestamp(), today.timestamp()


def ended_between(r, start: float, end: float) -> list[tuple[str, dict]]:
    """(room, session row) of every session that ended in [start, end), by room then start."""
    out = []
    for raw in sorted(r.smembers(keys.ROOMS)):
        room = raw.decode()
        for v in r.hgetall(keys.session_list(room)).values():
            row = orjson.loads(v)
            if row.get("ended") is not None and start <= row["ended"] < end:
                out.append((room, row))
    return sorted(out, key=lambda x: (x[0], x[1]["started"]))


def _final(r, data_dir: Path | None, room: str, session: str) -> dict | None:
    """A session's metrics and series: from the archive once archived, else its frozen figures in Redis, else
    (the room's latest session) the live ones."""
    if data_dir is not None and archive.is_archived(data_dir, session):
        got = archive.read_review(data_dir, session)
        if got:
            return {"metrics": got[0]["totals"], "series": archive.read_series(data_dir, session)}
    blob = r.get(keys.session_final(room, session))
    if blob:
        return orjson.loads(blob)
    snap = r.get(keys.snapshot(room))
    metrics = wire.read_frame(snap).metrics if snap else None
    if not metrics or metrics.get("session") != session:
        return None
    return {"metrics": metrics, "series": orjson.loads(r.get(keys.series(room)) or b"[]")}


def gmv_vs_baseline(r, data_dir: Path | None, room: str, row: dict, rows: list[dict], series: list[dict]
                    ) -> float | None:
    ids = baseline.earlier_sessions(rows, row["started"], BASELINE_SESSIONS)
    earlier = [f["series"] for f in (_final(r, data_dir, room, sid) for sid in ids) if f]
    if not earlier:
        return None
    return next(c["change"] for c in baseline.compare(series, baseline.baseline(earlier)) if c["metric"] == "gmv")


def length(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m"


def line(room: str, row: dict, final: dict | None, change: float | None, url: str, tz: str,
         markdown: bool) -> str:
    zone = ZoneInfo(tz)
    m = (final or {}).get("metrics") or {}
    start = datetime.fromtimestamp(row["started"], zone).strftime("%H:%M")
    end = datetime.fromtimestamp(row["ended"], zone).strftime("%H:%M")
    roi = m.get("roi")
    vs = "—" if change is None else f"{change * 100:+.1f}%"
    title = webhook.quoted(row.get("title") or "")
    name = webhook.plain(room)
    head = f"**{name}**" if markdown else name
    link = f"[复盘 review]({url})" if markdown else url
    return (f"- {head} {title} · {start}–{end} ({length(row['ended'] - row['started'])}) · "
            f"GMV ¥{row.get('gmv', 0):,.2f} · ROI {'—' if roi is None else f'{roi:.2f}'} · "
            f"较往期 vs baseline {vs} · {link}")


def review_url(public_url: str, room: str, session: str) -> str:
    q = urllib.parse.urlencode({"room": room, "session": session})
    return f"{public_url.rstrip('/')}/manager?{q}"


def text(r, data_dir: Path | None, now: float, tz: str, public_url: str, markdown: bool = True
         ) -> tuple[str, str, str]:
    """(day, title, body) of the report for the day before `now`."""
    day, start, end = day_bounds(now, tz)
    sessions = ended_between(r, start, end)
    title = f"livewall 日报 Daily report {day}"
    lines = [f"**{title}**" if markdown else title,
             f"{len(sessions)} 场 sessions · GMV ¥{sum(s.get('gmv', 0) for _, s in sessions):,.2f} ({tz})"]
    rows_by_room: dict[str, list[dict]] = {}
    for room, row in sessions:
        rows = rows_by_room.setdefault(room, [orjson.loads(v) for v in r.hgetall(keys.session_list(room)).values()])
        final = _final(r, data_dir, room, row["session"])
        change = gmv_vs_baseline(r, data_dir, room, row, rows, final["series"]) if final else None
        lines.append(line(room, row, final, change, review_url(public_url, room, row["session"]), tz, markdown))
    if not sessions:
        lines.append("昨天没有结束的场次 No session ended yesterday.")
    return day, title, "\n".join(lines)


def run(r, data_dir: Path | None, conf: dict | None, tz: str, public_url: str, now: float | None = None,
        client: httpx.Client | None = None) -> bool:
    """Send yesterday's report once; True when it went out now."""
    if not conf or not conf.get("url"):
        return False
    now = time.time() if now is None else now
    fmt = conf.get("format", "wecom")
    day, title, body = text(r, data_dir, now, tz, public_url, markdown=fmt != "feishu")
    if not r.sadd(keys.DAILY_REPORT_SENT, day):
        return False
    try:
        url, payload = webhook.message(title, body, conf, now)
        with (client or httpx.Client(timeout=10)) as c:
            ok = webhook.accepted(c.post(url, json=payload))
    except (httpx.HTTPError, ValueError) as e:
        log.warning("daily report %s not sent: %s", day, e)
        ok = False
    if not ok:
        r.srem(keys.DAILY_REPORT_SENT, day)   # the next run tries again
    return ok
