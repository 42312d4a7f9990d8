"""``python -m training.trigger --model fraud``: retrain on drift until SIGTERM or SIGINT.

SIGTERM stops reading drift events and lets a run in progress finish (registration, gate and the
``models.updates`` record must not be cut in half), then commits and exits. ``rtml jobs stop trigger``
signals the whole process group, so the torchrun child stops too: the run then fails at its training
step, nothing is registered and the champion stays.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtml.settings import Settings

EXIT_ERROR = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.trigger", description="Retrain a model on drift.")
    parser.add_argument("--model", default="fraud", help="model (= feature service) to retrain (default: %(default)s)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port (default: RTML_TRIGGER_METRICS_PORT; 0: off)")
    parser.add_argument("--group", help="consumer group (default: rtml-trigger-<model>)")
    return parser.parse_args(argv)


def expected_errors() -> tuple[type[BaseException], ...]:
    """Failures reported in one line (what to do), not as a traceback."""
    from rtml.kafka.clients import KafkaUnavailable
    from rtml.kafka.dlq import DeadLetterError
    from rtml.settings import SettingsError
    from training.registry import RegistryError

    return (SettingsError, KafkaUnavailable, RegistryError, DeadLetterError)


def warm_up(settings: Settings, model: str) -> None:
    """Import what a retraining run uses after its training step (MLflow's store, ONNX, ONNX Runtime, the gate)
    while the trigger waits for drift, not between a drift and its new champion: 10-20 s on a busy machine."""
    log = logging.getLogger("rtml.trigger")
    began = time.monotonic()
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401

        from training import holdout, pipeline, promotion, publish  # noqa: F401
        from training.registry import ModelRegistry

        ModelRegistry.from_settings(settings).alias(model, "champion")
    except Exception as exc:  # only a head start: the run imports and connects again, and reports errors itself
        log.debug("warm-up stopped: %s", exc)
        return
    log.info("ready to retrain: registry client and gate loaded in %.1f s", time.monotonic() - began)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("rtml.trigger")
    from feature_pipelines.offline.delta_store import DeltaOfflineStore
    from feature_pipelines.offline.tables import layout_for
    from feature_pipelines.repository import get_service
    from rtml.settings import load_settings
    from training.trigger.state import DeltaLabelCounter
    from training.trigger.trigger import RetrainTrigger

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("%s received: stopping (a run in progress is allowed to finish)", signal.Signals(signum).name)
        stop.set()

    try:
        settings = load_settings()
        service = get_service(args.model)
        store = DeltaOfflineStore.from_settings(settings)
        labels = DeltaLabelCounter(store, layout_for(f"labels.{service.label}").table)
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        trigger = RetrainTrigger(settings, args.model, labels=labels, group=args.group)
    except (KeyError, ValueError) as exc:  # an unknown model, a policy setting out of range
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except expected_errors() as exc:
        log.error("%s", exc)
        return EXIT_ERROR
    port = settings.trigger_metrics_port if args.metrics_port is None else args.metrics_port
    if port:
        from prometheus_client import start_http_server

        start_http_server(port)
        log.info("metrics on :%d/metrics", port)
    threading.Thread(target=warm_up, args=(settings, args.model), name="warm-up", daemon=True).start()
    try:
        trigger.serve(stop)
    except expected_errors() as exc:
        log.error("%s", exc)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
