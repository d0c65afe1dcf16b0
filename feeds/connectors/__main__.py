"""One connector on its own: `python -m feeds.connectors NAME --config FILE --redis-url URL`.

`python app.py` starts one of these per polling connector of its config, under its supervisor."""
import logging
import sys

from feeds.connectors import base, config, doudian, qianchuan
from settings import parser, require_redis_url
from store.connect import sync_client
from store.parts import stop_on_signals

KINDS = {"qianchuan": qianchuan.Connector, "doudian": doudian.Connector}

p = parser("python -m feeds.connectors", "livewall: one platform connector (poller, ad changes)")
p.add_argument("name", help="the connector's name in the config file")
p.add_argument("--config", required=True, help="the connectors' config file (docs/connectors.md)")
a = p.parse_args()
redis_url = require_redis_url(p, a.redis_url, "a connector")
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)   # a line per request would show the query, tokens included
try:
    cfg = config.load(a.config).get(a.name)
    if cfg is None or cfg["kind"] not in KINDS:
        sys.exit(f"livewall: no polling connector {a.name!r} in {a.config}")
    r = sync_client(redis_url, retries=3)
    connector = KINDS[cfg["kind"]](r, cfg)
except config.ConfigError as e:
    sys.exit(f"livewall: {e}")
base.run(connector, r, stop_on_signals())
