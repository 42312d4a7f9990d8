from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from training.artifact import onnx_feature_names
from training.calibration import Platt
from training.dataset import TrainingSet, time_split
from training.export import ParityError, check_parity, export_onnx, onnx_session
from training.model import FraudMLP, ScoreModel, fraud_model_from_config
from training.versions import sha256_file


@pytest.fixture(scope="module")
def trained(small_set: TrainingSet) -> FraudMLP:
    """A few Adam steps on the synthetic set, so the weights are not an initialization."""
    train, _, _ = time_split(small_set.ts)
    torch.manual_seed(0)
    model = fraud_model_from_config({"hidden": [16, 8]}, len(small_set.feature_names), small_set.X[train])
    X, y = torch.from_numpy(small_set.X[train]), torch.from_numpy(small_set.y[train]).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(X), y).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def test_rows(small_set: TrainingSet) -> np.ndarray:
    _, _, test = time_split(small_set.ts)
    rows = small_set.X[test].copy()
    rows[:5] = np.nan  # whole rows missing, on top of the scattered nulls
    assert np.isnan(rows).any(axis=1).sum() > 5
    return rows


def test_export_writes_a_parity_checked_model(
    trained: FraudMLP, test_rows: np.ndarray, small_set: TrainingSet, tmp_path: Path
) -> None:
    path = tmp_path / "model.onnx"
    sha256 = export_onnx(trained, path, small_set.feature_names, test_rows)
    assert sha256 == sha256_file(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
    assert onnx_feature_names(path) == list(small_set.feature_names)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 17
    assert [i.name for i in proto.graph.input] == ["features"] and [o.name for o in proto.graph.output] == ["score"]

    session = onnx_session(path)
    for batch in (1, 37, len(test_rows)):
        rows = test_rows[:batch]
        (scores,) = session.run(["score"], {"features": rows})
        assert scores.shape == (batch,) and scores.dtype == np.float32
        np.testing.assert_allclose(scores, trained.predict_proba(rows), rtol=0, atol=1e-5)
        assert np.all((scores >= 0) & (scores <= 1))


def test_the_platt_calibration_is_exported_in_the_graph(
    trained: FraudMLP, test_rows: np.ndarray, small_set: TrainingSet, tmp_path: Path
) -> None:
    scorer = ScoreModel(trained, a=0.7, b=-1.3)
    path = tmp_path / "model.onnx"
    export_onnx(scorer, path, small_set.feature_names, test_rows)
    assert check_parity(path, scorer, test_rows) <= 1e-5
    (scores,) = onnx_session(path).run(["score"], {"features": test_rows})
    expected = Platt(0.7, -1.3).apply(trained.predict_logits(test_rows))
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    assert np.max(np.abs(scores - trained.predict_proba(test_rows))) > 0.05  # not the plain sigmoid
    with pytest.raises(ParityError):
        check_parity(path, trained, test_rows)


def test_a_mismatching_model_is_rejected_and_deleted(
    trained: FraudMLP, test_rows: np.ndarray, small_set: TrainingSet, tmp_path: Path
) -> None:
    other = FraudMLP(trained.n_features, hidden=(16, 8))
    other.load_state_dict(trained.state_dict())
    last = other.net[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.bias.add_(0.5)  # same architecture, different scores
    path = tmp_path / "model.onnx"
    with pytest.raises(ParityError, match="artifact was rejected"):
        export_onnx(trained, path, small_set.feature_names, test_rows, reference=other)
    assert list(tmp_path.iterdir()) == []


def test_check_parity_compares_probabilities(trained: FraudMLP, test_rows: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    export_onnx(trained, path, [f"f{i}" for i in range(trained.n_features)], test_rows)
    assert check_parity(path, trained, test_rows) <= 1e-5
    assert check_parity(path, ScoreModel(trained), test_rows) <= 1e-5
    with pytest.raises(ParityError):
        check_parity(path, FraudMLP(trained.n_features, hidden=(16, 8)), test_rows)


def test_feature_names_must_match_the_inputs(trained: FraudMLP, test_rows: np.ndarray, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3 feature names for a model with 4 inputs"):
        export_onnx(trained, tmp_path / "model.onnx", ["a", "b", "c"], test_rows)


def test_the_threshold_rides_in_the_metadata_and_the_runtime_reads_it(
    trained: FraudMLP, test_rows: np.ndarray, small_set: TrainingSet, tmp_path: Path
) -> None:
    from serving.runtime import RuntimeConfig, load_runtime

    with_threshold, without = tmp_path / "t.onnx", tmp_path / "n.onnx"
    export_onnx(trained, with_threshold, small_set.feature_names, test_rows, threshold=0.0734)
    export_onnx(trained, without, small_set.feature_names, test_rows)
    assert load_runtime(with_threshold, RuntimeConfig()).threshold == pytest.approx(0.0734)
    assert load_runtime(without, RuntimeConfig()).threshold is None
    with pytest.raises(ValueError, match="threshold is a score"):
        export_onnx(trained, tmp_path / "bad.onnx", small_set.feature_names, test_rows, threshold=1.5)
