"""Model runtimes behind one interface: ONNX Runtime (execution providers picked at run time) and TensorRT.

Every model takes ``features`` float32 ``[N, F]`` (raw values in the service's order, NaN allowed) and
returns ``score`` float32 ``[N]``. ``OnnxRuntimeModel`` asks for the providers in the configured order
(TensorRT, CUDA, then CPU by default), keeps those this onnxruntime build has, and reports the one the
session actually runs on: a GPU provider that fails to initialize falls back to CPU, and says so.
``load_runtime`` picks the implementation from a type string (``onnxruntime`` | ``tensorrt``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

INPUT_NAME = "features"
OUTPUT_NAME = "score"
FEATURE_NAMES_PROP = "rtml.feature_names"
THRESHOLD_PROP = "rtml.threshold"  # the version's decision threshold (training.export writes it)

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
SHORT_NAMES = {v: k for k, v in PROVIDERS.items()}


class RuntimeUnavailable(RuntimeError):
    """The runtime cannot run here (package or GPU missing); the message says what to install or set."""


@runtime_checkable
class ModelRuntime(Protocol):
    """A loaded model: ``predict`` float32 ``[N, F]`` -> float32 ``[N]``."""

    @property
    def provider(self) -> str:
        """Where it runs, short: ``cpu``, ``cuda``, ``tensorrt-ep`` (ONNX Runtime's TensorRT EP), ``tensorrt``."""
        ...

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """The feature order written into the model (``rtml.feature_names``), None if it has none."""
        ...

    @property
    def threshold(self) -> float | None:
        """The score from which the model calls a positive (``rtml.threshold``), None if it has none."""
        ...

    def predict(self, features: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RuntimeConfig:
    runtime: str = "onnxruntime"  # onnxruntime | tensorrt
    providers: tuple[str, ...] = ("tensorrt", "cuda", "cpu")
    threads: int = 1
    max_batch: int = 256  # TensorRT: the largest batch of the optimization profile


def choose_providers(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    """The requested providers (short names) this build has, in order; CPU is always last."""
    chosen = [PROVIDERS[name] for name in requested if name != "cpu" and PROVIDERS[name] in available]
    return [*chosen, PROVIDERS["cpu"]]


class OnnxRuntimeModel:
    def __init__(self, path: str | Path, *, providers: Sequence[str] = ("cpu",), threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: a missing GPU library is reported below, once
        self.requested = choose_providers(providers, ort.get_available_providers())
        self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=self.requested)
        used = self.session.get_providers()
        self._provider = "tensorrt-ep" if used[0] == PROVIDERS["tensorrt"] else SHORT_NAMES.get(used[0], used[0])
        if used[0] != self.requested[0]:
            log.warning(
                "%s: asked for %s, running on %s (the GPU provider did not initialize: check the CUDA/TensorRT "
                "libraries, or set RTML_SCORER_PROVIDERS=[\"cpu\"])",
                self.path.name, self.requested[0], used[0],
            )  # fmt: skip
        inputs = [i.name for i in self.session.get_inputs()]
        if INPUT_NAME not in inputs:
            raise ValueError(f"{self.path}: the model's inputs are {inputs}, expected {INPUT_NAME!r}")
        meta = self.session.get_modelmeta().custom_metadata_map
        self._feature_names = tuple(json.loads(meta[FEATURE_NAMES_PROP])) if FEATURE_NAMES_PROP in meta else None
        self._threshold = model_threshold(meta, self.path)

    def __repr__(self) -> str:
        return f"OnnxRuntimeModel({self.path.name!r}, provider={self._provider!r})"

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        return self._feature_names

    @property
    def threshold(self) -> float | None:
        return self._threshold

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(features, dtype=np.float32)
        (score,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: x})
        return np.asarray(score, dtype=np.float32).reshape(len(x))

    def close(self) -> None:
        del self.session


def model_threshold(props: dict[str, str], path: Path) -> float | None:
    """The ``rtml.threshold`` of a model's metadata; ValueError when it is there but not a score in [0, 1]."""
    text = props.get(THRESHOLD_PROP)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{path.name}: {THRESHOLD_PROP} is {text!r}, not a score in [0, 1]")
    return value


def load_runtime(path: str | Path, config: RuntimeConfig) -> ModelRuntime:
    """The model at ``path`` on the runtime ``config.runtime`` names."""
    if config.runtime == "onnxruntime":
        return OnnxRuntimeModel(path, providers=config.providers, threads=config.threads)
    if config.runtime == "tensorrt":
        from serving.tensorrt_runtime import TensorRTModel

        return TensorRTModel(path, max_batch=config.max_batch)
    raise ValueError(f"no model runtime {config.runtime!r}: use onnxruntime or tensorrt")
