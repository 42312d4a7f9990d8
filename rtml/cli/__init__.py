"""The ``rtml`` command line: local stack, topics, event generator, topic reader."""

from __future__ import annotations

import logging
import os
import sys

import typer
from rich.console import Console

from rtml.cli import features, jobs, models, serve, stack, stream, topics, train

app = typer.Typer(
    name="rtml",
    help="rtml: a streaming-first real-time ML system (Kafka, Flink, Redis, ONNX Runtime).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("up")(stack.up)
app.command("down")(stack.down)
app.command("status")(stack.status)
app.command("settings")(stack.show_settings)
app.add_typer(topics.app, name="topics")
app.add_typer(stream.produce_app, name="produce")
app.command("consume")(stream.consume)
app.command("demo")(stream.demo)
app.add_typer(jobs.app, name="jobs")
app.add_typer(features.features_app, name="features")
app.add_typer(features.offline_app, name="offline")
app.add_typer(models.app, name="models")
app.command("train")(train.train)
app.command("serve")(serve.serve)

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def _expected_errors() -> tuple[type[BaseException], ...]:
    from feature_pipelines.backfill import NoEventsError
    from feature_pipelines.training_set import TrainingSetError
    from rtml.kafka.clients import KafkaUnavailable
    from rtml.kafka.dlq import DeadLetterError
    from rtml.kafka.producer import ProduceError
    from rtml.settings import SettingsError
    from rtml.stack.process import StackError
    from serving.__main__ import expected_errors as scorer_errors
    from training.holdout import HoldoutError
    from training.pipeline import TrainingFailed
    from training.publish import PublishError
    from training.registry import RegistryError

    return (
        SettingsError,
        StackError,
        KafkaUnavailable,
        ProduceError,
        DeadLetterError,
        RegistryError,
        HoldoutError,
        PublishError,
        NoEventsError,
        TrainingSetError,
        TrainingFailed,
        *scorer_errors(),
    )


def main() -> None:
    """Entry point: known failures print one line that says what to do, never a traceback."""
    logging.basicConfig(
        level=os.environ.get("RTML_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code = app(standalone_mode=False)
    except _expected_errors() as exc:
        _err.print(f"[bold red]rtml: error:[/] {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        _err.print("rtml: interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click's usage errors (typer >= 0.2x vendors click: typer._click, not click's classes)
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
