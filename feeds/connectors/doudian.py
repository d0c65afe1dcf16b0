"""抖店 (Douyin shop) orders: the signed Open API call and the order poller (order, pay, refund events).

The call (抖店开放平台, gateway https://openapi-fxg.jinritemai.com; as public SDKs send it, e.g. the TypeScript
client whose doc cites op.jinritemai.com/docs/guide-docs/10/23): POST `/<method with dots as slashes>`
(`order.searchList` -> `/order/searchList`) with the query `method, app_key, access_token, timestamp, v=2,
sign, sign_method` and the body `param_json`: the business parameters as compact JSON with keys sorted
(recursively). The sign is over `app_secret + "app_key" + app_key + "method" + method + "param_json" +
param_json + "timestamp" + timestamp + "v" + v + app_secret`: its MD5 hex (`sign_method=md5`) or its
HMAC-SHA256 hex keyed with app_secret (`hmac-sha256`). An answer is {code, msg, sub_code, sub_msg, data}; code
10000 = success.

Orders: `order.searchList` with `update_time_start`, `update_time_end` (epoch seconds), `order_by:
update_time`, `order_asc: true`, `page` (from 0), `size` (at most 100) -> data {shop_order_list, total}. Each
shop order: `order_id`, `create_time`, `pay_time` (0 unpaid), `update_time`, `doudian_open_id` (the buyer),
`sku_order_list`: [{`order_id` (the line), `sku_id`, `product_name`, `item_num`, `order_amount`, `pay_amount`
(fen), `room_id`, `after_sale_info`: {`refund_status`, `refund_amount`}}].

Not confirmed from a public SDK or doc, written down rather than guessed silently: the field that ties a line to
a live room (`room_id`, also read as `room_id_str`), `refund_status == 3` meaning "refunded", `refund_amount`
in the after-sale info (else the line's pay amount), and which codes mean "too many requests" (RATE_LIMITED
below; HTTP 429 too).

Tokens: with only `access_token_env`/`_file` the token is used as given. With `refresh_token_env`/`_file` too, the
connector calls `token.refresh` ({grant_type: "refresh_token", refresh_token}, signed, no access token) at its
first start and then `CONNECTOR_TOKEN_MARGIN_S` before `expires_in` runs out, keeping the latest pair in Redis
(keys.connector_token): as public SDKs show the call. Which answer codes mean "token expired" is not confirmed,
so there is no refresh on an error code.

Stable ids: `dd:<line order_id>:order|pay|refund`; the cursor, its overlap and the paging are the shared
order poller's (feeds/connectors/orders.py), which Kuaishou 小店 and Taobao sources would plug into.
"""
from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import orjson

from feeds.connectors import orders
from feeds.connectors.base import PlatformError
from feeds.connectors.config import ConfigError, secret
from settings import CONNECTOR_TIMEOUT_S, CONNECTOR_TOKEN_MARGIN_S
from store import keys

DEFAULT_BASE = "https://openapi-fxg.jinritemai.com"
OK = 10000
RATE_LIMITED = {50002}
REFUNDED = 3
PAGE_SIZE = 100


def sorted_json(params: dict) -> str:
    """param_json: compact, keys sorted at every level."""
    return orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()


def sign(app_key: str, app_secret: str, method: str, param_json: str, timestamp: str, v: str = "2",
         sign_method: str = "hmac-sha256") -> str:
    text = f"{app_secret}app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{v}{app_secret}"
    if sign_method == "md5":
        return hashlib.md5(text.encode()).hexdigest()
    return hmac.new(app_secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class Client:
    def __init__(self, cfg: dict, http: httpx.Client | None = None, r=None):
        self.name, self.r = cfg["name"], r
        self.base = str(cfg.get("base_url") or DEFAULT_BASE).rstrip("/")
        self.app_key = str(cfg["app_key"])
        self.app_secret = secret(cfg, "app_secret")
        self.token = orjson.loads(r.get(keys.connector_token(self.name)) or b"null") if r is not None else None
        if self.token is None:
            self.token = {"access_token": secret(cfg, "access_token", required=False),
                          "refresh_token": secret(cfg, "refresh_token", required=False), "expires_at": 0.0}
            if not self.token["access_token"] and not self.token["refresh_token"]:
                raise ConfigError(f"connector {self.name}: `access_token_env`/`_file` (or a refresh token) is needed")
        self.sign_method = cfg.get("sign_method", "hmac-sha256")
        if self.sign_method not in ("md5", "hmac-sha256"):
            raise ConfigError(f"connector {self.name}: sign_method is md5 or hmac-sha256")
        self.http = http or httpx.Client(timeout=CONNECTOR_TIMEOUT_S)

    def access_token(self) -> str:
        if self.token.get("refresh_token") and self.r is not None and \
                self.token["expires_at"] - time.time() < CONNECTOR_TOKEN_MARGIN_S:
            data = self.call("token.refresh", {"grant_type": "refresh_token",
                                               "refresh_token": self.token["refresh_token"]}, token=False)
            self.token = {"access_token": data["access_token"], "refresh_token": data["refresh_token"],
                          "expires_at": time.time() + float(data.get("expires_in", 0))}
            self.r.set(keys.connector_token(self.name), orjson.dumps(self.token))
        return self.token["access_token"]

    def call(self, method: str, params: dict, token: bool = True) -> dict:
        param_json = sorted_json(params)
        ts = str(int(time.time()))
        query = {"method": method, "app_key": self.app_key, "timestamp": ts,
                 "v": "2", "sign_method": self.sign_method,
                 "sign": sign(self.app_key, self.app_secret, method, param_json, ts, "2", self.sign_method)}
        if token:
            query["access_token"] = self.access_token()
        path = "/" + method.replace(".", "/")
        try:
            resp = self.http.post(self.base + path, params=query, content=param_json,
                                  headers={"Content-Type": "application/json"})
        except httpx.HTTPError as e:
            raise PlatformError(f"{method}: {type(e).__name__}") from None
        retry_after = _float(resp.headers.get("retry-after"))
        if resp.status_code == 429:
            raise PlatformError(f"{method}: rate limited (HTTP 429)", 429, retry_after or 1.0)
        if resp.status_code >= 400:
            raise PlatformError(f"{method}: HTTP {resp.status_code}", resp.status_code, retry_after)
        try:
            doc = resp.json()
        except ValueError:
            raise PlatformError(f"{method}: the answer is not JSON") from None
        if doc.get("code") == OK:
            return doc.get("data") or {}
        msg = f"{method}: {str(doc.get('msg', ''))[:120]} {str(doc.get('sub_msg') or '')[:120]}".strip()
        if doc.get("code") in RATE_LIMITED:
            raise PlatformError(f"rate limited: {msg}", doc.get("code"), retry_after or 1.0)
        raise PlatformError(msg, doc.get("code"), retry_after)


def _float(raw) -> float | None:
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        return None


def line_events(shop_order: dict, line: dict, room: str) -> list[dict]:
    """The order, pay and refund events of one order line of a live room."""
    oid = str(line["order_id"])
    user = str(shop_order.get("doudian_open_id") or f"dd-buyer:{shop_order['order_id']}")
    sku = str(line.get("sku_id") or line.get("product_id") or "unknown")
    qty = max(1, int(line.get("item_num") or 1))
    base = {"room": room, "platform": "douyin", "user": user, "sku": sku, "order_id": oid, "qty": qty,
            "shop_order_id": str(shop_order["order_id"]), "product_name": line.get("product_name")}
    out = [{**base, "id": f"dd:{oid}:order", "type": "order", "ts": float(shop_order["create_time"]),
            "amount": int(line.get("order_amount") or line.get("pay_amount") or 0) / 100}]
    if int(shop_order.get("pay_time") or 0) > 0:
        out.append({**base, "id": f"dd:{oid}:pay", "type": "pay", "ts": float(shop_order["pay_time"]),
                    "amount": int(line.get("pay_amount") or 0) / 100})
        after = line.get("after_sale_info") or {}
        if after.get("refund_status") == REFUNDED:
            refund = after.get("refund_amount", line.get("pay_amount") or 0)
            out.append({"id": f"dd:{oid}:refund", "room": room, "platform": "douyin", "type": "refund",
                        "ts": float(shop_order.get("update_time") or shop_order["pay_time"]), "order_id": oid,
                        "amount": int(refund) / 100, "user": user, "sku": sku})
    return out


class Source:
    """The shop's orders as an orders.OrderSource: order.searchList by update time, lines of mapped live rooms."""

    def __init__(self, client: Client, rooms: dict[str, str]):
        self.client, self.rooms = client, rooms

    def page(self, start: int, end: int, page: int) -> tuple[list[dict], bool]:
        data = self.client.call("order.searchList", {
            "update_time_start": start, "update_time_end": end, "order_by": "update_time", "order_asc": True,
            "page": page, "size": PAGE_SIZE})
        return data.get("shop_order_list") or [], (page + 1) * PAGE_SIZE < int(data.get("total") or 0)

    def updated(self, order: dict) -> float:
        return float(order.get("update_time") or 0)

    def events(self, order: dict) -> list[dict]:
        out = []
        for line in order.get("sku_order_list") or []:
            room = self.rooms.get(str(line.get("room_id_str") or line.get("room_id")))
            if room:
                out += line_events(order, line, room)
        return out


def Connector(r, cfg: dict, http: httpx.Client | None = None) -> orders.Poller:
    """The 抖店 order poller of a `kind: doudian` config entry."""
    rooms = {str((spec or {}).get("room_id")): room for room, spec in (cfg.get("rooms") or {}).items()}
    if not rooms or "None" in rooms:
        raise ConfigError(f"connector {cfg['name']}: each room needs the platform's `room_id`")
    return orders.Poller(r, cfg["name"], "doudian", Source(Client(cfg, http, r), rooms), cfg)
