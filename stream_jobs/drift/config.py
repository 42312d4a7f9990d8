"""What the drift monitor needs to know, taken from settings once (``MonitorConfig.from_settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtml.settings import Settings

DETECTOR_TYPES = ("psi", "ks", "adwin", "page_hinkley", "kswin")


@dataclass(frozen=True)
class MonitorConfig:
    """Windows, detector parameters, debounce and label join of one monitored model (defaults: settings')."""

    window_size: int = 500
    window_max_ms: int = 60_000
    sample_size: int = 1000
    detectors: tuple[str, ...] = DETECTOR_TYPES
    psi_warning: float = 0.1
    psi_critical: float = 0.25
    ks_alpha: float = 1e-4
    min_window_values: int = 100  # a column with fewer non-missing values in a window is not tested
    adwin_delta: float = 2e-3  # river's default; on mid-ranks of every value: 0 alarms in 600k stationary ones
    adwin_clock: int = 32  # ADWIN checks for a cut every 32 values (river's default)
    ph_threshold: float = 25.0
    ph_delta: float = 0.5
    ph_min_instances: int = 10
    kswin_alpha: float = 1e-6
    kswin_every: int = 1  # KSWIN sees every k-th score
    kswin_window: int = 300
    kswin_stat_size: int = 100
    rearm_windows: int = 3
    cooldown_ms: int = 60_000
    label_ttl_ms: int = 1_200_000
    outcomes_window: int = 2000
    error_adwin_delta: float = 1e-4
    features: tuple[str, ...] = ()  # fnmatch patterns of the features watched; empty: all of the reference's

    def __post_init__(self) -> None:
        unknown = [d for d in self.detectors if d not in DETECTOR_TYPES]
        if unknown:
            raise ValueError(f"unknown drift detectors {unknown}; use some of {', '.join(DETECTOR_TYPES)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitorConfig:
        s = settings
        return cls(
            window_size=s.monitor_window_size,
            window_max_ms=s.monitor_window_max_ms,
            detectors=tuple(s.monitor_detectors),
            psi_warning=s.monitor_psi_warning,
            psi_critical=s.monitor_psi_critical,
            ks_alpha=s.monitor_ks_alpha,
            rearm_windows=s.monitor_rearm_windows,
            cooldown_ms=s.monitor_cooldown_ms,
            label_ttl_ms=s.monitor_label_ttl_ms,
            outcomes_window=s.monitor_outcomes_window,
            features=tuple(s.monitor_features),
        )


@dataclass(frozen=True)
class DriftJobConfig:
    """The monitor process of one model: its topics, consumer group (= faust app id), ports and batching."""

    model: str
    predictions_topic: str
    labels_topic: str
    updates_topic: str = "models.updates"
    drift_topic: str = "monitoring.drift"
    group: str = ""
    metrics_port: int | None = 9104
    web_port: int | None = None
    batch_max_records: int = 500
    batch_max_s: float = 1.0
    checkpoint_interval_s: float = 5.0
    session_timeout_s: float = 10.0
    start_at: str = "earliest"  # where a new consumer group starts reading: earliest or latest
    monitor: MonitorConfig = MonitorConfig()

    @property
    def component(self) -> str:
        return f"drift-{self.model}"

    @classmethod
    def from_settings(
        cls, settings: Settings, model: str, label: str, *, metrics_port: int | None = None, group: str | None = None
    ) -> DriftJobConfig:
        """``label``: the model's label stream (``labels.<label>``); ``metrics_port`` 0 turns metrics off."""
        port = settings.monitor_metrics_port if metrics_port is None else metrics_port
        return cls(
            model=model,
            predictions_topic=settings.monitor_predictions_topic or f"predictions.{model}",
            labels_topic=settings.monitor_labels_topic or f"labels.{label}",
            updates_topic=settings.scorer_updates_topic,
            drift_topic=settings.monitor_drift_topic,
            group=group or settings.monitor_group or f"rtml-drift-{model}",
            metrics_port=port or None,
            web_port=settings.monitor_web_port,
            start_at=settings.monitor_start_at,
            batch_max_records=settings.monitor_batch_max_records,
            batch_max_s=settings.monitor_batch_max_s,
            checkpoint_interval_s=settings.monitor_checkpoint_interval_s,
            monitor=MonitorConfig.from_settings(settings),
        )
