from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.synthetic_training import FEATURES, LINEAGE
from training.dataset import (
    FEATURE_NAMES_KEY,
    LINEAGE_KEY,
    TrainingSet,
    load_training_set,
    require_both_classes,
    time_split,
    write_training_set,
)


def columns() -> dict[str, object]:
    return {
        "label": [0, 1, 0],
        "b_int": pa.array([5, None, 7], pa.int64()),
        "ts": [30, 10, 20],
        "a_float": [1.5, 2.5, None],
        "event_id": ["x", "y", "z"],
        "unused": [9, 9, 9],
    }


def test_round_trip_orders_features_and_turns_nulls_into_nan(tmp_path: Path) -> None:
    path = write_training_set(tmp_path / "t.parquet", columns(), ["b_int", "a_float"], {"delta_version": 3})
    schema = pq.read_schema(path)
    assert schema.names == ["event_id", "ts", "label", "b_int", "a_float"]
    assert json.loads(schema.metadata[FEATURE_NAMES_KEY]) == ["b_int", "a_float"]

    data = load_training_set(path)
    assert data.feature_names == ("b_int", "a_float")
    assert data.X.dtype == np.float32 and data.X.shape == (3, 2)
    np.testing.assert_array_equal(data.X, np.array([[5, 1.5], [np.nan, 2.5], [7, np.nan]], dtype=np.float32))
    assert data.ts.dtype == np.int64 and list(data.ts) == [30, 10, 20]
    assert list(data.y) == [0, 1, 0] and list(data.event_id) == ["x", "y", "z"]
    assert data.lineage == {"delta_version": 3}


def test_lineage_passes_through_untouched(small_set: TrainingSet) -> None:
    assert small_set.lineage == LINEAGE
    assert small_set.feature_names == FEATURES


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.drop_columns(["label"]), "missing columns ['label']"),
        (lambda t: t.replace_schema_metadata({LINEAGE_KEY: b"{}"}), "no feature names"),
        (lambda t: t.set_column(2, "label", pa.array([0, 2, 0])), "only 0 and 1"),
        (lambda t: t.set_column(3, "b_int", pa.array(["p", "q", "r"])), "features must be float or int"),
    ],
)
def test_contract_violations_say_what_to_fix(tmp_path: Path, mutate, message: str) -> None:
    path = write_training_set(tmp_path / "t.parquet", columns(), ["b_int", "a_float"], {})
    pq.write_table(mutate(pq.read_table(path)), path)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_training_set(path)


def test_write_rejects_missing_feature_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing columns"):
        write_training_set(tmp_path / "t.parquet", columns(), ["nope"], {})


def test_split_takes_time_order_fractions_without_shuffling() -> None:
    ts = np.random.default_rng(0).permutation(1000)
    train, val, test = time_split(ts)
    assert (len(train), len(val), len(test)) == (700, 150, 150)
    for part in (train, val, test):
        assert np.all(np.diff(ts[part]) > 0)  # each slice in time order
    assert ts[train].max() < ts[val].min() and ts[val].max() < ts[test].min()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=120))
def test_split_never_lets_train_see_the_future(values: list[int]) -> None:
    ts = np.array(values, dtype=np.int64)
    try:
        train, val, test = time_split(ts)
    except ValueError as exc:
        assert "too few to split" in str(exc)
        return
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(ts)))
    assert ts[train].max() < ts[val].min() <= ts[val].max() < ts[test].min()  # ties never straddle a cut


def test_split_refuses_too_few_rows_and_bad_fractions() -> None:
    with pytest.raises(ValueError, match="too few to split"):
        time_split(np.array([1, 2]))
    with pytest.raises(ValueError, match="too few to split"):
        time_split(np.full(100, 5))  # one timestamp cannot be cut
    with pytest.raises(ValueError, match="summing to 1"):
        time_split(np.arange(100), (0.5, 0.5, 0.5))


def test_a_single_class_in_train_is_refused() -> None:
    require_both_classes(np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="only label 0"):
        require_both_classes(np.zeros(10, dtype=np.int64))
