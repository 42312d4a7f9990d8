"""``python -m serving --model fraud``: run the scorer until SIGTERM or SIGINT (``rtml serve`` is the same)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtml.settings import Settings
    from serving.config import ScorerConfig

EXIT_ERROR = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m serving", description="Score events with the model's champion.")
    parser.add_argument("--model", default="fraud", help="model (= feature service) to serve (default: %(default)s)")
    parser.add_argument("--exactly-once", action="store_true", default=None, help="one Kafka transaction per batch")
    parser.add_argument("--shadow", metavar="ALIAS", help="also score with ALIAS into predictions.<model>.shadow")
    parser.add_argument("--canary", metavar="SHARE", type=float, help="share of entities the challenger scores")
    parser.add_argument("--instance", help="instance id, stable across restarts (default: RTML_SCORER_INSTANCE_ID)")
    parser.add_argument("--group", help="consumer group (default: rtml-scorer-<model>)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port (default: RTML_SCORER_METRICS_PORT; 0: off)")
    parser.add_argument("--model-file", type=Path, help="serve this ONNX file as the champion, without the registry")
    parser.add_argument("--model-version", default="file", help="version name for --model-file (default: %(default)s)")
    return parser.parse_args(argv)


def expected_errors() -> tuple[type[BaseException], ...]:
    """Failures that are reported in one line (what to do), not as a traceback."""
    from feature_pipelines.online.store import OnlineStoreUnavailable
    from rtml.kafka.clients import KafkaUnavailable
    from rtml.settings import SettingsError
    from serving.delivery import DeliveryFailed
    from serving.model_slot import SwapRejected
    from serving.runtime import RuntimeUnavailable
    from serving.updates import UpdatesTopicMissing
    from training.registry import RegistryError

    return (
        SettingsError,
        KafkaUnavailable,
        OnlineStoreUnavailable,
        RegistryError,
        SwapRejected,
        RuntimeUnavailable,
        DeliveryFailed,
        UpdatesTopicMissing,
    )


def configure(
    model: str,
    *,
    exactly_once: bool | None = None,
    shadow: str | None = None,
    canary: float | None = None,
    instance: str | None = None,
    group: str | None = None,
    metrics_port: int | None = None,
) -> tuple[Settings, ScorerConfig]:
    """Settings plus command-line options as a ``ScorerConfig`` (shared by ``rtml serve``); ``KeyError``
    for an unknown model, ``ValueError`` for a bad option, ``SettingsError`` for a bad setting."""
    from feature_pipelines.repository import get_service
    from rtml.settings import load_settings
    from serving.config import ScorerConfig

    settings = load_settings()
    service = get_service(model)
    config = ScorerConfig.from_settings(
        settings,
        model,
        service.source.topic,
        exactly_once=exactly_once,
        shadow_alias=shadow,
        canary_share=canary,
        instance_id=instance,
        group=group,
        metrics_port=metrics_port,
    )
    return settings, config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings, config = configure(
            args.model,
            exactly_once=args.exactly_once,
            shadow=args.shadow,
            canary=args.canary,
            instance=args.instance,
            group=args.group,
            metrics_port=args.metrics_port,
        )
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    from serving.app import serve

    try:
        serve(settings, config, model_file=args.model_file, model_version=args.model_version)
    except expected_errors() as exc:
        logging.getLogger("serving").error("%s", exc)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
