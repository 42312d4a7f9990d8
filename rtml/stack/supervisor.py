"""Start, stop and report the local stack: Kafka, Redis, Prometheus, the exporter (Kafka and Redis metrics),
PostgreSQL, Kafka Connect (Debezium), in dependency order (stopped in the reverse one)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rtml.settings import Settings
from rtml.stack.connect import ConnectService
from rtml.stack.exporter import ExporterService
from rtml.stack.kafka import KafkaService
from rtml.stack.postgres import PostgresService
from rtml.stack.process import StackError
from rtml.stack.prometheus import PrometheusService
from rtml.stack.redis import RedisService
from rtml.stack.service import LocalService

SERVICES: dict[str, type[LocalService]] = {
    "kafka": KafkaService,
    "redis": RedisService,
    "prometheus": PrometheusService,
    "exporter": ExporterService,  # reads kafka and redis; says *_up 0 while they are down
    "postgres": PostgresService,
    "connect": ConnectService,  # needs kafka and postgres
}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    ready: bool
    address: str
    log_file: str
    detail: str = ""


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = {name: cls(settings) for name, cls in SERVICES.items()}

    def select(self, only: Iterable[str] | None) -> list[LocalService]:
        if not only:
            return list(self.services.values())
        wanted = {name.strip() for name in only if name.strip()}
        unknown = wanted - self.services.keys()
        if unknown:
            raise StackError(f"unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(SERVICES)}")
        return [svc for name, svc in self.services.items() if name in wanted]

    def up(self, only: Iterable[str] | None = None) -> list[ServiceStatus]:
        started = []
        for svc in self.select(only):
            svc.start()
            started.append(self._status(svc))
        return started

    def down(self, only: Iterable[str] | None = None) -> list[tuple[str, bool]]:
        return [(svc.name, svc.stop()) for svc in reversed(self.select(only))]

    def status(self) -> list[ServiceStatus]:
        return [self._status(svc) for svc in self.services.values()]

    def _status(self, svc: LocalService) -> ServiceStatus:
        pid = svc.process.pid()
        detail = svc.detail() if pid is not None else ""
        return ServiceStatus(
            svc.name, pid, pid is not None and svc.ready(), svc.address, str(svc.process.log_file), detail
        )
