from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from training import evaluate
from training.calibration import C, Platt, fit_platt
from training.dataset import TrainingSet, time_split
from training.model import ScoreModel, fraud_model_from_config


def logistic_sample(n: int, a: float, b: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    return z, (rng.random(n) < 1.0 / (1.0 + np.exp(-(a * z + b)))).astype(np.int64)


def test_fit_recovers_the_generating_parameters_and_matches_sklearn() -> None:
    z, y = logistic_sample(20_000, a=0.5, b=-2.0)
    platt = fit_platt(z, y)
    assert platt.a == pytest.approx(0.5, abs=0.05) and platt.b == pytest.approx(-2.0, abs=0.1)
    oracle = LogisticRegression(C=C, tol=1e-10, max_iter=1000).fit(z[:, None], y)
    assert platt.a == pytest.approx(float(oracle.coef_[0, 0]), abs=1e-4)
    assert platt.b == pytest.approx(float(oracle.intercept_[0]), abs=1e-4)
    assert fit_platt(z, y) == platt  # deterministic: the same inputs give the same bits


def test_separable_labels_give_finite_parameters() -> None:
    z = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    platt = fit_platt(z, (z > 0).astype(np.int64))
    assert np.isfinite([platt.a, platt.b]).all() and platt.a > 0
    assert np.all(np.diff(platt.apply(z)) > 0)


def test_identity_and_bad_inputs() -> None:
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(Platt().apply(z), 1.0 / (1.0 + np.exp(-z)))
    with pytest.raises(ValueError, match="both classes"):
        fit_platt(z, np.zeros(3))
    with pytest.raises(ValueError, match="equal 1-d arrays"):
        fit_platt(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="finite"):
        fit_platt(np.array([np.nan, 0.0]), np.array([0, 1]))


def test_platt_undoes_the_pos_weight_skew(small_set: TrainingSet) -> None:
    """Trained with pos_weight, the raw probabilities lose to the constant on Brier; calibrated, they do not."""
    train, val, test = time_split(small_set.ts)
    X, y = small_set.X, small_set.y
    torch.manual_seed(0)
    model = fraud_model_from_config({"hidden": [16, 8]}, X.shape[1], X[train])
    features, labels = torch.from_numpy(X[train]), torch.from_numpy(y[train]).float()
    criterion = torch.nn.BCEWithLogitsLoss(pos_weight=(len(labels) - labels.sum()) / labels.sum())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        optimizer.zero_grad()
        criterion(model(features), labels).backward()
        optimizer.step()
    platt = fit_platt(model.predict_logits(X[val]), y[val])
    raw = evaluate.brier(y[test], model.predict_proba(X[test]))
    calibrated = evaluate.brier(y[test], ScoreModel(model, platt.a, platt.b).predict_proba(X[test]))
    baseline = evaluate.baseline(y[test], float(y[train].mean())).brier
    assert raw > baseline  # the skew this fixes
    assert calibrated < raw and calibrated <= baseline * 1.05
