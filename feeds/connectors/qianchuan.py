"""巨量千川 (Qianchuan): OAuth, the ad platform adapter over its Open API, and the live report poller.

Endpoints, fields and units are those of the public Go SDK `bububa/oceanengine` (marketing-api/api/qianchuan,
marketing-api/model/qianchuan, marketing-api/api/oauth), gateway https://ad.oceanengine.com/open_api/:

| what | call | body / query |
|---|---|---|
| refresh the token | POST oauth2/refresh_token/ | {app_id, secret, grant_type: "refresh_token", refresh_token} -> data {access_token, refresh_token, expires_in, refresh_token_expires_in} |
| budget, standard | POST v1.0/qianchuan/ad/budget/update/ | {advertiser_id, data: [{ad_id, budget}]} -> data {ad_ids, errors: [{ad_id, error_code, error_message}]} |
| budget, 全域 | POST v1.0/qianchuan/uni_promotion/ad/budget/update/ | {advertiser_id, update_budget_infos: [{ad_id, budget}]} -> data {results: [{ad_id, status: SUCCESS or FAILED, error_message}]} |
| ROI goal, standard | POST v1.0/qianchuan/roi/goal/update/ | {advertiser_id, roi_goal_updates: [{ad_id, roi_goal}]} -> data {results: [{ad_id, flag (sic: the SDK spells it `flat`), error_message}]} |
| ROI goal, 全域 | POST v1.0/qianchuan/uni_promotion/ad/roi2_goal/update/ | {advertiser_id, update_roi2_infos: [{ad_id, roi2_goal}]} -> data {results: [...as budget, 全域]} |
| pause / resume, standard | POST v1.0/qianchuan/ad/status/update/ | {advertiser_id, ad_ids, opt_status: DISABLE or ENABLE} -> as budget, standard |
| pause / resume, 全域 | POST v1.0/qianchuan/uni_promotion/ad/status/update/ | {advertiser_id, ad_ids, opt_status} -> data {results: [{ad_id, flag, error}]} |
| learning period | GET v1.0/qianchuan/ad/learning_status/get/ | advertiser_id, ad_ids (JSON) -> data {list: [{ad_id, status: LEARNING, LEARNED, LEARN_FAILED, DEFAULT}]} |
| live report | GET v1.0/qianchuan/report/ad/get/ | advertiser_id, start_date, end_date (YYYY-MM-DD), fields (JSON), filtering (JSON {ad_ids}), page, page_size -> data {list: [{ad_id, stat_cost (yuan), show_cnt, click_cnt, pay_order_amount}], page_info} |

Every call sends the header `Access-Token`; every answer is {code, message, request_id, data}, code 0 = success.

Not confirmed from a public SDK or doc, so written down here rather than guessed silently:
- the 全域 budget path: the SDK's AdBudgetUpdate posts to `uni_promotion/ad/name/update/` (a copy-paste slip,
  its request carries `update_budget_infos`); this module uses `uni_promotion/ad/budget/update/`;
- the error codes (the SDK has no table): 40100 "too many requests", 40102 and 40105 access token expired or
  invalid, 40103 refresh token expired. They are the constants below, one place to correct them;
- what the platform says when a change is refused because the ad is learning: the adapter asks the
  learning-status call first (standard ads; the SDK has no such call for 全域 ads) and also treats a refusal
  whose message names 学习期 as one;
- the report's `ad_id` and metrics at the top level of each row (the SDK's Stat embeds both; a nested
  `metrics` object is read too);
- 全域 campaigns' spend: the SDK's uni_promotion report is per advertiser and day, not per ad, so the poller
  reads standard ads only (a 全域 campaign's spend is not polled yet).

Budgets: livewall speaks yuan per hour; Qianchuan's ad budget is per day. The adapter sends budget_per_hour ×
`budget_hours` (per connector, default 24), rounded to the cent. Qianchuan refuses a change under ¥100 (SDK
doc of UpdateBudget); such a change is not sent, and the audit log says why.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from zoneinfo import ZoneInfo

import httpx
import orjson

from feeds import ingest
from feeds.connectors.base import PlatformError
from feeds.connectors.config import ConfigError, secret
from insights import audit
from settings import CONNECTOR_POLL_S, CONNECTOR_TIMEOUT_S, CONNECTOR_TOKEN_MARGIN_S
from store import keys

log = logging.getLogger("livewall.connectors.qianchuan")
DEFAULT_BASE = "https://ad.oceanengine.com/open_api/"
RATE_LIMITED = {40100}
TOKEN_EXPIRED = {40102, 40105}
REFRESH_EXPIRED = {40103}
LEARNING_WORD = "学习期"
MIN_BUDGET_STEP = 100.0      # yuan: the platform refuses smaller budget changes
DEFAULT_RETRY_AFTER_S = 1.0  # a rate limit without a Retry-After header waits at least this
CHINA = ZoneInfo("Asia/Shanghai")   # the platform's report day
REPORT_FIELDS = ["stat_cost", "show_cnt", "click_cnt", "pay_order_amount"]


class Client:
    """Calls to the Open API with a valid access token: refreshed `CONNECTOR_TOKEN_MARGIN_S` before it expires,
    and at once when the platform says it has expired. The tokens live in Redis (keys.connector_token): a
    refresh token works once, so the latest must survive a restart. The first start takes the refresh token
    (and optionally an access token) from the config's env/file."""

    def __init__(self, r, cfg: dict, http: httpx.Client | None = None):
        self.r, self.cfg, self.name = r, cfg, cfg["name"]
        self.base = str(cfg.get("base_url") or DEFAULT_BASE).rstrip("/") + "/"
        self.app_id = int(cfg["app_id"])
        self.app_secret = secret(cfg, "app_secret")
        self.http = http or httpx.Client(timeout=CONNECTOR_TIMEOUT_S)
        self.token = self._load_token()

    def _load_token(self) -> dict:
        stored = self.r.get(keys.connector_token(self.name))
        if stored:
            return orjson.loads(stored)
        refresh = secret(self.cfg, "refresh_token")
        access = secret(self.cfg, "access_token", required=False)
        # an access token from the config has an unknown age: the first call refreshes it
        return {"access_token": access, "refresh_token": refresh, "expires_at": 0.0}

    def access_token(self) -> str:
        if not self.token.get("access_token") or self.token["expires_at"] - time.time() < CONNECTOR_TOKEN_MARGIN_S:
            self.refresh()
        return self.token["access_token"]

    def refresh(self) -> None:
        body = {"app_id": self.app_id, "secret": self.app_secret, "grant_type": "refresh_token",
                "refresh_token": self.token["refresh_token"]}
        data = self._answer(self._send("POST", "oauth2/refresh_token/", json=body), "oauth2/refresh_token/")
        self.token = {"access_token": data["access_token"], "refresh_token": data["refresh_token"],
                      "expires_at": time.time() + float(data.get("expires_in", 86400))}
        self.r.set(keys.connector_token(self.name), orjson.dumps(self.token))
        log.info("%s: access token refreshed (expires in %s s)", self.name, data.get("expires_in"))

    def call(self, method: str, path: str, params: dict | None = None, body: dict | None = None):
        """The `data` of a successful answer; PlatformError otherwise. A token the platform calls expired is
        refreshed and the call sent once more."""
        for attempt in (1, 2):
            headers = {"Access-Token": self.access_token()}
            query = {k: (orjson.dumps(v).decode() if isinstance(v, (list, dict)) else v)
                     for k, v in (params or {}).items()}
            resp = self._send(method, path, params=query or None, json=body, headers=headers)
            try:
                return self._answer(resp, path)
            except PlatformError as e:
                if e.code in TOKEN_EXPIRED and attempt == 1:
                    self.refresh()
                    continue
                raise

    def _send(self, method: str, path: str, **kw) -> httpx.Response:
        try:
            return self.http.request(method, self.base + path, **kw)
        except httpx.HTTPError as e:
            raise PlatformError(f"{path}: {type(e).__name__}") from None

    def _answer(self, resp: httpx.Response, path: str):
        retry_after = _retry_after(resp)
        if resp.status_code == 429:
            raise PlatformError(f"{path}: rate limited (HTTP 429)", 429, retry_after or DEFAULT_RETRY_AFTER_S)
        if resp.status_code >= 400:
            raise PlatformError(f"{path}: HTTP {resp.status_code}", resp.status_code, retry_after)
        try:
            doc = resp.json()
        except ValueError:
            raise PlatformError(f"{path}: the answer is not JSON") from None
        code = doc.get("code")
        if code == 0:
            return doc.get("data") or {}
        message = str(doc.get("message", ""))[:200]
        if code in RATE_LIMITED:
            raise PlatformError(f"{path}: rate limited: {message}", code, retry_after or DEFAULT_RETRY_AFTER_S)
        if code in REFRESH_EXPIRED:
            raise PlatformError(f"{path}: the refresh token has expired: authorize the app again and put the "
                                f"new refresh token in the config's refresh_token_env/_file", code)
        raise PlatformError(f"{path}: {message}", code, retry_after)


def _retry_after(resp: httpx.Response) -> float | None:
    raw = resp.headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


class Refused(Exception):
    """The platform answered but did not take the change for this ad (its reason in the message)."""


class Learning(Refused):
    """The ad is in its learning period: changing it now would restart learning, so nothing is sent."""


class QianchuanAdapter:
    """The AdPlatform protocol (insights/adapter.py) over the Open API. `campaigns`: (room, campaign) ->
    {"ad_id", "kind": "standard" or "uni"}. Each call returns what the platform took, or raises Refused
    (Learning for an ad in its learning period) or PlatformError."""

    def __init__(self, client: Client, advertiser_id: int, campaigns: dict, budget_hours: float = 24.0):
        self.client, self.advertiser_id, self.campaigns = client, int(advertiser_id), campaigns
        self.budget_hours = float(budget_hours)

    def _ad(self, room: str, campaign: str) -> tuple[int, bool]:
        ad = self.campaigns.get((room, campaign))
        if ad is None:
            raise Refused(f"campaign {campaign!r} of room {room!r} has no Qianchuan ad in the connectors config")
        return int(ad["ad_id"]), ad.get("kind", "standard") == "uni"

    def set_budget(self, room: str, campaign: str, yuan_per_hour: float, previous: float | None = None, **who):
        ad_id, uni = self._ad(room, campaign)
        budget = round(float(yuan_per_hour) * self.budget_hours, 2)
        if previous is not None and abs(budget - previous * self.budget_hours) < MIN_BUDGET_STEP:
            raise Refused(f"a daily budget change under ¥{MIN_BUDGET_STEP:.0f} is refused by Qianchuan "
                          f"(¥{previous * self.budget_hours:.2f} -> ¥{budget:.2f}): not sent")
        if not uni:
            self._not_learning(ad_id)
            data = self.client.call("POST", "v1.0/qianchuan/ad/budget/update/",
                                    body={"advertiser_id": self.advertiser_id, "data": [{"ad_id": ad_id, "budget": budget}]})
            _check_standard(data, ad_id)
        else:
            data = self.client.call("POST", "v1.0/qianchuan/uni_promotion/ad/budget/update/",
                                    body={"advertiser_id": self.advertiser_id,
                                          "update_budget_infos": [{"ad_id": ad_id, "budget": budget}]})
            _check_results(data, ad_id)
        return {"ad_id": ad_id, "budget": budget}

    def set_roi_target(self, room: str, campaign: str, roi: float, **who):
        ad_id, uni = self._ad(room, campaign)
        goal = round(float(roi), 2)
        if not uni:
            self._not_learning(ad_id)
            data = self.client.call("POST", "v1.0/qianchuan/roi/goal/update/",
                                    body={"advertiser_id": self.advertiser_id,
                                          "roi_goal_updates": [{"ad_id": ad_id, "roi_goal": goal}]})
        else:
            data = self.client.call("POST", "v1.0/qianchuan/uni_promotion/ad/roi2_goal/update/",
                                    body={"advertiser_id": self.advertiser_id,
                                          "update_roi2_infos": [{"ad_id": ad_id, "roi2_goal": goal}]})
        _check_results(data, ad_id)
        return {"ad_id": ad_id, "roi_goal": goal}

    def pause(self, room: str, campaign: str, **who):
        return self._status(room, campaign, "DISABLE")

    def resume(self, room: str, campaign: str, **who):
        return self._status(room, campaign, "ENABLE")

    def _status(self, room: str, campaign: str, opt: str):
        ad_id, uni = self._ad(room, campaign)
        path = "v1.0/qianchuan/uni_promotion/ad/status/update/" if uni else "v1.0/qianchuan/ad/status/update/"
        data = self.client.call("POST", path, body={"advertiser_id": self.advertiser_id, "ad_ids": [ad_id],
                                                    "opt_status": opt})
        (_check_results if uni else _check_standard)(data, ad_id)
        return {"ad_id": ad_id, "opt_status": opt}

    def _not_learning(self, ad_id: int) -> None:
        data = self.client.call("GET", "v1.0/qianchuan/ad/learning_status/get/",
                                params={"advertiser_id": self.advertiser_id, "ad_ids": [ad_id]})
        for row in data.get("list") or []:
            if int(row.get("ad_id", 0)) == ad_id and row.get("status") == "LEARNING":
                raise Learning(f"ad {ad_id} is in its learning period (学习期): no change sent")


def _refusal(message: str) -> Refused:
    return Learning(message) if LEARNING_WORD in message else Refused(message)


def _check_standard(data: dict, ad_id: int) -> None:
    for err in data.get("errors") or []:
        if int(err.get("ad_id") or err.get("object_id") or 0) == ad_id:
            raise _refusal(f"ad {ad_id}: {err.get('error_message', '')} (error_code {err.get('error_code')})")
    if ad_id not in [int(x) for x in data.get("ad_ids") or []]:
        raise Refused(f"ad {ad_id}: not among the updated ads")


def _check_results(data: dict, ad_id: int) -> None:
    for res in data.get("results") or []:
        if int(res.get("ad_id", 0)) != ad_id:
            continue
        ok = res.get("status") == "SUCCESS" or res.get("flag") in (1, True) or res.get("flat") in (1, True)
        if not ok:
            err = res.get("error_message") or (res.get("error") or {}).get("message") or "refused"
            raise _refusal(f"ad {ad_id}: {err}")
        return
    raise Refused(f"ad {ad_id}: not in the platform's results")


class Connector:
    """One Qianchuan advertiser: carries approved changes of its rooms' campaigns to the platform, and turns
    the live report into ad_spend events.

    Changes: the approved (or auto-applied) settings are written by insights/adapter.py to each room's control
    hash, versioned; this connector is one more reader of that hash, as the simulator is for simulated rooms.
    Each campaign's newest version above the one it last carried is compared with the last carried settings
    and sent (budget, ROI goal, pause or resume), then recorded in the audit log (`platform_applied`,
    `platform_refused`, `platform_learning`, `platform_failed`) under `connector:<name>`. A refused or
    learning change is not retried; a failed call (rate limit, network) is, at the next round.

    Spend: every `poll_s` the day's report per ad; what grew since the last report becomes one ad_spend event
    with id `qc:<advertiser>:<ad>:<day>:<cost in cents at the window's start>`, so the same window always
    makes the same id. The day's cumulative figures and the event are written to keys.connector_spend before
    the event is stored; a restart stores the saved events again (duplicates, or the one a crash lost)."""

    kind = "qianchuan"

    def __init__(self, r, cfg: dict, http: httpx.Client | None = None):
        self.r, self.cfg, self.name = r, cfg, cfg["name"]
        self.client = Client(r, cfg, http)
        self.advertiser_id = int(cfg["advertiser_id"])
        self.campaigns: dict[tuple[str, str], dict] = {}
        self.by_ad: dict[int, tuple[str, str]] = {}
        for room, spec in (cfg.get("rooms") or {}).items():
            for campaign, ad in ((spec or {}).get("campaigns") or {}).items():
                if "ad_id" not in (ad or {}):
                    raise ConfigError(f"connector {self.name}: campaign {campaign} of {room} needs an ad_id")
                self.campaigns[(room, str(campaign))] = ad
                self.by_ad[int(ad["ad_id"])] = (room, str(campaign))
        self.adapter = QianchuanAdapter(self.client, self.advertiser_id, self.campaigns,
                                        cfg.get("budget_hours", 24))
        self.poll_s = float(cfg.get("poll_s", CONNECTOR_POLL_S))
        self.every_s = min(self.poll_s, float(cfg.get("control_s", 5.0)))
        self.next_report = 0.0
        self.recovered = False

    def step(self) -> float | None:
        if not self.recovered:
            self._store_saved()
            self.recovered = True
        self.apply_controls()
        if time.time() >= self.next_report:
            lag = self.poll_report()
            self.next_report = time.time() + self.poll_s
            return lag
        return None

    # -- changes ------------------------------------------------------------------------------------------

    def apply_controls(self) -> None:
        for room in sorted({room for room, _ in self.campaigns}):
            entries = {k.decode(): orjson.loads(v) for k, v in self.r.hgetall(keys.ad_control(room)).items()}
            for campaign, entry in sorted(entries.items()):
                if (room, campaign) in self.campaigns:
                    self._carry(room, campaign, entry)

    def _carry(self, room: str, campaign: str, entry: dict) -> None:
        """Send what differs between the newest entry and what was last carried, one setting at a time; each one
        the platform took is recorded at once, so a retry after a failure sends only what is left."""
        field = f"{room}|{campaign}"
        carried = orjson.loads(self.r.hget(keys.connector_applied(self.name), field) or b"{}")
        if entry.get("version", 0) <= carried.get("version", 0):
            return
        who = {"by": entry.get("by"), "suggestion": entry.get("suggestion")}
        paused, budget, roi = bool(entry.get("paused")), entry.get("budget_per_hour"), entry.get("roi_target")
        steps = []
        if paused != bool(carried.get("paused")):
            steps.append(("paused", paused, lambda: (self.adapter.pause if paused else self.adapter.resume)(
                room, campaign, **who)))
        if budget is not None and budget != carried.get("budget_per_hour"):
            steps.append(("budget_per_hour", budget, lambda: self.adapter.set_budget(
                room, campaign, budget, previous=carried.get("budget_per_hour"), **who)))
        if roi is not None and roi != carried.get("roi_target"):
            steps.append(("roi_target", roi, lambda: self.adapter.set_roi_target(room, campaign, roi, **who)))
        done, outcome, error = [], "platform_applied", None
        for name, value, send in steps:
            try:
                done.append(send())
            except Learning as e:
                outcome, error = "platform_learning", str(e)
                break
            except Refused as e:
                outcome, error = "platform_refused", str(e)
                break
            except PlatformError as e:
                # not carried yet: the next round sends what is left (after the loop's backoff)
                self.r.hset(keys.connector_applied(self.name), field, orjson.dumps(carried))
                self._audit("platform_failed", room, campaign, entry, sent=done, error=str(e))
                raise
            carried[name] = value
        # a refused or learning change is not retried: the entry's version is done with either way
        carried["version"] = entry["version"]
        self.r.hset(keys.connector_applied(self.name), field, orjson.dumps(carried))
        self._audit(outcome, room, campaign, entry, sent=done, error=error)

    def _audit(self, kind: str, room: str, campaign: str, entry: dict, **extra) -> None:
        # `suggestion` here is the id the control entry carries (audit.entry takes a whole suggestion)
        audit.record(self.r, {**audit.entry(kind, room, f"connector:{self.name}", **extra), "campaign": campaign,
                              "version": entry.get("version"), "suggestion": entry.get("suggestion"),
                              "action": entry.get("action"), "approved_by": entry.get("by")})

    # -- spend --------------------------------------------------------------------------------------------

    def poll_report(self) -> None:
        """No lag is reported: the report carries no time of its own newer than the day."""
        day = dt.datetime.now(CHINA).strftime("%Y-%m-%d")
        ad_ids = sorted(self.by_ad)
        page, rows = 1, []
        while True:
            data = self.client.call("GET", "v1.0/qianchuan/report/ad/get/", params={
                "advertiser_id": self.advertiser_id, "start_date": day, "end_date": day, "fields": REPORT_FIELDS,
                "filtering": {"ad_ids": ad_ids}, "page": page, "page_size": 100})
            rows += data.get("list") or []
            info = data.get("page_info") or {}
            if page >= int(info.get("total_page", 1) or 1):
                break
            page += 1
        now = time.time()
        events = [e for e in (self._spend_event(row, day, now) for row in rows) if e]
        if events:
            ingest.ingest_sync(self.r, events)
        return None

    def _spend_event(self, row: dict, day: str, now: float) -> dict | None:
        fig = {**row, **(row.get("metrics") or {})}
        ad_id = int(fig.get("ad_id", 0))
        if ad_id not in self.by_ad:
            return None
        room, campaign = self.by_ad[ad_id]
        cost, show, click = round(float(fig.get("stat_cost") or 0) * 100), int(fig.get("show_cnt") or 0), \
            int(fig.get("click_cnt") or 0)
        field = f"{ad_id}:{day}"
        prev = orjson.loads(self.r.hget(keys.connector_spend(self.name), field) or b'{"cost":0,"show":0,"click":0}')
        # a platform correction downwards is not negative spend: the next growth counts from the higher figure
        if cost <= prev["cost"] and show <= prev["show"] and click <= prev["click"]:
            return None
        event = {"id": f"qc:{self.advertiser_id}:{ad_id}:{day}:{prev['cost']}", "room": room, "ts": now,
                 "type": "ad_spend", "platform": "douyin", "campaign": campaign,
                 "amount": max(0, cost - prev["cost"]) / 100, "impressions": max(0, show - prev["show"]),
                 "clicks": max(0, click - prev["click"]), "connector": self.name,
                 "platform_paid_gmv_today": float(fig.get("pay_order_amount") or 0)}
        saved = {"cost": max(cost, prev["cost"]), "show": max(show, prev["show"]),
                 "click": max(click, prev["click"]), "event": event}
        self.r.hset(keys.connector_spend(self.name), field, orjson.dumps(saved))
        return event

    def _store_saved(self) -> None:
        """Store again each ad's last event: a crash between saving it and storing it loses nothing."""
        saved = [orjson.loads(v)["event"] for v in self.r.hvals(keys.connector_spend(self.name))]
        if saved:
            ingest.ingest_sync(self.r, saved)
