from __future__ import annotations

import numpy as np
import pytest
import torch

from training.dataset import TrainingSet, time_split
from training.distributed import weights_sha256
from training.model import FraudMLP, ModelConfig, ScoreModel, fraud_model_from_config


def test_standardization_comes_from_the_train_slice_only(small_set: TrainingSet) -> None:
    train, _, test = time_split(small_set.ts)
    X = small_set.X.copy()
    X[test] = X[test] * 1000.0 + 50.0  # a wildly different future must not move the statistics
    model = fraud_model_from_config({"hidden": [8]}, X.shape[1], X[train])
    np.testing.assert_allclose(model.mean.numpy(), np.nanmean(small_set.X[train], axis=0), rtol=1e-5)
    np.testing.assert_allclose(model.std.numpy(), np.nanstd(small_set.X[train], axis=0), rtol=1e-5)


def test_nan_inputs_score_as_the_train_mean() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal([10.0, -3.0, 0.5], [2.0, 0.1, 5.0], size=(200, 3)).astype(np.float32)
    train[::7, 0] = np.nan
    model = FraudMLP(3, hidden=(16, 4)).fit_standardization(train).eval()
    rows = torch.tensor([[np.nan, -3.2, 1.0], [11.0, np.nan, np.nan], [np.nan, np.nan, np.nan]])
    filled = torch.where(torch.isnan(rows), model.mean, rows)
    with torch.no_grad():
        assert torch.isfinite(model(rows)).all()
        torch.testing.assert_close(model(rows), model(filled))
        assert torch.equal(model.standardize(rows)[2], torch.zeros(3))


def test_inputs_outside_the_train_range_score_as_its_edge() -> None:
    rng = np.random.default_rng(2)
    train = rng.uniform([0.0, 10.0], [5.0, 20.0], size=(300, 2)).astype(np.float32)
    train[::5, 1] = np.nan
    model = FraudMLP(2, hidden=(8,)).fit_standardization(train).eval()
    assert model.low.tolist() == pytest.approx(np.nanmin(train, axis=0).tolist())
    assert model.high.tolist() == pytest.approx(np.nanmax(train, axis=0).tolist())
    edge = torch.tensor([[float(model.high[0]), float(model.low[1])]])
    beyond = torch.tensor([[1e6, -1e6]])  # a count that kept growing, an amount never seen
    inside = torch.tensor([[2.5, 15.0]])
    with torch.no_grad():
        torch.testing.assert_close(model(beyond), model(edge))
        torch.testing.assert_close(model.standardize(inside), (inside - model.mean) / model.std)  # untouched


def test_constant_and_empty_columns_leave_values_finite() -> None:
    train = np.array([[1.0, np.nan, 4.0], [1.0, np.nan, 6.0]], dtype=np.float32)
    model = FraudMLP(3).fit_standardization(train)
    assert model.mean.tolist() == [1.0, 0.0, 5.0]
    assert model.std.tolist() == [1.0, 1.0, 1.0]
    assert model.low.tolist() == [1.0, 0.0, 4.0] and model.high.tolist() == [1.0, 0.0, 6.0]
    with torch.no_grad():
        assert torch.isfinite(model(torch.tensor([[7.0, 3.0, np.nan]]))).all()
        # a column never seen in training does not move the output, whatever it holds when scoring
        assert model.standardize(torch.tensor([[1.0, 3e6, 5.0]]))[0, 1] == 0.0
        torch.testing.assert_close(model(torch.tensor([[1.0, 3e6, 5.0]])), model(torch.tensor([[1.0, np.nan, 5.0]])))


def test_forward_gives_logits_and_score_model_the_probability() -> None:
    torch.manual_seed(0)
    model = FraudMLP(4, hidden=(8,)).eval()
    x = torch.randn(5, 4)
    with torch.no_grad():
        logits = model(x)
        probabilities = ScoreModel(model)(x)
    assert logits.shape == (5,) and probabilities.shape == (5,)
    torch.testing.assert_close(probabilities, torch.sigmoid(logits))
    np.testing.assert_allclose(model.predict_proba(x.numpy()), probabilities.numpy(), rtol=1e-6)


def test_score_model_applies_the_platt_calibration_outside_the_weights() -> None:
    torch.manual_seed(0)
    model = FraudMLP(4, hidden=(8,)).eval()
    before = weights_sha256(model)
    x = torch.randn(6, 4)
    scorer = ScoreModel(model, a=0.6, b=-1.5)
    with torch.no_grad():
        torch.testing.assert_close(scorer(x), torch.sigmoid(0.6 * model(x) - 1.5))
    np.testing.assert_allclose(scorer.predict_proba(x.numpy()), scorer(x).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(model.predict_logits(x.numpy()), model(x).detach().numpy(), rtol=1e-6)
    assert (scorer.a, scorer.b) == pytest.approx((0.6, -1.5))
    assert {"scale", "shift"} <= set(scorer.state_dict()) and weights_sha256(model) == before


def test_config_builds_the_layers_and_rejects_unknown_keys() -> None:
    model = fraud_model_from_config(ModelConfig(hidden=(32, 16, 8), dropout=0.1), n_features=6)
    widths = [m.out_features for m in model.net if isinstance(m, torch.nn.Linear)]
    assert widths == [32, 16, 8, 1]
    with pytest.raises(ValueError, match="hiden"):
        fraud_model_from_config({"hiden": [4]}, n_features=6)
    with pytest.raises(ValueError, match=r"must be \[N, 6\]"):
        model.fit_standardization(np.zeros((3, 5)))
