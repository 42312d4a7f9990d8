"""One settings object for every component: ``RTML_*`` environment variables, then an optional TOML file.

Precedence: constructor arguments > environment (``RTML_KAFKA_PORT=19092``) > the file named by
``RTML_CONFIG`` (default ``rtml.toml`` in the working directory, if present) > defaults.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Port = Annotated[int, Field(ge=1, le=65535)]


def project_root() -> Path:
    """The checkout this package runs from (it holds ``infra/``), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "infra").is_dir() else Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RTML_", extra="forbid", validate_default=True)

    # Where things live. ``home`` holds installed jars (lib/); ``data_dir`` holds service state,
    # pid files and logs. Tests point data_dir at a temp dir and share home.
    home: Path = Field(default_factory=lambda: project_root() / ".rtml")
    data_dir: Path | None = None
    infra_dir: Path = Field(default_factory=lambda: project_root() / "infra")

    # Local stack ports (loopback only).
    host: str = "127.0.0.1"
    kafka_port: Port = 9092
    kafka_controller_port: Port = 9093
    redis_port: Port = 6379
    prometheus_port: Port = 9090
    # The CDC source (issue 7; docs/decisions/0013): PostgreSQL off the usual 5432 (a Debian cluster may hold it),
    # the Kafka Connect worker's REST port.
    postgres_port: Port = 15432
    connect_port: Port = 8083

    # Point at existing services instead of the local stack.
    bootstrap_servers: str | None = None
    redis_url: str | None = None

    # Processes.
    java: str = Field(
        default_factory=lambda: (
            str(Path(os.environ["JAVA_HOME"]) / "bin" / "java") if os.environ.get("JAVA_HOME") else "java"
        )
    )
    kafka_heap: str = "1g"
    redis_server: str = "redis-server"
    prometheus: str = "prometheus"
    # PostgreSQL: server binaries (None: the newest /usr/lib/postgresql/<version>/bin, else PATH); the OS user it
    # runs as (None: ``postgres`` when rtml runs as root, since PostgreSQL refuses root, else the current user).
    postgres_bin_dir: Path | None = None
    postgres_os_user: str | None = None
    postgres_user: str = "rtml"  # superuser role; Debezium connects as it (local stack only)
    postgres_password: str = "rtml"
    postgres_db: str = "bank"
    # The demo database is seeded once from the generator's population: ids match the transactions of
    # `rtml produce transactions --seed <bank_seed> --customers <bank_customers>`.
    bank_seed: int = Field(default=0, ge=0)
    bank_customers: int = Field(default=2000, ge=1)  # the demo's population
    bank_merchants: int = Field(default=200, ge=1)
    # Kafka Connect (distributed mode, one worker) running the Debezium PostgreSQL connector.
    connect_heap: str = "512m"
    connect_group: str = "rtml-connect"
    connect_connector: str = "bank-cdc"
    connect_exactly_once: bool = True
    start_timeout_s: float = Field(default=90.0, gt=0)
    stop_timeout_s: float = Field(default=30.0, gt=0)

    # Flink feature job (MiniCluster in its own process; REST for `rtml jobs status`).
    flink_rest_port: Port = 8081
    flink_parallelism: int = Field(default=1, ge=1, le=64)
    flink_checkpoint_interval_s: float = Field(default=2.0, gt=0)
    flink_idle_timeout_s: float = Field(default=30.0, gt=0)
    flink_watermark_emit: str = Field(default="on-periodic", pattern="^(on-periodic|on-event)$")

    # Metrics ports of the pipeline processes (scraped by the local Prometheus).
    online_materializer_metrics_port: Port = 9101
    offline_materializer_metrics_port: Port = 9102
    # Kafka and Redis metrics (`rtml up` starts the exporter, rtml/exporter/), Flink's Prometheus reporter.
    exporter_port: Port = 9106
    flink_metrics_port: Port = 9249

    # Kafka semantics the whole system agrees on.
    transaction_max_timeout_ms: int = Field(default=900_000, gt=0)
    max_record_bytes: int = Field(default=1_048_576, gt=0)

    # Topic names are configuration (see docs/topics.md).
    event_streams: list[str] = ["transactions"]
    cdc_tables: list[str] = ["bank.customers", "bank.merchants"]
    feature_views: list[str] = [
        "customer_txn_stats",
        "merchant_txn_stats",
        "customer_profile",
        "customer_limit_usage",
    ]
    models: list[str] = ["fraud"]
    topic_partitions: int = Field(default=6, ge=1, le=1000)

    # Model registry (MLflow). None: SQLite under <data dir>/mlflow, artifacts beside it.
    mlflow_tracking_uri: str | None = None

    # Promotion gate (docs/decisions/0007): the challenger must reach the champion's ``gate_metric`` plus
    # ``gate_min_margin`` on the newest ``gate_holdout_fraction`` of the training set, lose at most
    # ``gate_max_secondary_drop`` of ``gate_secondary_metric``, and raise Brier by at most
    # ``gate_max_brier_increase`` (None: unchecked).
    gate_metric: str = Field(default="pr_auc", pattern="^(pr_auc|roc_auc)$")
    gate_secondary_metric: str | None = Field(default="roc_auc", pattern="^(pr_auc|roc_auc)$")
    gate_min_margin: float = Field(default=0.0, ge=-1.0, le=1.0)
    gate_max_secondary_drop: float = Field(default=0.01, ge=0.0, le=1.0)
    gate_max_brier_increase: float | None = Field(default=None, ge=0.0, le=1.0)
    gate_allow_signature_change: bool = False
    # > 0: a check fails only when the challenger falls short by more than this many standard errors of the
    # paired difference on the holdout (bootstrap); 0: the plain comparison.
    gate_noise_z: float = Field(default=0.0, ge=0.0, le=5.0)
    gate_holdout_fraction: float = Field(default=0.15, gt=0.0, lt=1.0)

    # Scorer (`rtml serve`, serving/). A micro-batch opens with the first record and closes at
    # ``scorer_batch_max_records`` records, ``scorer_batch_max_ms`` after it opened, or when no further record
    # is waiting (after ``scorer_batch_linger_ms`` more), whichever comes first (serving/batching.py).
    scorer_batch_max_records: int = Field(default=256, ge=1, le=100_000)
    scorer_batch_max_ms: float = Field(default=10.0, ge=0.0, le=60_000.0)
    scorer_batch_linger_ms: float = Field(default=0.0, ge=0.0, le=60_000.0)
    # The score from which a prediction's label is 1: ``model`` (each version's own, chosen on its validation
    # slice at training and written into the artifact; 0.5 for one without) or a number in [0, 1] for every version.
    scorer_threshold: str = "model"
    # Model runtime: ``onnxruntime`` (execution providers tried in order, CPU always last) or ``tensorrt``
    # (native engine; needs the ``tensorrt`` package and a CUDA GPU).
    scorer_runtime: str = Field(default="onnxruntime", pattern="^(onnxruntime|tensorrt)$")
    scorer_providers: list[str] = ["tensorrt", "cuda", "cpu"]
    scorer_onnx_threads: int = Field(default=1, ge=1, le=256)
    scorer_metrics_port: Port = 9103
    # Delivery: at-least-once (idempotent producer, offsets committed after the broker acked the batch)
    # or exactly-once (Kafka transactions). ``scorer_instance_id`` makes the transactional id; it must be
    # stable across restarts and unique among live scorers (default: the host name).
    scorer_exactly_once: bool = False
    scorer_instance_id: str | None = None
    scorer_transaction_timeout_ms: int = Field(default=60_000, ge=1_000)
    scorer_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    # At-least-once: acknowledged offsets are committed at most this often (0: after every batch). A crash
    # scores at most this much again; a stop or a rebalance commits everything first.
    scorer_commit_interval_ms: float = Field(default=100.0, ge=0.0, le=60_000.0)
    # How long the broker holds an empty fetch: it bounds how late the scorer sees a new event. The
    # client's default (500 ms) measured at ~50 ms per hop here; 10 ms gives ~2 ms (tests/benchmarks/bench_scorer.py).
    scorer_fetch_wait_max_ms: int = Field(default=10, ge=1, le=500)
    # Challenger: scored beside the champion into predictions.<model>.shadow (``scorer_shadow_alias``),
    # and/or serving ``scorer_canary_share`` of the entity keys (stable hash) on predictions.<model>.
    scorer_shadow_alias: str | None = None
    scorer_canary_share: float = Field(default=0.0, ge=0.0, le=1.0)
    scorer_canary_alias: str = "challenger"
    # Topics; None: the service's source topic and predictions.<model>.
    scorer_events_topic: str | None = None
    scorer_predictions_topic: str | None = None
    scorer_updates_topic: str = "models.updates"
    scorer_group: str | None = None

    # Drift monitor (`python -m stream_jobs.drift`, stream_jobs/drift/; decision 0010). The model it watches.
    monitor_model: str = "fraud"
    monitor_metrics_port: Port = 9104
    # Faust's web server (table views, health): None keeps it off.
    monitor_web_port: Port | None = None
    # Where a monitor without committed offsets starts: ``earliest`` (everything the topics hold) or ``latest``
    # (from now on: a new monitor beside a long label history need not read it; `rtml demo` does so).
    monitor_start_at: str = Field(default="earliest", pattern="^(earliest|latest)$")
    # A window closes after ``monitor_window_size`` predictions or ``monitor_window_max_ms`` of event time.
    monitor_window_size: int = Field(default=500, ge=50, le=1_000_000)
    monitor_window_max_ms: int = Field(default=60_000, ge=1)
    # Detectors run on every window: psi, ks (against the reference profile), adwin, page_hinkley, kswin (river).
    monitor_detectors: list[str] = ["psi", "ks", "adwin", "page_hinkley", "kswin"]
    # The features watched, as fnmatch patterns (e.g. ["amount", "*mean_amount*"]); empty: every model input.
    monitor_features: list[str] = []
    # PSI above warning raises a warning event, above critical a critical one; KS rejects at alpha.
    monitor_psi_warning: float = Field(default=0.1, gt=0.0)
    monitor_psi_critical: float = Field(default=0.25, gt=0.0)
    monitor_ks_alpha: float = Field(default=1e-4, gt=0.0, lt=1.0)
    # Debounce: an alarm re-arms after this many quiet windows; one event per detector per cooldown.
    monitor_rearm_windows: int = Field(default=3, ge=1)
    monitor_cooldown_ms: int = Field(default=60_000, ge=0)
    # A prediction waits this long (event time) for its label, and a label for its prediction.
    monitor_label_ttl_ms: int = Field(default=1_200_000, ge=1)
    # Accuracy, ROC-AUC and precision are over the last this many joined outcomes.
    monitor_outcomes_window: int = Field(default=2000, ge=10)
    # Records per processed batch (one state-table write each), and the longest wait to fill one.
    monitor_batch_max_records: int = Field(default=500, ge=1)
    monitor_batch_max_s: float = Field(default=1.0, gt=0.0)
    # State written to the changelogs (and offsets made committable) this often; a restart reads again what came
    # after the last one. Above faust's commit interval (2.8 s), so each commit finds a checkpoint to commit.
    monitor_checkpoint_interval_s: float = Field(default=5.0, gt=0.0)
    monitor_group: str | None = None  # None: rtml-drift-<model>
    # Topics; None: predictions.<model> and labels.<the model's label stream>. Updates: scorer_updates_topic.
    monitor_predictions_topic: str | None = None
    monitor_labels_topic: str | None = None
    monitor_drift_topic: str = "monitoring.drift"

    # Retrain trigger (`python -m training.trigger`, training/trigger/, docs/decisions/0011). A drift event of
    # at least ``retrain_min_severity`` and of one of ``retrain_drift_kinds`` retrains, one run at a time, unless
    # the last run ended less than ``retrain_cooldown_s`` ago or fewer than ``retrain_min_new_labels`` labelled
    # events after the drift reached the offline store since the last training: then it waits, re-checking
    # every ``retrain_check_interval_s``, at most ``retrain_max_label_wait_s``.
    retrain_min_severity: str = Field(default="critical", pattern="^(info|warning|critical)$")
    retrain_drift_kinds: list[str] = ["feature", "prediction", "performance"]
    retrain_cooldown_s: float = Field(default=600.0, ge=0.0)
    retrain_min_new_labels: int = Field(default=500, ge=0)
    retrain_max_label_wait_s: float = Field(default=3600.0, ge=0.0)
    retrain_check_interval_s: float = Field(default=10.0, gt=0.0)
    # Training data: from ``retrain_history_s`` before the drift began to the newest labelled event or, with
    # ``retrain_label_maturity_s``, to the events that old: labels that come after delays differing by class (a
    # chargeback after weeks, a confirmation after days) leave the newest events with their frauds unlabelled yet.
    # The new-label count counts only those events too. 0: no margin.
    retrain_history_s: float = Field(default=7 * 86_400.0, gt=0.0)
    retrain_label_maturity_s: float = Field(default=0.0, ge=0.0)
    retrain_nproc: int = Field(default=2, ge=1, le=64)  # DDP ranks (per node on Kubernetes)
    retrain_epochs: int = Field(default=8, ge=1)
    # ``local``: torchrun here; ``kubernetes``: a PyTorchJob (infra/k8s/) of ``retrain_k8s_nodes`` pods,
    # applied with kubectl; the data directory must be on the claim ``retrain_k8s_claim`` mounted at /rtml.
    retrain_launcher: str = Field(default="local", pattern="^(local|kubernetes)$")
    retrain_k8s_image: str = "rtml:latest"
    retrain_k8s_namespace: str = "rtml"
    retrain_k8s_nodes: int = Field(default=2, ge=1, le=64)
    retrain_k8s_claim: str = "rtml-data"
    trigger_metrics_port: Port = 9105

    @field_validator("event_streams", "cdc_tables", "feature_views", "models")
    @classmethod
    def _topic_safe(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or not all(c.isalnum() or c in "._-" for c in name):
                raise ValueError(f"{name!r} is not a valid topic name part (letters, digits, '.', '_', '-')")
        return names

    @field_validator("scorer_threshold")
    @classmethod
    def _threshold(cls, value: str) -> str:
        text = str(value).strip().lower()
        if text == "model":
            return text
        try:
            score = float(text)
        except ValueError:
            score = math.nan
        if not 0.0 <= score <= 1.0:
            raise ValueError("use a score in [0, 1], or 'model' (each version's own threshold)")
        return repr(score)

    @field_validator("scorer_providers")
    @classmethod
    def _known_providers(cls, names: list[str]) -> list[str]:
        known = ("tensorrt", "cuda", "cpu")
        for name in names:
            if name not in known:
                raise ValueError(f"{name!r} is not an execution provider; use some of {', '.join(known)}")
        return names

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("RTML_CONFIG", "rtml.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    # Derived values: one place computes them.
    @property
    def state_dir(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.home / "data"

    @property
    def lib_dir(self) -> Path:
        return self.home / "lib"

    @property
    def kafka_bootstrap(self) -> str:
        return self.bootstrap_servers or f"{self.host}:{self.kafka_port}"

    @property
    def redis(self) -> str:
        return self.redis_url or f"redis://{self.host}:{self.redis_port}/0"

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"

    @property
    def connect_url(self) -> str:
        return f"http://{self.host}:{self.connect_port}"


class SettingsError(Exception):
    """A setting is wrong; the message names the ``RTML_*`` variable and the rule."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "_".join(str(p) for p in first["loc"] if isinstance(p, str)) or "?"
        got = first.get("input")
        raise SettingsError(
            f"setting RTML_{name.upper()} is invalid: {first['msg']} (got {got!r}); "
            f"fix the environment variable or {os.environ.get('RTML_CONFIG', 'rtml.toml')}"
        ) from None
