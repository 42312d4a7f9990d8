"""``python -m stream_jobs.drift --model fraud``: watch a model's predictions and labels until SIGTERM or SIGINT.

The reference is the registry champion's profile (``rtml train`` makes one); ``--reference profile.json`` uses a
file instead (tests, operators), and then ``models.updates`` does not change it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtml.settings import Settings
    from stream_jobs.drift.config import DriftJobConfig
    from training.profile import ReferenceProfile

EXIT_ERROR = 1
EXIT_STOP_TIMEOUT = 3  # SIGTERM/SIGINT, then faust did not stop within the grace period
STOP_GRACE_S = 30.0
log = logging.getLogger("stream_jobs.drift")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stream_jobs.drift", description="Drift monitor: predictions.* + labels.* -> monitoring.drift"
    )
    parser.add_argument("--model", help="model to watch (default: RTML_MONITOR_MODEL)")
    parser.add_argument("--reference", type=Path, help="reference profile JSON to use instead of the champion's")
    parser.add_argument("--reference-version", help="model version the --reference file belongs to (default: any)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port (default: RTML_MONITOR_METRICS_PORT; 0: off)")
    parser.add_argument("--group", help="consumer group and faust app id (default: rtml-drift-<model>)")
    parser.add_argument("--log-level", default="INFO", help="log level (default: %(default)s)")
    return parser.parse_args(argv)


class MonitorStartError(Exception):
    """The monitor cannot start; the message says what to do."""


class RegistryReference:
    """Reference profiles of ``model``'s versions from the registry (MLflow is imported on first use)."""

    def __init__(self, settings: Settings, model: str) -> None:
        from training.registry import ModelRegistry

        self.registry = ModelRegistry.from_settings(settings)
        self.model = model

    def champion(self) -> str:
        found = self.registry.alias(self.model, "champion")
        if found is None:
            raise MonitorStartError(
                f"model {self.model!r} has no champion in the registry yet: run `rtml train` first "
                "(or pass --reference profile.json)"
            )
        return found.version

    def __call__(self, version: str) -> ReferenceProfile:
        profile = self.registry.reference_profile(self.model, version)
        if profile is None:
            raise MonitorStartError(
                f"model {self.model!r} version {version} was registered without a reference profile: "
                "retrain it with `rtml train`, or pass --reference profile.json"
            )
        return profile


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("faust", "mode", "aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from feature_pipelines.repository import get_service
    from rtml.kafka.clients import KafkaUnavailable, check_reachable
    from rtml.settings import SettingsError, load_settings
    from stream_jobs.drift.config import DriftJobConfig
    from training.profile import ReferenceProfile
    from training.registry import RegistryError

    try:
        settings = load_settings()
        model = args.model or settings.monitor_model
        service = get_service(model)
        config = DriftJobConfig.from_settings(
            settings, model, service.label, metrics_port=args.metrics_port, group=args.group
        )
        check_reachable(settings)
        if args.reference is not None:
            try:
                reference = ReferenceProfile.from_json(args.reference.read_bytes())
            except (OSError, ValueError) as exc:
                raise MonitorStartError(f"cannot read the reference profile {args.reference}: {exc}") from None
            version, load_reference = args.reference_version, None
        else:
            load_reference = RegistryReference(settings, model)
            version = load_reference.champion()
            reference = load_reference(version)
    except KeyError as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except (SettingsError, KafkaUnavailable, RegistryError, MonitorStartError) as exc:
        log.error("%s", exc)
        return EXIT_ERROR
    return run(settings, config, reference, version, load_reference)


def run(
    settings: Settings,
    config: DriftJobConfig,
    reference: ReferenceProfile,
    version: str | None,
    load_reference: RegistryReference | None,
) -> int:
    """Serve metrics and run the faust worker until SIGTERM or SIGINT (it commits and leaves the group)."""
    from prometheus_client import start_http_server

    from stream_jobs.drift.app import build_app

    if config.metrics_port:
        start_http_server(config.metrics_port, addr=settings.host)
        log.info("metrics on %s:%d/metrics", settings.host, config.metrics_port)
    datadir = str(settings.state_dir / "faust")
    app = build_app(settings.kafka_bootstrap, config, reference, version, load_reference, datadir=datadir)
    log.info(
        "watching model %s version %s: %s + %s -> %s (group %s)",
        config.model,
        version or "any",
        config.predictions_topic,
        config.labels_topic,
        config.drift_topic,
        config.group,
    )
    worker = _worker_class()(app, loglevel="WARNING", quiet=True, redirect_stdouts=False, override_logging=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _worker_class() -> type:
    """A faust worker whose stop on SIGTERM/SIGINT is bounded: past ``STOP_GRACE_S`` it logs what every task
    waits on and exits ``EXIT_STOP_TIMEOUT``. Nothing is lost then: offsets are committed only up to the last
    checkpoint, whose state is in the changelogs, so a restarted monitor reads again what came after it."""
    import faust

    class BoundedStopWorker(faust.Worker):  # type: ignore[misc]
        def _schedule_shutdown(self, signal: Any) -> None:
            if not self._signal_stop_time:
                for name in ("faust", "mode", "aiokafka"):  # the stop's steps, in the log
                    logging.getLogger(name).setLevel(logging.INFO)
                timer = threading.Timer(STOP_GRACE_S, _stop_timed_out, args=(self.loop,))
                timer.daemon = True
                timer.start()
            super()._schedule_shutdown(signal)

    return BoundedStopWorker


def _stop_timed_out(loop: asyncio.AbstractEventLoop) -> None:
    stream = io.StringIO()
    try:
        for task in asyncio.all_tasks(loop):
            print(f"task {task.get_name()}: {task.get_coro()!r}", file=stream)
            task.print_stack(limit=8, file=stream)
    except RuntimeError as exc:  # the set of tasks changed while it was read
        print(f"(tasks not listed: {exc})", file=stream)
    log.error(
        "did not stop within %.0f s of the signal; exiting with %d. The last checkpoint stands: a restarted "
        "monitor reads again what came after it. Waiting tasks:\n%s",
        STOP_GRACE_S,
        EXIT_STOP_TIMEOUT,
        stream.getvalue(),
    )
    logging.shutdown()
    os._exit(EXIT_STOP_TIMEOUT)


if __name__ == "__main__":
    sys.exit(main())
