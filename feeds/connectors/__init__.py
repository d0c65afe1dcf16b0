"""Connectors to the platforms: pollers and adapters that turn what a platform knows into livewall events
(through the one judge and idempotent store of feeds/ingest.py) and carry approved ad changes back.

- `config.py`   the one config file (`connectors.yaml`), secrets from env or files
- `base.py`     what every connector shares: pacing, backoff, its status on /healthz, its loop
- `qianchuan.py` 巨量千川: OAuth, the AdPlatform adapter, the live report poller (ad_spend events)
- `orders.py`   the order poller every shop shares: cursor with overlap, pages, stable ids (OrderSource)
- `doudian.py`  抖店: the signed order API as an OrderSource (order, pay, refund events)
- `push.py`     live-room interaction push: the signature check and the mapping to events
- `compass.py`  罗盘 export import (CSV/XLSX) and its comparison with livewall's own figures

`python -m feeds.connectors NAME --config F --redis-url URL` runs one connector; `python app.py` starts each
configured one under its supervisor.
"""
