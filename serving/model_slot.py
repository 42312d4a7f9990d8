"""Hot swap: a new model version is prepared beside the serving one and swapped in between batches.

``prepare`` checks a candidate in order: the artifact resolves to a local file, its sha256 is the one
the registry recorded, it loads, its feature signature (``rtml.feature_names``) is the service's, and a
warm-up batch gives one finite score per row. Any failure raises ``SwapRejected`` naming the step.

``ModelSlot`` holds one role's model (``champion``, ``challenger``). ``offer`` starts preparing a version
(on a background thread, so scoring never waits for a load); ``swap_if_ready`` is called by the scorer
between batches and only there does the serving model change: a batch is scored by one version. A
rejected candidate leaves the serving model in place and is reported (log, and the ``on_reject`` hook
the scorer turns into a metric). Pure apart from the injected ``prepare``: no Kafka, no registry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from serving.runtime import ModelRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """Where a version comes from: ``artifact`` is a path or URI; ``sha256`` is the registry's."""

    model: str
    version: str
    alias: str
    artifact: str
    sha256: str


@dataclass(frozen=True, eq=False)
class LoadedModel:
    source: ModelSource
    runtime: ModelRuntime

    @property
    def version(self) -> str:
        return self.source.version

    @property
    def provider(self) -> str:
        return self.runtime.provider


class SwapRejected(Exception):
    """A candidate failed ``step`` (resolve, sha256, load, signature, warmup); the old model keeps serving."""

    def __init__(self, source: ModelSource, step: str, detail: str) -> None:
        super().__init__(f"model {source.model} version {source.version} ({source.alias}) rejected at {step}: {detail}")
        self.source = source
        self.step = step


def prepare(
    source: ModelSource,
    *,
    resolve: Callable[[ModelSource], Path],
    sha256: Callable[[Path], str],
    load: Callable[[Path], ModelRuntime],
    feature_names: Sequence[str],
    warmup: np.ndarray,
) -> LoadedModel:
    """Resolve, verify, load and warm up ``source``; ``SwapRejected`` names the step that failed."""

    def step(name: str, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except SwapRejected:
            raise
        except Exception as exc:
            raise SwapRejected(source, name, f"{type(exc).__name__}: {exc}") from exc

    path = step("resolve", lambda: resolve(source))
    assert isinstance(path, Path)
    actual = step("sha256", lambda: sha256(path))
    if actual != source.sha256:
        raise SwapRejected(source, "sha256", f"{path} has sha256 {actual}, the registry recorded {source.sha256}")
    runtime = step("load", lambda: load(path))
    assert isinstance(runtime, ModelRuntime)
    try:
        names = runtime.feature_names
        if names is None or tuple(names) != tuple(feature_names):
            raise SwapRejected(source, "signature", _signature_diff(names, feature_names))
        scores = step("warmup", lambda: runtime.predict(warmup))
        assert isinstance(scores, np.ndarray)
        if scores.shape != (len(warmup),) or not np.isfinite(scores).all():
            raise SwapRejected(
                source, "warmup", f"{len(warmup)} rows gave scores of shape {scores.shape} (finite and one per row?)"
            )
    except BaseException:
        runtime.close()
        raise
    return LoadedModel(source, runtime)


def _signature_diff(names: Sequence[str] | None, expected: Sequence[str]) -> str:
    if names is None:
        return "the model has no rtml.feature_names metadata: export it with training.export"
    extra, lacking = sorted(set(names) - set(expected)), sorted(set(expected) - set(names))
    if not extra and not lacking:
        return "its features are the service's in another order"
    return f"features the service lacks {extra[:5]}, features the model lacks {lacking[:5]}"


class ModelSlot:
    def __init__(
        self,
        role: str,
        prepare: Callable[[ModelSource], LoadedModel],
        *,
        background: bool = True,
        on_swap: Callable[[str, LoadedModel | None, LoadedModel], None] | None = None,
        on_reject: Callable[[str, SwapRejected], None] | None = None,
    ) -> None:
        self.role = role
        self._prepare = prepare
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"model-{role}") if background else None
        self._on_swap = on_swap
        self._on_reject = on_reject
        self._pending: list[tuple[ModelSource, Future[LoadedModel]]] = []
        self.current: LoadedModel | None = None

    def load_now(self, source: ModelSource) -> LoadedModel:
        """Prepare ``source`` and serve it at once (start-up); ``SwapRejected`` if it fails."""
        self._install(self._prepare(source))
        assert self.current is not None
        return self.current

    def offer(self, source: ModelSource) -> None:
        """Start preparing ``source``; it serves from the first ``swap_if_ready`` after it is ready."""
        latest = self._pending[-1][0] if self._pending else None
        serving = self.current.source if self.current is not None else None
        if source == (latest or serving):
            log.info("model %s version %s (%s) is already serving or loading", source.model, source.version, self.role)
            return
        log.info("model %s version %s (%s): loading beside the serving one", source.model, source.version, self.role)
        future: Future[LoadedModel]
        if self._executor is not None:
            future = self._executor.submit(self._prepare, source)
        else:
            future = Future()
            try:
                future.set_result(self._prepare(source))
            except Exception as exc:
                future.set_exception(exc)
        self._pending.append((source, future))

    @property
    def loading(self) -> bool:
        return bool(self._pending)

    def swap_if_ready(self) -> LoadedModel | None:
        """Between batches: serve the newest prepared candidate; report rejected ones. Returns the new model."""
        ready: LoadedModel | None = None
        while self._pending and self._pending[0][1].done():
            source, future = self._pending.pop(0)
            error = future.exception()
            if error is None:
                if ready is not None:
                    ready.runtime.close()  # superseded before it served
                ready = future.result()
                continue
            if not isinstance(error, SwapRejected):
                error = SwapRejected(source, "prepare", f"{type(error).__name__}: {error}")
            serving = ready or self.current
            log.error("%s; still serving version %s", error, serving.version if serving else "none")
            if self._on_reject is not None:
                self._on_reject(self.role, error)
        if ready is not None:
            self._install(ready)
        return ready

    def _install(self, model: LoadedModel) -> None:
        old, self.current = self.current, model
        own = model.runtime.threshold
        log.info(
            "model %s %s: now version %s on %s, its threshold %s (was %s)",
            model.source.model, self.role, model.version, model.provider, "none" if own is None else f"{own:.4f}",
            old.version if old else "none",
        )  # fmt: skip
        if self._on_swap is not None:
            self._on_swap(self.role, old, model)
        if old is not None:
            old.runtime.close()

    def wait_ready(self, timeout_s: float) -> None:
        """Block until every pending candidate finished preparing (tests, and start-up without a model)."""
        for _, future in list(self._pending):
            future.exception(timeout=timeout_s)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self.current is not None:
            self.current.runtime.close()
