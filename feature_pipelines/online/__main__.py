"""``python -m feature_pipelines.online``: run the online materializer until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from prometheus_client import start_http_server

from feature_pipelines.online.materializer import OnlineMaterializer
from feature_pipelines.online.registry import open_store
from feature_pipelines.online.store import OnlineStoreUnavailable
from feature_pipelines.repository import FEATURE_VIEWS, get_view
from rtml.kafka.clients import KafkaUnavailable, check_reachable
from rtml.settings import SettingsError, load_settings

log = logging.getLogger("feature_pipelines.online")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    online = [name for name, view in FEATURE_VIEWS.items() if view.online]
    parser = argparse.ArgumentParser(
        prog="python -m feature_pipelines.online",
        description="Materialize features.<view> topics into the online store (Redis).",
    )
    parser.add_argument("--views", default=",".join(online), help="comma-separated views (default: %(default)s)")
    parser.add_argument("--group", default="rtml-online-materializer", help="consumer group (default: %(default)s)")
    parser.add_argument("--component", default="online-materializer", help="metrics label (default: %(default)s)")
    parser.add_argument("--store-url", default=None, help="online store URL (default: RTML_REDIS_URL or the stack's)")
    parser.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port")
    parser.add_argument("--max-records", type=int, default=2000, help="records per batch (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        views = [get_view(name.strip()) for name in args.views.split(",") if name.strip()]
        store = open_store(args.store_url or settings.redis, {v.name: v for v in views})
        store.check()
        check_reachable(settings)
    except (SettingsError, KeyError, ValueError, OnlineStoreUnavailable, KafkaUnavailable) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("%s received: stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if args.metrics_port:
        start_http_server(args.metrics_port)
        log.info("metrics on :%d/metrics", args.metrics_port)
    materializer = OnlineMaterializer(
        settings, views, store, args.group, component=args.component, max_records=args.max_records
    )
    try:
        materializer.run(stop)
    except OnlineStoreUnavailable as exc:
        log.error("%s", exc)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
