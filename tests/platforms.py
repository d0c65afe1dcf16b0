"""Local stand-ins for the outside platforms, speaking their documented requests, answers, signatures and error
codes (as feeds/connectors/qianchuan.py and doudian.py write them down), each an HTTP server in a thread of the
test. Written from those descriptions, not from the connectors' code: the Doudian sign is computed here again.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Platform:
    """A server on a free port; `url`; `calls` records (method, path, query, body) of every request."""

    def __init__(self):
        self.lock = threading.RLock()
        self.calls: list[tuple[str, str, dict, dict | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _do(self, method):
                u = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(u.query).items()}
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                body = json.loads(raw) if raw else None
                with outer.lock:
                    outer.calls.append((method, u.path, query, body))
                    status, doc, headers = outer.answer(method, u.path, query, raw, body, self.headers)
                out = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                self._do("GET")

            def do_POST(self):
                self._do("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def paths(self, prefix: str = "") -> list[str]:
        with self.lock:
            return [c[1] for c in self.calls if c[1].startswith(prefix)]


class Qianchuan(Platform):
    """巨量千川 Open API: oauth2/refresh_token/ rotates both tokens; every other call needs `Access-Token`.
    `rate_limited` answers the next n calls with code 40100 and a Retry-After; `expire()` ends the access
    token early (then 40102); ads in `learning` answer LEARNING to the learning-status call."""

    def __init__(self, app_id: int, app_secret: str, refresh_token: str, advertiser_id: int):
        super().__init__()
        self.app_id, self.app_secret, self.advertiser_id = app_id, app_secret, advertiser_id
        self.refresh_token = refresh_token
        self.access_token = None
        self.expires_in = 86400
        self.refreshes = 0
        self.rate_limited = 0
        self.retry_after = "0.3"
        self.ads: dict[int, dict] = {}        # ad_id -> {kind, budget, roi_goal, status}
        self.learning: set[int] = set()
        self.report: dict[int, dict] = {}     # ad_id -> today's cumulative {stat_cost, show_cnt, click_cnt, ...}

    def expire(self):
        with self.lock:
            self.access_token = "expired-" + secrets.token_hex(4)

    def grow(self, ad_id: int, cost_cents: int, show: int = 0, click: int = 0, gmv: float = 0.0):
        with self.lock:
            row = self.report.setdefault(ad_id, {"stat_cost": 0.0, "show_cnt": 0, "click_cnt": 0,
                                                 "pay_order_amount": 0.0})
            row["stat_cost"] = round(row["stat_cost"] + cost_cents / 100, 2)
            row["show_cnt"] += show
            row["click_cnt"] += click
            row["pay_order_amount"] += gmv

    def answer(self, method, path, query, raw, body, headers):
        ok = lambda data: (200, {"code": 0, "message": "OK", "request_id": secrets.token_hex(8), "data": data}, None)  # noqa: E731
        err = lambda code, msg, h=None: (200, {"code": code, "message": msg, "request_id": "r"}, h)  # noqa: E731
        if path == "/oauth2/refresh_token/":
            if (body or {}).get("app_id") != self.app_id or body.get("secret") != self.app_secret \
                    or body.get("grant_type") != "refresh_token":
                return err(40001, "app_id or secret wrong")
            if body.get("refresh_token") != self.refresh_token:
                return err(40103, "refresh_token已过期")
            self.refreshes += 1
            self.access_token = "at-" + secrets.token_hex(8)
            self.refresh_token = "rt-" + secrets.token_hex(8)
            return ok({"access_token": self.access_token, "refresh_token": self.refresh_token,
                       "expires_in": self.expires_in, "refresh_token_expires_in": 2592000})
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return err(40100, "请求过于频繁", {"Retry-After": self.retry_after})
        token = headers.get("Access-Token")
        if token is None or token != self.access_token:
            return err(40102, "access_token已过期")
        p = path.removeprefix("/")
        adv = int((body or query).get("advertiser_id", 0))
        if adv != self.advertiser_id:
            return err(40002, "advertiser_id wrong")
        if p == "v1.0/qianchuan/report/ad/get/":
            wanted = set(json.loads(query["filtering"])["ad_ids"])
            assert query["start_date"] == query["end_date"]
            assert set(json.loads(query["fields"])) >= {"stat_cost", "show_cnt", "click_cnt"}
            rows = [{"ad_id": a, **fig} for a, fig in sorted(self.report.items()) if a in wanted]
            return ok({"list": rows, "page_info": {"page": 1, "page_size": 100, "total_number": len(rows),
                                                   "total_page": 1}})
        if p == "v1.0/qianchuan/ad/learning_status/get/":
            ids = json.loads(query["ad_ids"])
            return ok({"list": [{"ad_id": a, "status": "LEARNING" if a in self.learning else "LEARNED"}
                                for a in ids]})
        if p == "v1.0/qianchuan/ad/budget/update/":
            done = []
            for item in body["data"]:
                self.ads[item["ad_id"]]["budget"] = item["budget"]
                done.append(item["ad_id"])
            return ok({"ad_ids": done, "errors": []})
        if p == "v1.0/qianchuan/uni_promotion/ad/budget/update/":
            for item in body["update_budget_infos"]:
                self.ads[item["ad_id"]]["budget"] = item["budget"]
            return ok({"results": [{"ad_id": i["ad_id"], "status": "SUCCESS"} for i in body["update_budget_infos"]]})
        if p == "v1.0/qianchuan/roi/goal/update/":
            for item in body["roi_goal_updates"]:
                self.ads[item["ad_id"]]["roi_goal"] = item["roi_goal"]
            return ok({"results": [{"ad_id": i["ad_id"], "flat": 1} for i in body["roi_goal_updates"]]})
        if p == "v1.0/qianchuan/uni_promotion/ad/roi2_goal/update/":
            for item in body["update_roi2_infos"]:
                self.ads[item["ad_id"]]["roi_goal"] = item["roi2_goal"]
            return ok({"results": [{"ad_id": i["ad_id"], "status": "SUCCESS"} for i in body["update_roi2_infos"]]})
        if p in ("v1.0/qianchuan/ad/status/update/", "v1.0/qianchuan/uni_promotion/ad/status/update/"):
            for a in body["ad_ids"]:
                self.ads[a]["status"] = body["opt_status"]
            if "uni_promotion" in p:
                return ok({"results": [{"ad_id": a, "flag": True} for a in body["ad_ids"]]})
            return ok({"ad_ids": body["ad_ids"], "errors": []})
        return (404, {"code": 40400, "message": f"no such path {path}"}, None)


def doudian_sign(app_key, app_secret, method, param_json, timestamp, v, sign_method):
    """As the 抖店 open platform signs a call (see feeds/connectors/doudian.py's module doc)."""
    s = app_secret + "app_key" + app_key + "method" + method + "param_json" + param_json + "timestamp" + \
        timestamp + "v" + v + app_secret
    if sign_method == "md5":
        return hashlib.md5(s.encode("utf-8")).hexdigest()
    return hmac.new(app_secret.encode("utf-8"), s.encode("utf-8"), hashlib.sha256).hexdigest()


class Doudian(Platform):
    """抖店 Open API: order.searchList over `orders` (shop orders with their lines), signed calls only, pages of
    `size` ordered by update_time; `rate_limited` answers the next n calls with code 50002."""

    def __init__(self, app_key: str, app_secret: str, access_token: str):
        super().__init__()
        self.app_key, self.app_secret, self.access_token = app_key, app_secret, access_token
        self.orders: dict[str, dict] = {}
        self.rate_limited = 0
        self.bad_signs = 0
        self.refresh_token = None   # set to allow token.refresh with it
        self.refreshes = 0

    def put(self, order: dict):
        with self.lock:
            self.orders[order["order_id"]] = json.loads(json.dumps(order))

    def answer(self, method, path, query, raw, body, headers):
        err = lambda code, msg: (200, {"code": code, "msg": msg, "sub_code": "isv", "sub_msg": msg}, None)  # noqa: E731
        param_json = raw.decode()
        if json.dumps(json.loads(param_json), sort_keys=True, separators=(",", ":"), ensure_ascii=False) != param_json:
            return err(40004, "param_json must be compact with sorted keys")
        want = doudian_sign(self.app_key, self.app_secret, query.get("method", ""), param_json,
                            query.get("timestamp", ""), query.get("v", ""), query.get("sign_method", "md5"))
        if query.get("app_key") != self.app_key or query.get("sign") != want or query.get("v") != "2":
            self.bad_signs += 1
            return err(40003, "签名错误")
        if abs(time.time() - int(query["timestamp"])) > 600:
            return err(40003, "timestamp expired")
        if query.get("method") == "token.refresh":
            if "access_token" in query or body.get("grant_type") != "refresh_token" \
                    or self.refresh_token is None or body.get("refresh_token") != self.refresh_token:
                return err(30005, "refresh_token invalid")
            self.refreshes += 1
            self.access_token, self.refresh_token = "dd-at-" + secrets.token_hex(6), "dd-rt-" + secrets.token_hex(6)
            return (200, {"code": 10000, "msg": "success", "data": {
                "access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": 604800,
                "shop_id": 1, "shop_name": "test"}}, None)
        if query.get("access_token") != self.access_token:
            return err(30002, "access_token invalid")
        if path != "/" + query["method"].replace(".", "/"):
            return err(40001, "method and path differ")
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return err(50002, "调用频率超限")
        if query["method"] != "order.searchList":
            return err(40001, "unknown method")
        lo, hi = body["update_time_start"], body["update_time_end"]
        rows = sorted((o for o in self.orders.values() if lo <= o["update_time"] <= hi),
                      key=lambda o: (o["update_time"], o["order_id"]))
        page, size = body["page"], body["size"]
        return (200, {"code": 10000, "msg": "success", "data": {
            "shop_order_list": rows[page * size:(page + 1) * size], "total": len(rows), "page": page,
            "size": size}}, None)
