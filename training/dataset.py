"""Point-in-time training sets on disk: one Parquet file, read back as arrays, split by time.

The file holds ``event_id`` (string), ``ts`` (int64 epoch ms), ``label`` (0/1), then the feature columns
(float64 or int64, nulls allowed). Two schema metadata keys travel with it: ``rtml.feature_names`` (JSON list,
the model's input order) and ``rtml.lineage`` (JSON object, passed through untouched into the run output).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURE_NAMES_KEY = b"rtml.feature_names"
LINEAGE_KEY = b"rtml.lineage"
KEY_COLUMNS = ("event_id", "ts", "label")
DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


@dataclass(frozen=True)
class TrainingSet:
    """Rows in file order; ``X`` is float32 [N, F] in ``feature_names`` order, nulls as NaN."""

    event_id: np.ndarray
    ts: np.ndarray
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    lineage: dict[str, Any]

    def __len__(self) -> int:
        return len(self.ts)


def write_training_set(
    path: str | Path,
    table_or_columns: pa.Table | Mapping[str, Any],
    feature_names: Sequence[str],
    lineage: Mapping[str, Any],
) -> Path:
    """Write ``event_id, ts, label`` then the features in ``feature_names`` order, with both metadata keys."""
    table = table_or_columns if isinstance(table_or_columns, pa.Table) else pa.table(dict(table_or_columns))
    names = list(feature_names)
    _require_columns(table.column_names, names, str(path))
    ordered = table.select([*KEY_COLUMNS, *names])
    ordered = ordered.set_column(0, "event_id", ordered.column("event_id").cast(pa.string()))
    ordered = ordered.set_column(1, "ts", ordered.column("ts").cast(pa.int64()))
    ordered = ordered.set_column(2, "label", ordered.column("label").cast(pa.int64()))
    metadata = dict(table.schema.metadata or {})
    metadata[FEATURE_NAMES_KEY] = json.dumps(names).encode()
    metadata[LINEAGE_KEY] = json.dumps(dict(lineage), sort_keys=True).encode()
    out = Path(path)
    pq.write_table(ordered.replace_schema_metadata(metadata), out)
    return out


def load_training_set(path: str | Path) -> TrainingSet:
    """Read a training set; raise ``ValueError`` saying what to fix when the file breaks the contract."""
    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    if FEATURE_NAMES_KEY not in metadata:
        raise ValueError(f"{path}: no feature names; write it with training.dataset.write_training_set")
    names = json.loads(metadata[FEATURE_NAMES_KEY])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{path}: rtml.feature_names must be a non-empty JSON list of column names")
    lineage = json.loads(metadata[LINEAGE_KEY]) if LINEAGE_KEY in metadata else {}
    _require_columns(table.column_names, names, str(path))
    for column in ("ts", "label"):
        if table.column(column).null_count:
            raise ValueError(f"{path}: column {column!r} has nulls; drop those rows before training")
    y = table.column("label").to_numpy().astype(np.int64)
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{path}: column 'label' must hold only 0 and 1")
    X = np.empty((table.num_rows, len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        column = table.column(name)
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise ValueError(f"{path}: feature {name!r} is {column.type}; features must be float or int")
        X[:, j] = column.cast(pa.float64()).fill_null(float("nan")).to_numpy()
    return TrainingSet(
        event_id=table.column("event_id").cast(pa.string()).to_numpy(zero_copy_only=False),
        ts=table.column("ts").cast(pa.int64()).to_numpy(),
        X=X,
        y=y,
        feature_names=tuple(names),
        lineage=lineage,
    )


def time_split(
    ts: np.ndarray, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the (train, val, test) slices, each in time order, cut at quantiles of the time order.

    A cut never separates rows with equal ``ts``: it moves to the nearer edge of that group of ties, so every
    train ``ts`` is below every val ``ts``, which is below every test ``ts``.
    """
    if len(fractions) != 3 or min(fractions) <= 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions {tuple(fractions)} must be three positive numbers summing to 1")
    order = np.argsort(ts, kind="stable")
    ordered = np.asarray(ts)[order]
    n = len(ordered)
    cuts: list[int] = []
    for cumulative in np.cumsum(fractions)[:2]:
        cut = int(round(cumulative * n))
        if 0 < cut < n:
            left = int(np.searchsorted(ordered, ordered[cut], side="left"))
            right = int(np.searchsorted(ordered, ordered[cut], side="right"))
            cut = left if cut - left <= right - cut else right
        cuts.append(max(cut, cuts[-1]) if cuts else cut)  # one tie group over both cuts leaves val empty
    train, val, test = np.split(order, cuts)
    if min(len(train), len(val), len(test)) == 0:
        raise ValueError(
            f"{n} rows with {len(np.unique(ordered))} distinct timestamps are too few to split "
            f"{tuple(fractions)} by time; supply more rows or a longer time range"
        )
    return train, val, test


def require_both_classes(y_train: np.ndarray) -> None:
    """Training needs positives and negatives in the train slice."""
    classes = np.unique(y_train)
    if len(classes) < 2:
        raise ValueError(
            f"the train slice holds only label {int(classes[0]) if len(classes) else '?'}; "
            "widen the time range so it holds both classes"
        )


def time_range(ts: np.ndarray) -> dict[str, int]:
    """Row count and first/last ``ts`` of a slice, for run records."""
    return {"rows": len(ts), "ts_min": int(ts.min()), "ts_max": int(ts.max())}


def _require_columns(present: Sequence[str], feature_names: Sequence[str], where: str) -> None:
    missing = [c for c in (*KEY_COLUMNS, *feature_names) if c not in present]
    if missing:
        raise ValueError(f"{where}: missing columns {missing}; the file needs event_id, ts, label and every feature")
