"""A seeded synthetic model for the drift monitor's tests and benchmark: a reference profile and predictions.

Five features like the fraud model's (a lognormal amount, a Poisson count, a uniform hour, a flag, a gaussian
with 5% missing), a logistic score of them, and labels drawn from the score. ``predictions(n, shift_at=k)``
multiplies ``amount`` by ``shift`` from the k-th prediction on: an abrupt drift of one feature (and the score).
"""

from __future__ import annotations

import numpy as np

from schemas.label import Label
from schemas.prediction import Prediction
from training.profile import ReferenceProfile, build_profile

FEATURES = ("amount", "txn_count_1h", "hour", "is_online", "balance_z")
MODEL = "fraud"
VERSION = "1"
START_MS = 1_700_000_000_000
STEP_MS = 2  # 500 predictions/s of event time


def feature_matrix(n: int, rng: np.random.Generator, *, amount_factor: np.ndarray | float = 1.0) -> np.ndarray:
    X = np.column_stack(
        [
            rng.lognormal(3.5, 0.8, n) * amount_factor,
            rng.poisson(2.0, n).astype(np.float64),
            rng.uniform(0, 24, n),
            (rng.random(n) < 0.3).astype(np.float64),
            rng.normal(0, 1, n),
        ]
    )
    X[rng.random(n) < 0.05, 4] = np.nan
    return X


def scores_of(X: np.ndarray) -> np.ndarray:
    z = 0.02 * (X[:, 0] - 40) + 0.3 * X[:, 1] + 0.5 * X[:, 3] + 0.2 * np.nan_to_num(X[:, 4]) - 4.0
    return 1 / (1 + np.exp(-z))


def reference_profile(rows: int = 20_000, seed: int = 1) -> ReferenceProfile:
    X = feature_matrix(rows, np.random.default_rng(seed))
    return build_profile(X, scores_of(X), FEATURES)


def predictions(
    n: int,
    *,
    seed: int = 2,
    shift_at: int | None = None,
    shift: float = 1.8,
    start_index: int = 0,
    version: str = VERSION,
    threshold: float = 0.5,
) -> tuple[list[Prediction], list[Label]]:
    """``n`` predictions (event ids ``e<index>``, 2 ms apart) and one label each, drawn from the score."""
    rng = np.random.default_rng(seed)
    index = np.arange(start_index, start_index + n)
    factor = np.where(index >= shift_at, shift, 1.0) if shift_at is not None else 1.0
    X = feature_matrix(n, rng, amount_factor=factor)
    scores = scores_of(X)
    actual = (rng.random(n) < scores).astype(int)
    preds, labels = [], []
    for i, row, score, y in zip(index.tolist(), X.tolist(), scores.tolist(), actual.tolist(), strict=True):
        ts = START_MS + i * STEP_MS
        features = {name: (None if v != v else v) for name, v in zip(FEATURES, row, strict=True)}
        preds.append(
            Prediction(
                event_id=f"e{i}",
                model=MODEL,
                version=version,
                score=score,
                label=int(score >= threshold),  # type: ignore[arg-type]
                features=features,
                ts=ts,
                scored_at=ts + 3,
            )
        )
        labels.append(Label(event_id=f"e{i}", label=y, ts=ts + 60_000, event_ts=ts))  # type: ignore[arg-type]
    return preds, labels
