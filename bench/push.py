"""Push to the screens, measured: event->DOM latency under load, web-process CPU per connected screen
against Dash's own websocket callbacks doing the same job, and the JS heap of a wall left running.

    python -m bench.push [--rate 10000] [--rooms 20] [--long] [--only latency,heap,cpu]

1. Latency. A loader process posts pre-built batches at --rate events/s across --rooms rooms. A quiet extra
   room gets marker pays one at a time; a MutationObserver in Chromium stamps (Date.now) when that room's
   GMV text changes; latency = stamp - the moment just before the marker's POST (one machine, one clock).
   Measured on the matrix wall (every room's frames reach the page) and on a one-room wall; the share spent
   in the browser (frame on the socket -> text changed) is printed beside it.
2. CPU per screen. N websocket clients (one asyncio process) each watch one room whose frame, a real
   snapshot, is published 4 times a second. CPU of the web process (its own, not its children) over a fixed
   window, minus the same with no clients, divided by N. Baseline: a minimal Dash app on the same backend
   with websocket_callbacks=True, where each connection runs its own persistent callback pushing the same
   20 numbers with set_props 4 times a second (the frame kept fresh by one subscription, as ours is).
   Both with clients that offer permessage-deflate, as browsers do, and without compression.
3. JS heap. A rotating wall (all rooms, 5 s each) while events flow: JSHeapUsedSize after a forced GC, at
   the start and end of 60 s (--long: 10 minutes).
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import time

import httpx
import orjson
import psutil
import redis

from bench.live import ROOT, Livewall, free_port, simulated_rooms
from store import keys

CHROMIUM = "/usr/bin/chromium"
BATCH = 1000              # events per POST from the loader
MARKERS = 60              # marker pays per screen: enough for p50 to hold still between runs
FRAME_HZ = 4
CPU_WINDOW_S = 5.0
SCREENS = (100, 1000)
BASELINE_FIELDS = ("gmv", "online", "peak_online", "viewers", "visits", "avg_dwell_s", "bounce_2s_rate", "gpm",
                   "uv_value", "orders", "paid_orders", "buyers", "units", "refund_amount", "net_gmv", "ad_spend",
                   "roi", "paid_roi", "comments", "likes")
MARK_ROOM = "bench-mark"
FRAME_ROOM = "bench-frame"


# ---- load ------------------------------------------------------------------------------------------------

def build_events(rooms: list[str], rate: int, seconds: float, seed: int = 1) -> list[dict]:
    """Plausible traffic in every room; `ts` is the offset from the start of posting, in seconds."""
    rng = random.Random(seed)
    n = int(rate * seconds)
    events, inside = [], {r: [] for r in rooms}
    for r in rooms:
        events.append({"id": f"{r}-start", "room": r, "ts": 0.0, "type": "session_start", "platform": "douyin",
                       "title": "bench"})
        events += [{"id": f"{r}-on{k}", "room": r, "ts": 0.0, "type": "product_on", "sku": f"s{k}",
                    "name": f"商品{k}", "price": 99.0, "stock": 10 ** 6} for k in range(8)]
    for i in range(n):
        r = rooms[i % len(rooms)]
        ts = i / rate
        x = rng.random()
        e = {"id": f"{r}-{i}", "room": r, "ts": ts}
        if x < 0.25 or not inside[r]:
            user = f"u{i}"
            inside[r].append(user)
            e.update(type="enter", user=user, source=rng.choice(("recommend", "paid", "follow", "search")))
        elif x < 0.40:
            e.update(type="leave", user=inside[r].pop(rng.randrange(len(inside[r]))))
        elif x < 0.65:
            e.update(type="product_view", user=rng.choice(inside[r]), sku=f"s{rng.randrange(8)}")
        elif x < 0.78:
            e.update(type="product_click", user=rng.choice(inside[r]), sku=f"s{rng.randrange(8)}")
        elif x < 0.84:
            e.update(type="pay", user=rng.choice(inside[r]), sku=f"s{rng.randrange(8)}", order_id=f"o{i}",
                     amount=round(rng.uniform(9, 299), 2))
        elif x < 0.92:
            e.update(type="comment", user=rng.choice(inside[r]), text="好物")
        else:
            e.update(type="like", user=rng.choice(inside[r]), count=rng.randint(1, 20))
        events.append(e)
    return events


def loader(url: str, rooms: list[str], rate: int, seconds: float, ready, posted) -> None:
    """Posts at `rate` events/s for `seconds` (in its own process, so the bench's clock stays its own)."""
    events = build_events(rooms, rate, seconds)
    # stamped only once built (which takes seconds): posting must not start behind and burst to catch up
    t0 = time.time() + 1
    for e in events:
        e["ts"] += t0
    batches = [orjson.dumps(events[k:k + BATCH]) for k in range(0, len(events), BATCH)]
    del events
    client = httpx.Client(base_url=url, timeout=60, headers={"Content-Type": "application/json"})
    ready.set()
    start = time.monotonic() + max(0.0, t0 - time.time())
    for k, body in enumerate(batches):
        delay = start + k * BATCH / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        client.post("/api/events", content=body).raise_for_status()
        posted.value += BATCH


class Load:
    def __init__(self, lw: Livewall, rooms: list[str], rate: int, seconds: float):
        ctx = mp.get_context("spawn")
        self.ready, self.posted = ctx.Event(), ctx.Value("q", 0)
        self.proc = ctx.Process(target=loader, args=(lw.url, rooms, rate, seconds, self.ready, self.posted),
                                daemon=True)
        self.started = 0.0

    def __enter__(self) -> "Load":
        self.proc.start()
        self.ready.wait(120)
        self.started = time.monotonic()
        return self

    def rate(self) -> float:
        return self.posted.value / max(1e-9, time.monotonic() - self.started)

    def __exit__(self, *_exc) -> None:
        self.proc.terminate()
        self.proc.join(5)


# ---- 1. latency ------------------------------------------------------------------------------------------

OBSERVE = """sel => new Promise(done => {
    const wait = () => {
        const el = document.querySelector(sel);
        if (!el || !el.textContent.startsWith('¥')) return requestAnimationFrame(wait);
        window.__marks = [];
        new MutationObserver(() => window.__marks.push(Date.now()))
            .observe(el, {childList: true, characterData: true, subtree: true});
        done();
    };
    wait();
})"""


# when the marker room's frames reach the page: splits the latency into server side and browser side
RECEIVED = """(() => {
    const Socket = window.WebSocket;
    window.__frames = [];
    window.WebSocket = function (url, protocols) {
        const ws = new Socket(url, protocols);
        ws.addEventListener('message', e => {
            if (e.data.startsWith('{"kind":"frame","room":"%s"')) window.__frames.push(Date.now());
        });
        return ws;
    };
    window.WebSocket.prototype = Socket.prototype;
})();""" % MARK_ROOM


def marker_latencies(lw: Livewall, page, query: str, selector: str, first: int) -> tuple[list, list]:
    """(POST -> DOM, frame received -> DOM) per marker, in seconds."""
    lw.sign_in(page).goto(f"{lw.url}/wall?{query}")
    page.evaluate(OBSERVE, selector)
    page.wait_for_timeout(1500)     # first frames of every room applied, chart drawn
    total, browser = [], []
    for k in range(MARKERS):
        # the hero GMV counts up over 400 ms: a change still gliding from the last marker is not this one's
        page.wait_for_function("!window.__marks.length || Date.now() - window.__marks.at(-1) > 500", timeout=20000)
        seen, frames = page.evaluate("[window.__marks.length, window.__frames.length]")
        sent = time.time()
        lw.post([{"id": f"mark-{first + k}", "room": MARK_ROOM, "ts": time.time(), "type": "pay", "user": "m",
                  "sku": "m", "order_id": f"mark-{first + k}", "amount": 1.0}])
        page.wait_for_function(f"window.__marks.length > {seen}", timeout=20000)
        dom, got = page.evaluate(f"[window.__marks[{seen}], window.__frames[{frames}]]")
        total.append(dom / 1000 - sent)
        browser.append((dom - got) / 1000 if got else 0.0)
        page.wait_for_timeout(random.uniform(0, 250))   # off the engine's beat
    return total, browser


def latency(lw: Livewall, browser, rate: int, rooms: int) -> dict:
    names = [f"bench-{i:02d}" for i in range(rooms)]
    lw.post([{"id": "mark-start", "room": MARK_ROOM, "ts": time.time(), "type": "session_start", "platform": "taobao"}])
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.add_init_script(RECEIVED)
    results = {}
    with Load(lw, names, rate, seconds=20 + 2 * MARKERS * 0.75) as load:
        time.sleep(3)
        results["matrix"] = marker_latencies(lw, page, "mode=matrix&lang=en", f'[data-room="{MARK_ROOM}"] [data-metric="gmv"]', 0)
        results["room"] = marker_latencies(lw, page, f"room={MARK_ROOM}&lang=en", ".lw-hero-value", MARKERS)
        results["rate"] = load.rate()
    page.close()
    return results


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


# ---- 2. CPU per screen -----------------------------------------------------------------------------------

def publisher(redis_url: str, room: str, frame: bytes, stop) -> None:
    """The engine's part, and nothing else: a complete frame of `room` FRAME_HZ times a second."""
    r = redis.Redis.from_url(redis_url)
    f = orjson.loads(frame)
    f["room"] = room
    while not stop.wait(1 / FRAME_HZ):
        f["updated"] = time.time()
        r.publish(keys.frames(room), orjson.dumps(f))


async def clients(url: str, n: int, seconds: float, hello: str | None, origin: str, deflate: bool, opened,
                  closed, cookie: str = "") -> int:
    """n websocket screens; counts what they receive during `seconds`, opened 2 s after the last connected."""
    import websockets
    gate = asyncio.Semaphore(50)         # connect 50 at a time, as screens coming up after a restart would
    all_in = asyncio.Event()
    state = {"connected": 0, "counting": False, "got": 0}

    async def screen():
        async with gate:
            ws = await websockets.connect(url, max_size=None, origin=origin, open_timeout=60, ping_interval=None,
                                          additional_headers={"Cookie": cookie} if cookie else None,
                                          compression="deflate" if deflate else None)
        state["connected"] += 1
        if state["connected"] == n:
            all_in.set()
        if hello:
            await ws.send(hello)
        try:
            async for _msg in ws:
                if state["counting"]:
                    state["got"] += 1
        except websockets.ConnectionClosed:
            pass

    tasks = [asyncio.create_task(screen()) for _ in range(n)]
    await asyncio.wait_for(all_in.wait(), 120)
    await asyncio.sleep(2)               # greetings sent, push loops running
    state["counting"] = True
    opened.set()
    await asyncio.sleep(seconds)
    state["counting"] = False
    closed.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return state["got"]


def run_clients(url, n, seconds, hello, origin, deflate, opened, closed, result, cookie) -> None:
    result.value = asyncio.run(clients(url, n, seconds, hello, origin, deflate, opened, closed, cookie))


def cpu_of(pid: int, n: int, url: str = "", hello: str | None = None, origin: str = "",
           deflate: bool = True, cookie: str = "") -> tuple[float, float]:
    """(web-process CPU in % of one core, messages per second per screen) with n screens connected."""
    proc = psutil.Process(pid)
    ctx = mp.get_context("spawn")
    opened, closed, got = ctx.Event(), ctx.Event(), ctx.Value("q", 0)
    child = None
    if n:
        child = ctx.Process(target=run_clients, daemon=True,
                            args=(url, n, CPU_WINDOW_S, hello, origin, deflate, opened, closed, got, cookie))
        child.start()
        if not opened.wait(180):
            raise RuntimeError(f"{n} screens did not connect to {url}")
    t0, c0 = time.monotonic(), proc.cpu_times()
    if child:
        closed.wait(CPU_WINDOW_S + 30)
    else:
        time.sleep(CPU_WINDOW_S)
    t1, c1 = time.monotonic(), proc.cpu_times()
    if child:
        child.join(60)
    busy = c1.user + c1.system - c0.user - c0.system
    return 100 * busy / (t1 - t0), got.value / CPU_WINDOW_S / max(n, 1)


def baseline_app(redis_url: str, room: str):
    """Dash's own way: a persistent websocket callback per connection, pushing with set_props."""
    from dash import Dash, Input, Output, ctx, dcc, html, set_props
    from dash.exceptions import PreventUpdate

    app = Dash(__name__, backend="fastapi", websocket_callbacks=True)
    app.layout = html.Div([dcc.Store(id="go", data=1), html.Div(id="status")] +
                          [html.Div(id=f"m{i}") for i in range(len(BASELINE_FIELDS))])
    latest: dict = {}

    async def subscribe():
        r = redis.asyncio.Redis.from_url(redis_url)
        ps = r.pubsub(ignore_subscribe_messages=True)
        await ps.subscribe(keys.frames(room))
        async for msg in ps.listen():
            latest["metrics"] = orjson.loads(msg["data"])["metrics"]

    @app.callback(Output("status", "children"), Input("go", "data"))
    async def push(_go):
        if "task" not in latest:
            latest["task"] = asyncio.create_task(subscribe())
        ws = ctx.websocket
        while not ws.is_shutdown:
            m = latest.get("metrics")
            if m:
                for i, name in enumerate(BASELINE_FIELDS):
                    set_props(f"m{i}", {"children": f"{m.get(name)}"})
            await asyncio.sleep(1 / FRAME_HZ)
        raise PreventUpdate

    return app


def serve_baseline(port: int, redis_url: str, room: str) -> None:
    import uvicorn
    uvicorn.run(baseline_app(redis_url, room).server, host="127.0.0.1", port=port, log_level="warning",
                ws="websockets-sansio")


DASH_REQUEST = orjson.dumps({"type": "callback_request", "requestId": "1", "rendererId": "bench", "payload": {
    "output": "status.children", "outputs": {"id": "status", "property": "children"},
    "inputs": [{"id": "go", "property": "data", "value": 1}], "state": [], "changedPropIds": ["go.data"]}}).decode()


class Baseline:
    """The Dash app of `baseline_app`, served by uvicorn in its own process."""

    def __init__(self, redis_url: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.redis_url = redis_url

    def __enter__(self) -> "Baseline":
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.push", "--serve-baseline", str(self.port),
                                      self.redis_url], cwd=ROOT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/_dash-layout").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the Dash baseline did not start")

    def __exit__(self, *_exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:   # uvicorn waits for open sockets' callbacks; nothing to save here
            self.proc.kill()
            self.proc.wait()


def cpu_per_screen(lw: Livewall) -> dict:
    frame = redis.Redis.from_url(lw.redis_url).get(keys.snapshot("douyin-01"))
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    pub = ctx.Process(target=publisher, args=(lw.redis_url, FRAME_ROOM, frame, stop), daemon=True)
    pub.start()
    out = {"frame_bytes": len(frame)}
    origin = lw.url
    out["ours_idle"] = cpu_of(lw.pid, 0)[0]
    for deflate in (True, False):
        for n in SCREENS:
            out["ours", n, deflate] = cpu_of(lw.pid, n, f"ws://127.0.0.1:{lw.port}/ws?rooms={FRAME_ROOM}", None,
                                             origin, deflate, f"lw_session={lw.http.cookies['lw_session']}")
    try:
        out["dash_idle"] = None
        for deflate in (True, False):
            for n in SCREENS:
                if n == max(SCREENS) and not deflate:
                    out["dash", n, deflate] = out["dash", n, True]    # saturated either way: spare a minute
                    continue
                # a fresh process each time: a saturated one is still busy with the last run's backlog
                with Baseline(lw.redis_url) as base:
                    if out["dash_idle"] is None:
                        out["dash_idle"] = cpu_of(base.pid, 0)[0]
                    out["dash", n, deflate] = cpu_of(base.pid, n, f"ws://127.0.0.1:{base.port}/_dash-ws-callback",
                                                     DASH_REQUEST, base.url, deflate)
    finally:
        stop.set()
        pub.join(5)
    return out


# ---- 3. JS heap ------------------------------------------------------------------------------------------

def heap(lw: Livewall, browser, seconds: float, rooms: int) -> dict:
    names = [f"bench-{i:02d}" for i in range(rooms)]
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def used_mb() -> float:
        cdp.send("HeapProfiler.collectGarbage")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return metrics["JSHeapUsedSize"] / 2 ** 20

    with Load(lw, names, 2000, seconds + 40):
        lw.sign_in(page).goto(f"{lw.url}/wall?rotate=5&lang=en")
        page.wait_for_timeout(10000)        # rooms seen, chart and fonts loaded
        start = used_mb()
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            page.wait_for_timeout(1000)
        end = used_mb()
    page.close()
    return {"start": start, "end": end, "seconds": seconds}


# ---- report ----------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description="push latency, CPU per screen and JS heap of the wall")
    ap.add_argument("--rate", type=int, default=10000, help="events/s during the latency run")
    ap.add_argument("--rooms", type=int, default=20)
    ap.add_argument("--long", action="store_true", help="watch the JS heap for 10 minutes instead of 1")
    ap.add_argument("--only", default="latency,heap,cpu", help="comma-separated parts to run")
    ap.add_argument("--serve-baseline", nargs=2, metavar=("PORT", "REDIS_URL"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve_baseline:
        serve_baseline(int(a.serve_baseline[0]), a.serve_baseline[1], FRAME_ROOM)
        return
    from playwright.sync_api import sync_playwright
    only = set(a.only.split(","))
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores "
          "(other work on the machine skews every figure below)", flush=True)
    with Livewall() as lw:
        print("a real snapshot to push: simulating douyin-01 …", flush=True)
        lw.post([e for e in simulated_rooms(["douyin-01"], 1200) if e["ts"] <= time.time()])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            if "latency" in only:
                report_latency(latency(lw, browser, a.rate, a.rooms), a.rooms)
            if "heap" in only:
                report_heap(heap(lw, browser, 600 if a.long else 60, a.rooms))
            browser.close()
        if "cpu" in only:
            report_cpu(cpu_per_screen(lw))
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def report_latency(lat: dict, rooms: int) -> None:
    print(f"\n1. event -> DOM latency, Chromium, {lat['rate']:,.0f} events/s posted across {rooms} rooms "
          f"(+1 marker room), {MARKERS} markers per screen")
    print(f"   {'screen':<24}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'in browser p50/p99':>20}"
          "   target p50 <= 150, p99 <= 400")
    for name, (xs, inside) in (("matrix (every room)", lat["matrix"]), ("one room (hero GMV)", lat["room"])):
        ms, br = [x * 1000 for x in xs], [x * 1000 for x in inside]
        p50, p99 = statistics.median(ms), pct(ms, 0.99)
        print(f"   {name:<24}{p50:>8.0f}{p99:>8.0f}{max(ms):>8.0f}{statistics.median(br):>12.0f} /{pct(br, 0.99):>5.0f}"
              f"   p50 {p50 / 150:.2f}x of target, p99 {p99 / 400:.2f}x", flush=True)
    print("   in browser: from the frame's arrival on the socket to the text change (the rest is ingest, engine, hub)")


def report_cpu(cpu: dict) -> None:
    print(f"\n2. web-process CPU per connected screen, {FRAME_HZ} updates/s of one room "
          f"(livewall frame {cpu['frame_bytes'] / 1024:.1f} KiB, Dash {len(BASELINE_FIELDS)} set_props; "
          "% of one core, idle subtracted)")
    print(f"   {'':<30}{'screens':>8}{'livewall hub':>14}{'msg/s':>7}{'Dash ws callbacks':>19}{'msg/s':>7}{'ratio':>8}")
    for deflate, label in ((True, "permessage-deflate (browsers)"), (False, "no compression")):
        for n in SCREENS:
            ours, ours_hz = cpu["ours", n, deflate]
            base, base_hz = cpu["dash", n, deflate]
            o = max(1e-9, ours - cpu["ours_idle"]) / n
            b = max(1e-9, base - cpu["dash_idle"]) / n
            # cost per update delivered; a saturated baseline delivers next to none, so it gets no ratio
            saturated = base_hz < FRAME_HZ / 2
            ratio = "  n/a" if saturated else f"{(b / base_hz) / (o / max(ours_hz, 1e-9)):>6.1f}x"
            note = "  Dash saturated: updates not delivered" if saturated else ""
            if n == max(SCREENS) and not deflate:
                note += " (measured once, with deflate)"
            print(f"   {label:<30}{n:>8}{o:>13.3f}%{ours_hz:>7.2f}{b:>18.3f}%{base_hz:>7.2f}{ratio:>8}{note}")
            label = ""
    print("   web process in total (% of one core): " + ", ".join(
        f"{who} {n} screens{' deflate' if d else ''} {cpu[who, n, d][0]:.0f}%"
        for who in ("ours", "dash") for d in (True, False) for n in SCREENS))
    print("   msg/s is what each screen received; target: >= 10x cheaper per update.", flush=True)


def report_heap(mem: dict) -> None:
    growth = mem["end"] - mem["start"]
    note = "" if mem["seconds"] >= 600 else "; a short window, --long watches 10 minutes"
    print(f"\n3. JS heap of a rotating wall, {mem['seconds'] / 60:.0f} min with events flowing: "
          f"{mem['start']:.1f} MB -> {mem['end']:.1f} MB after GC, growth {growth:+.1f} MB "
          f"(target < 20 MB{note})", flush=True)


if __name__ == "__main__":
    main()
