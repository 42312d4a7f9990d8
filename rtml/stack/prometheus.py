"""Prometheus scraping every component that registers a target file (file_sd)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from rtml.stack.service import LocalService


class PrometheusService(LocalService):
    name = "prometheus"

    @property
    def address(self) -> str:
        return self.settings.prometheus_url

    @property
    def targets_dir(self) -> Path:
        return self.dir / "targets"

    def ports(self) -> list[tuple[str, int, str]]:
        return [(self.settings.host, self.settings.prometheus_port, "RTML_PROMETHEUS_PORT")]

    def prepare(self) -> list[str]:
        s = self.settings
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        config = self.render(
            "prometheus/prometheus.yml",
            self.dir / "prometheus.yml",
            host=s.host,
            port=s.prometheus_port,
            targets_dir=self.targets_dir,
            rules_glob=s.infra_dir / "prometheus" / "rules" / "*.yml",
        )
        return [
            s.prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.dir / 'tsdb'}",
            "--storage.tsdb.retention.time=7d",
            f"--web.listen-address={s.host}:{s.prometheus_port}",
            "--web.enable-lifecycle",
        ]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.address}/-/ready", timeout=1.0) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False


def register_target(settings_state_dir: Path, job: str, address: str) -> Path:
    """Tell the local Prometheus to scrape ``address`` (host:port) as ``job``."""
    target = settings_state_dir / "prometheus" / "targets" / f"{job}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps([{"targets": [address], "labels": {"component": job}}]))
    return target
