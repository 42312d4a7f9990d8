"""``python -m feature_pipelines.offline``: run the offline materializer until SIGTERM/SIGINT.

``--once`` stops when caught up and prints the totals as one JSON line on stdout. The current batch
always finishes (Delta commit, then Kafka commit) before the process stops.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from feature_pipelines.offline.materializer import DEFAULT_GROUP, OfflineMaterializer
from rtml.settings import SettingsError, load_settings


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m feature_pipelines.offline", description=__doc__.splitlines()[0])
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    p.add_argument("--once", action="store_true", help="stop when caught up")
    p.add_argument("--timeout", type=float, help="with --once: give up (exit 3) after this many seconds")
    p.add_argument("--root", type=Path, help="directory of the Delta tables (default: <data dir>/offline)")
    p.add_argument("--group", default=DEFAULT_GROUP, help=f"consumer group (default {DEFAULT_GROUP})")
    p.add_argument("--topic", action="append", dest="topics", help="topic to archive (repeat; default: all)")
    p.add_argument("--batch-max-records", type=int, default=5000)
    p.add_argument("--batch-max-seconds", type=float, default=5.0)
    p.add_argument(
        "--consumer-config",
        action="append",
        default=[],
        type=_key_value,
        metavar="KEY=VALUE",
        help="librdkafka consumer setting, e.g. session.timeout.ms=10000 (repeat)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("RTML_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"offline materializer: error: {exc}", file=sys.stderr)
        return 2
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=settings.host)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    materializer = OfflineMaterializer(
        settings,
        root=args.root,
        topics=args.topics,
        group=args.group,
        batch_max_records=args.batch_max_records,
        batch_max_seconds=args.batch_max_seconds,
        consumer_overrides=dict(args.consumer_config),
    )
    try:
        totals = materializer.run(stop, once=args.once, timeout_s=args.timeout)
    except TimeoutError as exc:
        print(f"offline materializer: {exc}", file=sys.stderr)
        return 3
    finally:
        materializer.close()
    if args.once:
        print(json.dumps(asdict(totals)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
