"""The pipeline processes: the Flink feature job and the two materializers, supervised like the
stack's services (pid file with start time, log file, process-group stop), each registered with the
local Prometheus."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from rtml.settings import Settings
from rtml.stack.process import ManagedProcess
from rtml.stack.prometheus import register_target


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    module: str
    description: str
    default: bool = True  # started by `rtml jobs start` without names


PIPELINES: dict[str, PipelineSpec] = {
    "features": PipelineSpec("features", "stream_jobs.feature_job", "Flink SQL feature job (MiniCluster)"),
    "online": PipelineSpec("online", "feature_pipelines.online", "features.* -> Redis (online store)"),
    "offline": PipelineSpec("offline", "feature_pipelines.offline", "features.*, events.*, labels.* -> Delta"),
    # needs a champion in the registry (rtml train), so only when named: rtml jobs start scorer
    "scorer": PipelineSpec("scorer", "serving", "events.transactions + Redis -> ONNX -> predictions.*", default=False),
    # retrains the champion on drift (docs/decisions/0011): rtml jobs start trigger
    "trigger": PipelineSpec(
        "trigger",
        "training.trigger",
        "monitoring.drift -> policy -> DDP retrain -> gate -> models.updates",
        default=False,
    ),
    # watches the champion (rtml train first), so only when named: rtml jobs start monitor
    "monitor": PipelineSpec(
        "monitor", "stream_jobs.drift", "predictions.* + labels.* -> drift detectors -> monitoring.drift", default=False
    ),
}


class Pipeline:
    def __init__(self, settings: Settings, spec: PipelineSpec) -> None:
        self.settings = settings
        self.spec = spec
        self.process = ManagedProcess(
            name=f"job-{spec.name}",
            run_dir=settings.state_dir / "run",
            log_file=settings.state_dir / "logs" / f"job-{spec.name}.log",
        )

    @property
    def metrics_port(self) -> int | None:
        return {
            "online": self.settings.online_materializer_metrics_port,
            "offline": self.settings.offline_materializer_metrics_port,
            "scorer": self.settings.scorer_metrics_port,
            "trigger": self.settings.trigger_metrics_port,
            "monitor": self.settings.monitor_metrics_port,
        }.get(self.spec.name)

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", self.spec.module]
        if self.metrics_port is not None:
            argv += ["--metrics-port", str(self.metrics_port)]
        return argv

    def ports(self) -> list[tuple[str, int, str]]:
        s = self.settings
        if self.spec.name == "features":
            return [
                (s.host, s.flink_rest_port, "RTML_FLINK_REST_PORT"),
                (s.host, s.flink_metrics_port, "RTML_FLINK_METRICS_PORT"),
            ]
        setting = (
            f"RTML_{self.spec.name.upper()}_METRICS_PORT"
            if self.spec.name in ("scorer", "trigger", "monitor")
            else f"RTML_{self.spec.name.upper()}_MATERIALIZER_METRICS_PORT"
        )
        return [(s.host, self.metrics_port, setting)] if self.metrics_port else []

    def start(self) -> int:
        pid = self.process.start(self.argv(), ports=self.ports())
        self.process.wait_ready(self.ready, self.settings.start_timeout_s)
        port = self.settings.flink_metrics_port if self.spec.name == "features" else self.metrics_port
        if port is not None:
            register_target(self.settings.state_dir, f"rtml-{self.spec.name}", f"{self.settings.host}:{port}")
        return pid

    def stop(self) -> bool:
        return self.process.stop(self.settings.stop_timeout_s)

    def ready(self) -> bool:
        if self.spec.name == "features":
            return any(job["state"] == "RUNNING" for job in self.flink_jobs())
        return _get(f"http://{self.settings.host}:{self.metrics_port}/metrics") is not None

    def flink_jobs(self) -> list[dict[str, object]]:
        body = _get(f"http://{self.settings.host}:{self.settings.flink_rest_port}/jobs/overview")
        return list(json.loads(body)["jobs"]) if body else []

    def describe(self) -> str:
        if self.spec.name != "features":
            return f"metrics at http://{self.settings.host}:{self.metrics_port}/metrics"
        jobs = self.flink_jobs()
        if not jobs:
            return "Flink REST not answering"
        job = jobs[0]
        uptime = (time.time() * 1000 - int(str(job.get("start-time", 0)))) / 1000
        return f"Flink job {job['jid']} {job['state']} for {uptime:.0f} s (http://{self.settings.host}:{self.settings.flink_rest_port})"


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return None
