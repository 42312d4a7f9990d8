"""A native TensorRT engine behind ``ModelRuntime``: built from the ONNX file, cached beside it.

Optional: needs the ``tensorrt`` package (``pip install 'rtml[gpu]'``) and a CUDA GPU; without them
``TensorRTModel`` raises ``RuntimeUnavailable`` with that hint, and the scorer's default runtime (ONNX
Runtime) is unaffected. Buffers and the stream are torch CUDA tensors (torch is a dependency anyway).
The engine has one optimization profile for the batch axis, ``[1, max_batch]``; larger batches run in
chunks. The serialized engine is cached as ``<model>.<sha>.<gpu>.<trt version>.plan`` next to the ONNX
file (or in ``cache_dir``): an engine is only valid for the GPU and TensorRT version that built it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from serving.runtime import FEATURE_NAMES_PROP, INPUT_NAME, OUTPUT_NAME, RuntimeUnavailable, model_threshold

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "the native TensorRT runtime needs the `tensorrt` package and a CUDA GPU: `pip install 'rtml[gpu]'`, "
    "or set RTML_SCORER_RUNTIME=onnxruntime (it uses the CUDA/TensorRT execution providers when present)"
)

try:  # optional: the GPU extra
    import tensorrt as trt
except ImportError:  # pragma: no cover - depends on the environment
    trt = None


def available() -> bool:
    """Whether ``TensorRTModel`` can run here: the package imports and torch sees a CUDA GPU."""
    if trt is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


class TensorRTModel:
    def __init__(self, path: str | Path, *, max_batch: int = 256, cache_dir: Path | None = None) -> None:
        if trt is None:
            raise RuntimeUnavailable(INSTALL_HINT)
        import onnx
        import torch

        if not torch.cuda.is_available():
            raise RuntimeUnavailable(f"no CUDA GPU visible to torch; {INSTALL_HINT}")
        self.path = Path(path)
        self.max_batch = max(1, max_batch)
        data = self.path.read_bytes()
        proto = onnx.load_from_string(data)
        props = {p.key: p.value for p in proto.metadata_props}
        self._feature_names = tuple(json.loads(props[FEATURE_NAMES_PROP])) if FEATURE_NAMES_PROP in props else None
        self._threshold = model_threshold(props, self.path)
        dims = proto.graph.input[0].type.tensor_type.shape.dim
        self.n_features = int(dims[1].dim_value)
        self._torch = torch
        self._logger = trt.Logger(trt.Logger.WARNING)
        plan = self._plan_path(data, cache_dir)
        engine_bytes = plan.read_bytes() if plan.is_file() else self._build(data, plan)
        self.engine = trt.Runtime(self._logger).deserialize_cuda_engine(engine_bytes)
        if self.engine is None:
            raise RuntimeError(f"{self.path}: TensorRT could not load the engine {plan}; delete it to rebuild")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()

    def _plan_path(self, data: bytes, cache_dir: Path | None) -> Path:
        gpu = re.sub(r"[^A-Za-z0-9]+", "-", self._torch.cuda.get_device_name(0)).strip("-")
        digest = hashlib.sha256(data).hexdigest()[:12]
        name = f"{self.path.stem}.{digest}.b{self.max_batch}.{gpu}.trt{trt.__version__}.plan"
        return (cache_dir or self.path.parent) / name

    def _build(self, data: bytes, plan: Path) -> bytes:
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(data):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"{self.path}: TensorRT cannot parse the ONNX model: {errors}")
        config = builder.create_builder_config()
        profile = builder.create_optimization_profile()
        shape = lambda n: (n, self.n_features)  # noqa: E731
        profile.set_shape(INPUT_NAME, shape(1), shape(self.max_batch), shape(self.max_batch))
        config.add_optimization_profile(profile)
        log.info("%s: building a TensorRT engine (batch 1..%d), once per GPU", self.path.name, self.max_batch)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"{self.path}: TensorRT failed to build an engine (see the log above)")
        engine = bytes(serialized)
        try:
            plan.parent.mkdir(parents=True, exist_ok=True)
            plan.write_bytes(engine)
        except OSError as exc:  # a read-only model directory: run without the cache
            log.warning("cannot cache the TensorRT engine at %s: %s", plan, exc)
        return engine

    def __repr__(self) -> str:
        return f"TensorRTModel({self.path.name!r})"

    @property
    def provider(self) -> str:
        return "tensorrt"

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        return self._feature_names

    @property
    def threshold(self) -> float | None:
        return self._threshold

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(features, dtype=np.float32)
        parts = [self._run(x[i : i + self.max_batch]) for i in range(0, len(x), self.max_batch)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def _run(self, x: np.ndarray) -> np.ndarray:
        torch: Any = self._torch
        with torch.cuda.stream(self.stream):
            inputs = torch.from_numpy(x).to("cuda", non_blocking=True)
            output = torch.empty(len(x), dtype=torch.float32, device="cuda")
            self.context.set_input_shape(INPUT_NAME, tuple(x.shape))
            self.context.set_tensor_address(INPUT_NAME, inputs.data_ptr())
            self.context.set_tensor_address(OUTPUT_NAME, output.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError(f"{self.path}: TensorRT execution failed")
            result = output.cpu()
        self.stream.synchronize()
        return np.asarray(result.numpy(), dtype=np.float32)

    def close(self) -> None:
        del self.context
        del self.engine
