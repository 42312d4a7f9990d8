"""The stack's exporter (``python -m rtml.exporter``): Kafka (consumer lag of every group) and Redis metrics."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from rtml.stack.prometheus import register_target
from rtml.stack.service import LocalService


class ExporterService(LocalService):
    name = "exporter"

    @property
    def address(self) -> str:
        return f"http://{self.settings.host}:{self.settings.exporter_port}/metrics"

    def ports(self) -> list[tuple[str, int, str]]:
        return [(self.settings.host, self.settings.exporter_port, "RTML_EXPORTER_PORT")]

    def prepare(self) -> list[str]:
        s = self.settings
        argv = [sys.executable, "-m", "rtml.exporter", "--port", str(s.exporter_port)]
        return argv + ["--bootstrap", s.kafka_bootstrap, "--redis", s.redis]

    def env(self) -> dict[str, str]:
        return {"RTML_HOST": self.settings.host}

    def start(self) -> int:
        pid = super().start()
        register_target(self.settings.state_dir, "rtml-exporter", f"{self.settings.host}:{self.settings.exporter_port}")
        return pid

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.address, timeout=1.0) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False
