"""Models for tests, notebooks and benchmarks: a small ONNX file with the scorer's contract, and an
in-process runtime, so the scoring path runs without a trained model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from serving.runtime import FEATURE_NAMES_PROP, INPUT_NAME, OUTPUT_NAME, THRESHOLD_PROP


def write_linear_onnx(
    path: str | Path,
    feature_names: Sequence[str],
    weights: Sequence[float] | np.ndarray,
    bias: float = 0.0,
    threshold: float | None = None,
) -> Path:
    """``score = sigmoid(where(isnan(x), 0, x) @ w + b)``: ``features`` float32 [batch, F] -> ``score`` [batch],
    with ``rtml.feature_names`` (and ``rtml.threshold`` when given) in its metadata, as ``training.export`` writes
    them."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.asarray(weights, dtype=np.float32).reshape(-1, 1)
    if len(w) != len(feature_names):
        raise ValueError(f"{len(w)} weights for {len(feature_names)} features")
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.asarray([bias], np.float32), "b"),
        numpy_helper.from_array(np.asarray([0.0], np.float32), "zero"),
        numpy_helper.from_array(np.asarray([1], np.int64), "axes"),
    ]
    nodes = [
        helper.make_node("IsNaN", [INPUT_NAME], ["nan"]),
        helper.make_node("Where", ["nan", "zero", INPUT_NAME], ["x"]),
        helper.make_node("MatMul", ["x", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        helper.make_node("Squeeze", ["p", "axes"], [OUTPUT_NAME]),
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", len(feature_names)])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    props = {FEATURE_NAMES_PROP: json.dumps(list(feature_names))}
    if threshold is not None:
        props[THRESHOLD_PROP] = repr(float(threshold))
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    target = Path(path)
    onnx.save(model, str(target))
    return target


class ConstantRuntime:
    """A ``ModelRuntime`` that gives every row ``score`` (NaN to play a broken model); records its calls."""

    def __init__(
        self, score: float, feature_names: Sequence[str] | None, provider: str = "cpu", threshold: float | None = None
    ) -> None:
        self.score = score
        self._feature_names = tuple(feature_names) if feature_names is not None else None
        self._provider = provider
        self._threshold = threshold
        self.calls: list[int] = []
        self.closed = False

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
        if self.closed:
            raise RuntimeError("predict on a closed runtime")
        self.calls.append(len(features))
        return np.full(len(features), self.score, dtype=np.float32)

    def close(self) -> None:
        self.closed = True
