"""What one scorer process does, resolved from settings and command-line overrides. Pure."""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace
from typing import Any

from rtml.settings import Settings
from serving.batching import BatchPolicy
from serving.runtime import RuntimeConfig

CHAMPION = "champion"


@dataclass(frozen=True)
class ScorerConfig:
    model: str
    events_topic: str
    predictions_topic: str
    updates_topic: str
    group: str
    policy: BatchPolicy
    threshold: float | None  # None: each version's own (rtml.threshold in the artifact), else 0.5
    runtime: RuntimeConfig
    exactly_once: bool = False
    instance_id: str = "0"
    shadow_alias: str | None = None
    canary_share: float = 0.0
    canary_alias: str = "challenger"
    session_timeout_ms: int = 10_000
    fetch_wait_max_ms: int = 10
    commit_interval_ms: float = 100.0
    transaction_timeout_ms: int = 60_000
    metrics_port: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.canary_share <= 1.0:
            raise ValueError(f"the canary share is a fraction in [0, 1], got {self.canary_share}")
        if self.shadow_alias and self.canary_share and self.shadow_alias != self.canary_alias:
            raise ValueError(
                f"shadow ({self.shadow_alias}) and canary ({self.canary_alias}) must score with the same challenger"
            )
        if self.challenger_alias == CHAMPION:
            raise ValueError("the challenger cannot be the champion alias")

    @property
    def component(self) -> str:
        return f"scorer-{self.model}"

    @property
    def shadow_topic(self) -> str:
        return f"{self.predictions_topic}.shadow"

    @property
    def transactional_id(self) -> str:
        """Stable per instance: a restart fences the previous process and aborts its open transaction."""
        return f"{self.group}-{self.instance_id}"

    @property
    def challenger_alias(self) -> str | None:
        if self.shadow_alias:
            return self.shadow_alias
        return self.canary_alias if self.canary_share > 0 else None

    @classmethod
    def from_settings(cls, settings: Settings, model: str, source_topic: str, **overrides: Any) -> ScorerConfig:
        """``source_topic``: the feature service's event topic (the default input). ``overrides`` (None
        values are ignored) replace fields, e.g. ``exactly_once=True`` from ``--exactly-once``."""
        config = cls(
            model=model,
            events_topic=settings.scorer_events_topic or source_topic,
            predictions_topic=settings.scorer_predictions_topic or f"predictions.{model}",
            updates_topic=settings.scorer_updates_topic,
            group=settings.scorer_group or f"rtml-scorer-{model}",
            policy=BatchPolicy(
                settings.scorer_batch_max_records, settings.scorer_batch_max_ms, settings.scorer_batch_linger_ms
            ),
            threshold=None if settings.scorer_threshold == "model" else float(settings.scorer_threshold),
            runtime=RuntimeConfig(
                runtime=settings.scorer_runtime,
                providers=tuple(settings.scorer_providers),
                threads=settings.scorer_onnx_threads,
                max_batch=settings.scorer_batch_max_records,
            ),
            exactly_once=settings.scorer_exactly_once,
            instance_id=settings.scorer_instance_id or socket.gethostname(),
            shadow_alias=settings.scorer_shadow_alias,
            canary_share=settings.scorer_canary_share,
            canary_alias=settings.scorer_canary_alias,
            session_timeout_ms=settings.scorer_session_timeout_ms,
            fetch_wait_max_ms=settings.scorer_fetch_wait_max_ms,
            commit_interval_ms=settings.scorer_commit_interval_ms,
            transaction_timeout_ms=settings.scorer_transaction_timeout_ms,
            metrics_port=settings.scorer_metrics_port,
        )
        return replace(config, **{k: v for k, v in overrides.items() if v is not None})
