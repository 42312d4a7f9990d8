"""The model registry over MLflow: runs with their artifacts, versions with lineage tags, aliases.

MLflow is imported on first use (it takes seconds), its log lines and warnings are kept from users, and
every MLflow or database failure becomes one ``RegistryError`` that says what to do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from training.profile import ReferenceProfile
from training.versions import (
    Action,
    AliasChange,
    AliasHistory,
    RegisteredVersion,
    RunDirError,
    RunOutput,
    git_revision,
    history_tag,
    sha256_file,
    version_tags,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from rtml.settings import Settings

PROFILE_FILE = "reference_profile.json"
ARTIFACTS = ("model.onnx", "metrics.json", "run.json")


class RegistryError(Exception):
    """The registry refused or failed; the message names the model/version and what to do."""


def default_tracking_uri(settings: Settings) -> str:
    return settings.mlflow_tracking_uri or f"sqlite:///{(settings.state_dir / 'mlflow' / 'mlflow.db').resolve()}"


def checked_name(model: str) -> str:
    """Model names become topic names (``predictions.<model>``): letters, digits, '.', '_', '-'."""
    if not model or len(model) > 128 or not all(c.isalnum() or c in "._-" for c in model):
        raise RegistryError(f"{model!r} is not a valid model name (letters, digits, '.', '_', '-')")
    return model


def local_path(uri: str) -> Path | None:
    """The local file behind a ``file:`` URI or a plain path; None for remote stores."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):  # windows drive
        return Path(uri)
    return None


class ModelRegistry:
    """Register training runs as model versions, move aliases (``champion``, ``challenger``), roll back."""

    def __init__(self, tracking_uri: str, *, artifact_root: Path | None = None, cache_dir: Path | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "rtml-model-cache"
        self._client: MlflowClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistry:
        root = settings.state_dir / "mlflow"
        if settings.mlflow_tracking_uri is None:
            root.mkdir(parents=True, exist_ok=True)
        return cls(
            default_tracking_uri(settings),
            artifact_root=(root / "artifacts").resolve() if settings.mlflow_tracking_uri is None else None,
            cache_dir=root / "cache",
        )

    @contextlib.contextmanager
    def _mlflow(self, doing: str) -> Iterator[MlflowClient]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                yield self._connect()
            except RegistryError:
                raise
            except Exception as exc:
                raise RegistryError(self._explain(doing, exc)) from None

    def _connect(self) -> MlflowClient:
        if self._client is None:
            from mlflow import MlflowClient  # configures its loggers on import: quiet them after

            for name in ("mlflow", "alembic", "sqlalchemy"):
                logging.getLogger(name).setLevel(logging.ERROR)
            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def _explain(self, doing: str, exc: Exception) -> str:
        code = getattr(exc, "error_code", "")
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        if code == "RESOURCE_DOES_NOT_EXIST":
            return f"{doing}: {first}; see `rtml models list`"
        return (
            f"{doing} failed at the MLflow registry {self.tracking_uri}: {first}; "
            "check that it is reachable and writable (RTML_MLFLOW_TRACKING_URI)"
        )

    # Registering.

    def register_run(
        self,
        model_name: str,
        run_dir: str | Path,
        *,
        trigger: str | None = None,
        code_revision: str | None = None,
        profile: ReferenceProfile | None = None,
    ) -> RegisteredVersion:
        """Log the run (params, metrics, artifacts) and register its ONNX file as a new version of the model."""
        checked_name(model_name)
        try:
            run = RunOutput.load(run_dir)
        except RunDirError as exc:
            raise RegistryError(str(exc)) from None
        _check_feature_names(run)
        sha256 = sha256_file(run.model_path)
        if run.recorded_sha256 not in (None, sha256):
            raise RegistryError(f"{run.model_path} is not the file its run.json describes (sha256 differs): retrain")
        revision = code_revision or run.run.get("code_revision") or run.lineage.get("code_revision")
        revision = str(revision or git_revision(Path(__file__).resolve().parents[1]))
        with self._mlflow(f"registering {run.path} as model {model_name!r}") as client:
            mlflow_run = client.create_run(
                self._experiment(client, model_name), run_name=f"{model_name}-{trigger or 'run'}"
            )
            run_id = mlflow_run.info.run_id
            try:
                self._log(client, run_id, run, profile)
                client.set_terminated(run_id, "FINISHED")
            except BaseException:
                client.set_terminated(run_id, "FAILED")
                raise
            run_artifacts = client.get_run(run_id).info.artifact_uri.rstrip("/")
            model_uri = f"{run_artifacts}/model.onnx"
            local = local_path(model_uri)
            if local is not None:
                if sha256_file(local) != sha256:
                    raise RegistryError(f"the logged copy {local} differs from {run.model_path}: register again")
                model_uri = str(local.resolve())
            tags = version_tags(run, sha256=sha256, artifact_uri=model_uri, trigger=trigger, code_revision=revision)
            client.set_tag(run_id, "rtml.trigger", tags["trigger"])
            with contextlib.suppress(Exception):  # already registered: fine
                client.create_registered_model(model_name)
            created = client.create_model_version(model_name, source=run_artifacts, run_id=run_id, tags=tags)
        return self.get(model_name, str(created.version))

    def _experiment(self, client: MlflowClient, model: str) -> str:
        name = f"rtml-{model}"
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        location = (self.artifact_root / model).as_uri() if self.artifact_root is not None else None
        return str(client.create_experiment(name, artifact_location=location))

    @staticmethod
    def _log(client: MlflowClient, run_id: str, run: RunOutput, profile: ReferenceProfile | None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        params = [Param(k[:250], v[:6000]) for k, v in run.params().items()]
        metrics = [Metric(k[:250], v, 0, 0) for k, v in run.numeric_metrics().items()]
        tags = [RunTag("rtml.feature_names", json.dumps(run.feature_names)[:5000])]
        for i in range(0, max(len(params), len(metrics), 1), 100):
            client.log_batch(
                run_id, metrics=metrics[i : i + 100], params=params[i : i + 100], tags=tags if not i else []
            )
        for name in ARTIFACTS:
            client.log_artifact(run_id, str(run.path / name))
        if profile is not None or (run.path / PROFILE_FILE).is_file():
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / PROFILE_FILE
                path.write_bytes(profile.to_json() if profile else (run.path / PROFILE_FILE).read_bytes())
                client.log_artifact(run_id, str(path))

    # Reading.

    def models(self) -> list[str]:
        with self._mlflow("listing registered models") as client:
            return sorted(m.name for m in client.search_registered_models(max_results=1000))

    def versions(self, model: str) -> list[RegisteredVersion]:
        """Every version of ``model``, newest first."""
        with self._mlflow(f"listing versions of model {model!r}") as client:
            aliases = self._aliases(client, model)
            found = client.search_model_versions(f"name = '{checked_name(model)}'", max_results=10_000)
            out = [self._version(client, mv, aliases) for mv in found]
        return sorted(out, key=lambda v: int(v.version), reverse=True)

    def get(self, model: str, version_or_alias: str) -> RegisteredVersion:
        """A version by number (``3``) or by alias (``champion``)."""
        with self._mlflow(f"reading model {model!r} version {version_or_alias!r}") as client:
            if version_or_alias.isdigit():
                mv = client.get_model_version(model, version_or_alias)
            else:
                mv = client.get_model_version_by_alias(model, version_or_alias)
            return self._version(client, mv, self._aliases(client, model))

    def alias(self, model: str, alias: str) -> RegisteredVersion | None:
        """The version holding ``alias``, or None (also when the model is not registered yet)."""
        with self._mlflow(f"reading alias {alias!r} of model {model!r}") as client:
            if self._registered(client, model) is None or alias not in self._aliases(client, model):
                return None
        return self.get(model, alias)

    def alias_history(self, model: str, alias: str = "champion") -> list[str]:
        with self._mlflow(f"reading the {alias} history of model {model!r}") as client:
            registered = self._registered(client, model)
            return list(AliasHistory.from_tag((registered.tags if registered else {}).get(history_tag(alias))).versions)

    @staticmethod
    def _registered(client: MlflowClient, model: str) -> Any:
        found = client.search_registered_models(f"name = '{checked_name(model)}'", max_results=1)
        return found[0] if found else None

    @staticmethod
    def _aliases(client: MlflowClient, model: str) -> dict[str, str]:
        return {alias: str(v) for alias, v in client.get_registered_model(model).aliases.items()}

    @staticmethod
    def _version(client: MlflowClient, mv: Any, aliases: dict[str, str]) -> RegisteredVersion:
        metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
        return RegisteredVersion(
            model=mv.name,
            version=str(mv.version),
            run_id=mv.run_id or "",
            created_ms=int(mv.creation_timestamp or 0),
            tags=dict(mv.tags or {}),
            aliases=tuple(sorted(a for a, v in aliases.items() if v == str(mv.version))),
            metrics=dict(metrics),
        )

    # Aliases.

    def set_alias(self, model: str, alias: str, version: str, *, action: Action = "promoted") -> AliasChange:
        """Give ``alias`` to ``version`` and record it in the alias history (for rollback)."""
        target = self.get(model, version)
        previous = self.alias(model, alias)
        history = AliasHistory(tuple(self.alias_history(model, alias)))
        moved = history.moved_to(target.version, previous.version if previous else None)
        return self._move(target, alias, previous, moved, action)

    def rollback(self, model: str, alias: str = "champion") -> AliasChange:
        """Give ``alias`` back to the version that held it before the current one."""
        current = self.alias(model, alias)
        if current is None:
            raise RegistryError(f"model {model!r} has no {alias}: nothing to roll back")
        history, target = AliasHistory(tuple(self.alias_history(model, alias))).rolled_back(current.version)
        if target is None:
            raise RegistryError(
                f"model {model!r} has no earlier {alias} than version {current.version}: "
                f"promote another version with `rtml models promote {model} VERSION --force`"
            )
        return self._move(self.get(model, target), alias, current, history, "rolled_back")

    def _move(
        self,
        target: RegisteredVersion,
        alias: str,
        previous: RegisteredVersion | None,
        history: AliasHistory,
        action: Action,
    ) -> AliasChange:
        with self._mlflow(f"moving alias {alias!r} of model {target.model!r} to version {target.version}") as client:
            client.set_registered_model_alias(target.model, alias, target.version)
            client.set_registered_model_tag(target.model, history_tag(alias), history.to_tag())
        return AliasChange(alias, self.get(target.model, target.version), previous, action)

    # Artifacts.

    def local_artifact(self, model: str, version_or_alias: str) -> Path:
        """A local path to the version's ONNX file, checked against its sha256 (downloaded if remote)."""
        v = self.get(model, version_or_alias)
        path = local_path(v.artifact_uri) if v.artifact_uri else None
        if path is None or not path.is_file():
            path = self._download(v, "model.onnx")
        if sha256_file(path) != v.sha256:
            raise RegistryError(
                f"{path} does not match the sha256 registered for model {model!r} version {v.version}: "
                "the artifact was changed; register the run again"
            )
        return path

    def reference_profile(self, model: str, version_or_alias: str) -> ReferenceProfile | None:
        """The version's reference profile, or None when it was registered without one."""
        v = self.get(model, version_or_alias)
        with self._mlflow(f"listing artifacts of model {model!r} version {v.version}") as client:
            names = {Path(f.path).name for f in client.list_artifacts(v.run_id)}
        if PROFILE_FILE not in names:
            return None
        return ReferenceProfile.from_json(self._download(v, PROFILE_FILE).read_bytes())

    def _download(self, v: RegisteredVersion, name: str) -> Path:
        with self._mlflow(f"fetching {name} of model {v.model!r} version {v.version}") as client:
            target = self.cache_dir / v.model / v.version
            target.mkdir(parents=True, exist_ok=True)
            return Path(client.download_artifacts(v.run_id, name, str(target)))


def _check_feature_names(run: RunOutput) -> None:
    import onnx

    try:
        model = onnx.load(str(run.model_path), load_external_data=False)
    except Exception as exc:
        raise RegistryError(f"{run.model_path} is not an ONNX model ({exc})") from None
    meta = {p.key: p.value for p in model.metadata_props}
    if "rtml.feature_names" in meta and json.loads(meta["rtml.feature_names"]) != run.feature_names:
        raise RegistryError(
            f"{run.model_path}: its rtml.feature_names metadata differs from run.json feature_names; "
            "export the model and run record from the same run"
        )
