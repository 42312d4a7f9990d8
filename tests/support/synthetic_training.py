"""Seeded synthetic fraud data for training tests and benchmarks: the label depends on the features.

Four features with different scales, int and float columns, a few nulls, timestamps with ties, about 10 %
positives; ``noise`` carries no signal. A model that learns ``amount``, ``velocity`` and ``risk`` reaches a
test ROC-AUC near 0.9; the constant predictor gets 0.5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from training.dataset import write_training_set

FEATURES = ("amount", "velocity", "risk", "noise")
LINEAGE = {"delta_version": 42, "feature_definitions_sha256": "ab" * 32, "code_revision": "test"}
T0 = 1_700_000_000_000


def fraud_columns(n_rows: int, seed: int = 0, null_fraction: float = 0.05) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    ts = T0 + np.sort(rng.integers(0, 30 * 86_400, n_rows)) * 1000  # whole seconds: ties happen
    amount = rng.lognormal(3.0, 1.0, n_rows)
    velocity = rng.poisson(2.0, n_rows)
    risk = rng.normal(0.0, 1.0, n_rows)
    logit = -3.2 + 1.2 * (np.log(amount) - 3.0) + 0.7 * (velocity - 2.0) + 1.6 * risk
    label = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    amount_column = np.where(rng.random(n_rows) < null_fraction, np.nan, amount)
    velocity_column = pa.array(velocity, type=pa.int64(), mask=rng.random(n_rows) < null_fraction)
    return {
        "event_id": [f"evt-{i}" for i in range(n_rows)],
        "ts": ts,
        "label": label,
        "amount": amount_column,
        "velocity": velocity_column,
        "risk": risk,
        "noise": rng.normal(0.0, 1.0, n_rows),
    }


def write_synthetic(path: Path, n_rows: int, seed: int = 0) -> Path:
    return write_training_set(path, fraud_columns(n_rows, seed), FEATURES, LINEAGE)
