"""ONNX export of a trained ``FraudMLP``, accepted only after a parity check against torch.

The graph takes ``features`` float32 [batch, F] (raw values, NaN allowed, registry feature order) and returns
``score`` float32 [batch], a probability (calibrated when a ``ScoreModel`` with Platt ``(a, b)`` is exported:
they are two initializers of the graph). Feature names ride along in the model's ``metadata_props``. The file is
written beside its destination and moved into place only when ONNX Runtime (CPU) matches torch on the given
inputs to within the tolerance; otherwise it is deleted and ``ParityError`` raised.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from training.artifact import FEATURE_NAMES_PROP, THRESHOLD_PROP
from training.model import FraudMLP, ScoreModel
from training.versions import sha256_file

OPSET = 17
INPUT_NAME = "features"
OUTPUT_NAME = "score"
PARITY_TOLERANCE = 1e-5

M = TypeVar("M", bound=nn.Module)


class ParityError(RuntimeError):
    """ONNX Runtime and torch disagree on the same inputs: the artifact must not be used."""


def export_onnx(
    model: FraudMLP | ScoreModel,
    path: str | Path,
    feature_names: Sequence[str],
    parity_inputs: np.ndarray,
    *,
    reference: nn.Module | None = None,
    tolerance: float = PARITY_TOLERANCE,
    threshold: float | None = None,
) -> str:
    """Export ``model`` to ``path``, check parity on ``parity_inputs`` and return the file's sha256.

    A bare ``FraudMLP`` is exported with the plain sigmoid. ``reference`` is the torch module whose
    probabilities ONNX must reproduce; it defaults to ``model``. ``threshold``, the score from which the model
    calls a positive, rides along in the metadata (``rtml.threshold``): the scorer labels at it.
    """
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"the threshold is a score in [0, 1], got {threshold}")
    scorer = _cpu_copy(model if isinstance(model, ScoreModel) else ScoreModel(model))
    n_features = scorer.model.n_features
    names = list(feature_names)
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names for a model with {n_features} inputs")
    target = Path(path)
    staging = target.with_name(target.name + ".staging")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter on purpose: the dynamo one needs onnxscript, which is not installed.
            warnings.filterwarnings("ignore", "You are using the legacy TorchScript-based ONNX export")
            warnings.filterwarnings("ignore", "The feature will be removed", DeprecationWarning)
            torch.onnx.export(
                scorer,
                (torch.zeros(2, n_features),),
                str(staging),
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            )
        proto = onnx.load(str(staging))
        props = {FEATURE_NAMES_PROP: json.dumps(names)}
        if threshold is not None:
            props[THRESHOLD_PROP] = repr(float(threshold))
        onnx.helper.set_model_props(proto, props)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(staging))
        check_parity(staging, reference if reference is not None else scorer, parity_inputs, tolerance)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return sha256_file(target)


def check_parity(
    onnx_path: str | Path, reference: nn.Module, inputs: np.ndarray, tolerance: float = PARITY_TOLERANCE
) -> float:
    """Max |ONNX - torch| over ``inputs``; raises ``ParityError`` above ``tolerance``.

    A ``FraudMLP`` reference is compared through its probabilities, any other module through its output.
    """
    if isinstance(reference, FraudMLP):
        reference = ScoreModel(reference)
    x = np.ascontiguousarray(inputs, dtype=np.float32)
    reference_cpu = _cpu_copy(reference)
    with torch.no_grad():
        expected = reference_cpu(torch.from_numpy(x)).float().numpy()
    (actual,) = onnx_session(onnx_path).run([OUTPUT_NAME], {INPUT_NAME: x})
    if actual.shape != expected.shape:
        raise ParityError(f"{onnx_path}: ONNX output shape {actual.shape} differs from torch {expected.shape}")
    diff = float(np.max(np.abs(actual - expected), initial=0.0))
    if not diff <= tolerance:
        raise ParityError(
            f"{onnx_path}: ONNX Runtime differs from torch by {diff:.3g} (> {tolerance:g}) on {len(x)} rows; "
            "the artifact was rejected"
        )
    return diff


def onnx_session(path: str | Path) -> ort.InferenceSession:
    """A CPU ONNX Runtime session, quiet except for errors."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _cpu_copy(module: M) -> M:
    """A CPU float32 copy in eval mode, so export and parity never touch the caller's module."""
    return copy.deepcopy(module).to("cpu", torch.float32).eval()
