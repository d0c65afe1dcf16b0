"""The daily report reaches a chat webhook (a local HTTP server standing in for the WeCom bot, speaking its
documented JSON) with yesterday's sessions in a line each: room, title (inert), GMV, ROI, GMV against the
room's earlier sessions, a link to the review. Sessions go through the whole app; the job is triggered
directly."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import redis

from insights import report
from tests.test_export import ended, session_events

TZ = "Asia/Shanghai"


class Bot:
    """A chat bot's webhook on a free port: records every JSON body, answers {"errcode": 0}."""

    def __init__(self):
        self.bodies: list[dict] = []
        bot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                bot.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                out = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send?key=test"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def bot():
    b = Bot()
    yield b
    b.close()


def test_yesterdays_sessions_reach_the_chat_once(system, bot):
    now = time.time()
    midnight = datetime.fromtimestamp(now, ZoneInfo(TZ)).replace(hour=0, minute=0, second=0, microsecond=0)
    yday = (midnight - timedelta(days=1)).timestamp()
    room = "rep-room"
    # an earlier session (two days ago): the baseline; then two sessions yesterday
    earlier = session_events(room, yday - 86400 + 10 * 3600, [(20, "p1", 50.0), (70, "p2", 51.0)], title="前天")
    first = session_events(room, yday + 10 * 3600, [(20, "p1", 50.0)], title="[点我](http://evil.example) **大促**")
    second = session_events(room, yday + 20 * 3600, [(20, "p1", 50.0), (30, "p2", 51.0), (80, "p1", 50.0)],
                            title="晚场")
    ids = [ended(system, room, evs) for evs in (earlier, first, second)]
    other = session_events("rep-other", now - 600, [(5, "p1", 50.0)], title="今天", minutes=3)   # today: not in it
    ended(system, "rep-other", other)

    r = redis.Redis.from_url(system.redis_url)
    conf = {"url": bot.url, "format": "wecom"}
    assert report.run(r, system.data_dir, conf, TZ, "http://livewall.example:8050", now=now)
    [body] = bot.bodies
    text = body["markdown"]["content"]
    day = (midnight - timedelta(days=1)).strftime("%Y-%m-%d")
    assert day in text.splitlines()[0]
    lines = [ln for ln in text.splitlines() if ln.startswith("- ")]
    assert len(lines) == 2 and all("rep-room" in ln for ln in lines)
    assert "rep-other" not in text
    first_line, second_line = lines
    # the viewer-facing title is inert: no link, no bold from it
    assert "](http" not in first_line.split("复盘 review")[0] and "evil.example" not in first_line
    assert "**大促**" not in first_line
    assert "GMV ¥50.00" in first_line and "GMV ¥151.00" in second_line
    for sid, ln in zip(ids[1:], lines):
        assert f"(http://livewall.example:8050/manager?room=rep-room&session={sid.replace('@', '%40')})" in ln
    # vs baseline: GMV over the minutes both sessions have, against the session of two days ago (independent)
    assert "vs baseline -50.5%" in first_line      # 50 against 50 + 51 over the same minutes
    assert "vs baseline +100.0%" in second_line    # 151 against the mean of both earlier: (50+50)/2 + (51+0)/2
    assert "ROI 0.56" in first_line                # 50 / 88.8
    # once a day
    assert not report.run(r, system.data_dir, conf, TZ, "http://livewall.example:8050", now=now)
    assert len(bot.bodies) == 1
