"""Registered model versions as plain data: what a training run left, the tags it gets, alias history.

No MLflow here: ``training.registry`` moves these values in and out of the tracking server.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# Model version tags (MLflow); docs/decisions/0007 lists them.
TAG_SHA256 = "sha256"
TAG_FEATURE_NAMES = "feature_names"
TAG_FEATURE_DEFINITION_HASH = "feature_definition_hash"
TAG_DELTA_VERSIONS = "delta_versions"
TAG_CODE_REVISION = "code_revision"
TAG_TRIGGER = "trigger"
TAG_ARTIFACT_URI = "artifact_uri"
TAG_TRAINING_SET = "training_set"
HISTORY_LIMIT = 50

Action = Literal["registered", "promoted", "rolled_back"]


def history_tag(alias: str) -> str:
    """Registered-model tag holding the versions that held ``alias``, oldest first (``champion_history``)."""
    return f"{alias}_history"


class RunDirError(ValueError):
    """A training run directory breaks the contract; the message says which file and what."""


@dataclass(frozen=True)
class RunOutput:
    """A training run directory: ``model.onnx``, ``metrics.json``, ``run.json``."""

    path: Path
    metrics: dict[str, Any]
    run: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.path / "model.onnx"

    @property
    def feature_names(self) -> list[str]:
        return list(self.run["feature_names"])

    @property
    def lineage(self) -> dict[str, Any]:
        return dict(self.run.get("lineage") or {})

    @property
    def recorded_sha256(self) -> str | None:
        """The sha256 the trainer wrote for model.onnx (``model.sha256`` in run.json), if any."""
        model = self.run.get("model")
        return str(model["sha256"]) if isinstance(model, Mapping) and model.get("sha256") else None

    @classmethod
    def load(cls, path: str | Path) -> RunOutput:
        root = Path(path)
        for name in ("model.onnx", "metrics.json", "run.json"):
            if not (root / name).is_file():
                raise RunDirError(f"{root} has no {name}: pass the output directory of a training run")
        try:
            metrics = json.loads((root / "metrics.json").read_text())
            run = json.loads((root / "run.json").read_text())
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{root}: metrics.json or run.json is not JSON ({exc})") from None
        names = run.get("feature_names") if isinstance(run, dict) else None
        if not isinstance(metrics, dict) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise RunDirError(f"{root}: run.json needs feature_names (a list of names), metrics.json an object")
        return cls(root, metrics, run)

    def numeric_metrics(self) -> dict[str, float]:
        """Finite numbers of metrics.json, nested objects flattened with dots (``validation.pr_auc``).

        When metrics.json names its headline slice (``"slice": "test"``, the object ``test`` holding
        ``pr_auc`` ...), those metrics also appear without prefix, as the gate and ``rtml models list`` read them.
        """
        flat = {k: float(v) for k, v in _flatten(self.metrics).items() if _is_number(v) and math.isfinite(v)}
        headline = self.metrics.get(str(self.metrics.get("slice", "")))
        if isinstance(headline, Mapping):
            for k, v in headline.items():
                if _is_number(v) and math.isfinite(v):
                    flat.setdefault(k, float(v))
        return flat

    def params(self) -> dict[str, str]:
        """Hyper-parameters plus seed and world size, flattened, as strings."""
        flat = _flatten({"seed": self.run.get("seed"), "world_size": self.run.get("world_size")})
        flat.update(_flatten(self.run.get("params") or {}))
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in flat.items() if v is not None}

    def training_set(self) -> str | None:
        """The training-set Parquet file the run read (``data`` in run.json), if it says."""
        value = self.run.get("training_set") or self.run.get("data") or self.lineage.get("training_set")
        return str(value) if value else None


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_revision(root: Path) -> str:
    """``git rev-parse HEAD`` of ``root`` plus ``-dirty`` when tracked files changed; ``unknown`` without git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head or "unknown"


def version_tags(
    run: RunOutput, *, sha256: str, artifact_uri: str, trigger: str | None, code_revision: str
) -> dict[str, str]:
    """The tags of a new model version. ``trigger`` None: the run's lineage trigger, else ``manual``."""
    lineage = run.lineage
    tags = {
        TAG_SHA256: sha256,
        TAG_FEATURE_NAMES: json.dumps(run.feature_names),
        TAG_FEATURE_DEFINITION_HASH: str(lineage.get("feature_definition_hash") or "unknown"),
        TAG_DELTA_VERSIONS: json.dumps(lineage.get("delta_versions") or {}, sort_keys=True),
        TAG_CODE_REVISION: code_revision,
        TAG_TRIGGER: str(trigger or lineage.get("trigger") or "manual"),
        TAG_ARTIFACT_URI: artifact_uri,
    }
    if run.training_set():
        tags[TAG_TRAINING_SET] = run.training_set() or ""
    return tags


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a registered model, with its tags, the aliases it holds and its run's metrics."""

    model: str
    version: str
    run_id: str
    created_ms: int
    tags: Mapping[str, str]
    aliases: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return self.tags.get(TAG_SHA256, "")

    @property
    def artifact_uri(self) -> str:
        return self.tags.get(TAG_ARTIFACT_URI, "")

    @property
    def trigger(self) -> str:
        return self.tags.get(TAG_TRIGGER, "unknown")

    @property
    def code_revision(self) -> str:
        return self.tags.get(TAG_CODE_REVISION, "unknown")

    @property
    def feature_names(self) -> list[str]:
        return list(json.loads(self.tags.get(TAG_FEATURE_NAMES, "[]")))

    @property
    def delta_versions(self) -> dict[str, Any]:
        return dict(json.loads(self.tags.get(TAG_DELTA_VERSIONS, "{}")))

    @property
    def training_set(self) -> str | None:
        """The training-set Parquet file the run read (``data`` in run.json), if it says."""
        return self.tags.get(TAG_TRAINING_SET) or None


@dataclass(frozen=True)
class AliasChange:
    """``alias`` of ``model`` moved to ``version`` from ``previous`` (None: nobody held it)."""

    alias: str
    version: RegisteredVersion
    previous: RegisteredVersion | None
    action: Action

    @property
    def model(self) -> str:
        return self.version.model


@dataclass(frozen=True)
class AliasHistory:
    """Versions that held one alias, oldest first; the last is the current holder."""

    versions: tuple[str, ...] = ()

    @classmethod
    def from_tag(cls, text: str | None) -> AliasHistory:
        if not text:
            return cls()
        try:
            values = json.loads(text)
        except json.JSONDecodeError:
            return cls()
        return cls(tuple(str(v) for v in values)) if isinstance(values, list) else cls()

    def to_tag(self) -> str:
        return json.dumps(list(self.versions))

    def moved_to(self, version: str, current: str | None = None) -> AliasHistory:
        """After ``version`` took the alias from ``current`` (which may be missing from the history)."""
        versions = list(self.versions)
        if current is not None and (not versions or versions[-1] != current):
            versions.append(current)  # set outside rtml: remember it so rollback can return to it
        if not versions or versions[-1] != version:
            versions.append(version)
        return AliasHistory(tuple(versions[-HISTORY_LIMIT:]))

    def rolled_back(self, current: str) -> tuple[AliasHistory, str | None]:
        """The history after a rollback from ``current``, and the version to restore (None: none earlier)."""
        versions = list(self.versions)
        while versions and versions[-1] == current:
            versions.pop()
        return AliasHistory(tuple(versions)), (versions[-1] if versions else None)


def previous_of(history: Sequence[str], version: str) -> str | None:
    """The version that held the alias before ``version`` did, if the history knows."""
    before = [v for v in history[: len(history) - 1] if v != version] if history and history[-1] == version else []
    return before[-1] if before else None
