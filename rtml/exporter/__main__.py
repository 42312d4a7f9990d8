"""``python -m rtml.exporter [--port N] [--interval S] [--once]``: Kafka and Redis metrics for Prometheus.

``--once`` reads the services once, prints the exposition text and exits (0 if every service answered, 1 if
one did not): a quick look without Prometheus.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import REGISTRY, GaugeMetricFamily, Metric

from rtml.exporter.families import kafka_families, redis_families
from rtml.exporter.kafka import KafkaView, read_kafka

log = logging.getLogger("rtml.exporter")
READ_DURATION = "rtml_exporter_read_duration_seconds"


class StackCollector:
    """Serves the families of the last read; ``refresh`` replaces them (called from the reading thread)."""

    def __init__(self, bootstrap: str, redis_url: str, timeout_s: float) -> None:
        from confluent_kafka.admin import AdminClient

        from rtml.kafka.clients import LIBRDKAFKA_LOG

        self.bootstrap = bootstrap
        self.redis_url = redis_url
        self.timeout_s = timeout_s
        config: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": LIBRDKAFKA_LOG}
        self.admin = AdminClient(config)
        self._families: list[Metric] = []
        self._lock = threading.Lock()
        self.answered: dict[str, bool] = {}

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            yield from self._families

    def describe(self) -> Iterator[Metric]:  # no families at registration: collect() is not called then
        return iter(())

    def refresh(self) -> None:
        families: list[Metric] = []
        durations = GaugeMetricFamily(
            READ_DURATION,
            "How long the exporter's last read of a service took",
            labels=["service"],
        )
        kafka, seconds = self._timed(self._read_kafka)
        durations.add_metric(["kafka"], seconds)
        families += kafka_families(kafka)
        info, seconds = self._timed(self._read_redis)
        durations.add_metric(["redis"], seconds)
        families += redis_families(info)
        families.append(durations)
        self.answered = {"kafka": kafka is not None, "redis": info is not None}
        with self._lock:
            self._families = families

    @staticmethod
    def _timed(read: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        value = read()
        return value, time.perf_counter() - start

    def _read_kafka(self) -> KafkaView | None:
        from confluent_kafka import KafkaException

        try:
            return read_kafka(self.admin, self.timeout_s)
        except KafkaException as exc:
            self._down("kafka", f"Kafka at {self.bootstrap} did not answer: {exc}")
            return None

    def _read_redis(self) -> dict[str, Any] | None:
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_timeout=self.timeout_s)
        try:
            info: dict[str, Any] = client.info()  # type: ignore[assignment]  # sync client: a dict
            return info
        except redis.RedisError as exc:
            self._down("redis", f"Redis at {self.redis_url} did not answer: {exc}")
            return None
        finally:
            client.close()

    def _down(self, service: str, message: str) -> None:
        if self.answered.get(service, True):  # once per outage, not at every read
            log.warning("%s", message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rtml.exporter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="HTTP port for /metrics (default: RTML_EXPORTER_PORT)")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: the settings')")
    parser.add_argument("--redis", help="Redis URL (default: the settings')")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between reads (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--once", action="store_true", help="read once, print the metrics, exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from prometheus_client import CollectorRegistry, generate_latest, start_http_server

    from rtml.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    if args.interval <= 0 or args.timeout <= 0:
        print("error: --interval and --timeout must be positive", file=sys.stderr)
        return 2
    collector = StackCollector(args.bootstrap or settings.kafka_bootstrap, args.redis or settings.redis, args.timeout)
    if args.once:
        registry = CollectorRegistry()
        registry.register(collector)  # type: ignore[arg-type]
        collector.refresh()
        sys.stdout.write(generate_latest(registry).decode())
        return 0 if all(collector.answered.values()) else 1

    port = settings.exporter_port if args.port is None else args.port
    REGISTRY.register(collector)  # type: ignore[arg-type]
    collector.refresh()
    start_http_server(port, addr=settings.host)
    log.info("Kafka and Redis metrics on http://%s:%d/metrics, read every %.0f s", settings.host, port, args.interval)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(args.interval):
        collector.refresh()
    return 0


if __name__ == "__main__":
    sys.exit(main())
