"""The feature matrix of a micro-batch: request features from each event, view features from the online
store, in the service's ``feature_names`` order (the order the model was trained and exported with).

Parity with the training set (``feature_pipelines.training_set``): a view's row counts only when its
``window_end`` is within the view's TTL of the event's time; a missing or expired row gives the
service's defaults (0 for counts, sums and distinct counts, NaN for the rest, which the model imputes),
and so does a null count in a row that exists. Such an event is scored, never dropped, and its
prediction names the views that were missing. The online store holds only each entity's newest row,
so a row newer than the event (a replay, a lagging scorer) is used as it is.

Pure: records in, arrays out. ``lookups`` says what to read (unique entity ids per view, for one
multi-view read, and where each record's entity is among them); ``assemble`` builds the matrix from what was
read.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from feature_pipelines.definitions import AnyView
from feature_pipelines.feature_service import FeatureService, ttl_ms, zero_when_empty
from feature_pipelines.online.store import OnlineFeatures


@dataclass(frozen=True, eq=False)
class FeatureMatrix:
    """``values`` float64 ``(n, F)`` in ``feature_names`` order (NaN: missing, imputed by the model);
    ``missing`` bool ``(n, n_views)``; ``failed`` maps event index -> why its request features failed."""

    feature_names: tuple[str, ...]
    view_names: tuple[str, ...]
    values: np.ndarray
    missing: np.ndarray
    failed: dict[int, BaseException]

    def __len__(self) -> int:
        return len(self.values)

    def model_input(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """float32 ``(n, F)``, C-contiguous: what an ONNX model with input ``features`` takes."""
        values = self.values if rows is None else self.values[rows]
        return np.ascontiguousarray(values, dtype=np.float32)

    def missing_views(self, i: int) -> list[str]:
        """The views whose defaults row ``i`` was scored with."""
        return list(self._missing_names[self._missing_code[i]])

    @functools.cached_property
    def _missing_code(self) -> list[int]:
        return list((self.missing @ (1 << np.arange(self.missing.shape[1]))).tolist())

    @functools.cached_property
    def _missing_names(self) -> dict[int, tuple[str, ...]]:
        return {
            code: tuple(name for v, name in enumerate(self.view_names) if code >> v & 1)
            for code in set(self._missing_code)
        }


@dataclass(frozen=True, eq=False)
class Lookups:
    """What to read for a batch: per view, its distinct entity ids (``requests``, for ``OnlineStore.get_many``),
    and where each record's entity is among them (``at``)."""

    requests: list[tuple[AnyView, list[str]]]
    at: list[np.ndarray]


class FeatureAssembler:
    def __init__(self, service: FeatureService) -> None:
        self.service = service
        self.feature_names = service.feature_names
        self.views: tuple[AnyView, ...] = service.views
        self.view_names = tuple(v.name for v in self.views)
        self._join_keys = [v.entity.join_key for v in self.views]
        self._id_of = [operator.attrgetter(key) for key in self._join_keys]
        self._ts_of = operator.attrgetter(service.source.event_time_field)
        self._request = [feature.python for feature in service.request]
        never = np.iinfo(np.int64).max  # a changelog view's row holds until the next change
        self._ttl_ms = [never if (t := ttl_ms(v)) is None else t for v in self.views]
        self._zero = [np.array(zero_when_empty(v), dtype=bool) for v in self.views]
        n_request = len(service.request)
        bounds = np.cumsum([n_request, *(len(v.feature_names) for v in self.views)])
        self._slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def entity_ids(self, records: Sequence[Any], view_index: int) -> list[str]:
        return list(map(str, map(self._id_of[view_index], records)))

    def lookups(self, records: Sequence[Any]) -> Lookups:
        """Per view, the distinct entity ids of ``records`` (first-seen order): one read for the batch."""
        by_key: dict[str, tuple[list[str], np.ndarray]] = {}
        for v, key in enumerate(self._join_keys):
            if key not in by_key:
                first: dict[str, int] = {}
                at = [first.setdefault(e, len(first)) for e in self.entity_ids(records, v)]
                by_key[key] = list(first), np.array(at, dtype=np.intp)
        return Lookups(
            [(view, by_key[key][0]) for view, key in zip(self.views, self._join_keys, strict=True)],
            [by_key[key][1] for key in self._join_keys],
        )

    def assemble(self, records: Sequence[Any], rows: Sequence[OnlineFeatures], lookups: Lookups) -> FeatureMatrix:
        """The matrix for ``records`` from ``rows``: what the store read for ``lookups.requests``."""
        if len(rows) != len(self.views):
            raise ValueError(f"{len(rows)} lookups for {len(self.views)} views of service {self.service.name}")
        n = len(records)
        values = np.full((n, len(self.feature_names)), np.nan)
        failed: dict[int, BaseException] = {}
        if self._request:
            block = values[:, : len(self._request)]
            try:
                block[:] = [[feature(record) for feature in self._request] for record in records]
            except Exception:  # one bad record must not stop the batch: it alone is dead-lettered
                for i, record in enumerate(records):
                    try:
                        block[i] = [feature(record) for feature in self._request]
                    except Exception as exc:
                        failed[i] = exc
        missing = np.zeros((n, len(self.views)), dtype=bool)
        ts = np.fromiter(map(self._ts_of, records), dtype=np.int64, count=n)
        for v, found in enumerate(rows):
            at = lookups.at[v]
            fresh = found.found[at] & (ts - found.window_end[at] <= self._ttl_ms[v])
            block = found.values[at]
            block[~fresh] = np.nan
            zero = self._zero[v]
            block[:, zero] = np.nan_to_num(block[:, zero], nan=0.0)
            values[:, self._slices[v]] = block
            missing[:, v] = ~fresh
        return FeatureMatrix(self.feature_names, self.view_names, values, missing, failed)

    def defaults_matrix(self, n: int) -> np.ndarray:
        """float32 ``(n, F)`` of an event with every view missing (request features 0): for warm-ups."""
        values = np.zeros((n, len(self.feature_names)), dtype=np.float32)
        for v, zero in enumerate(self._zero):
            block = values[:, self._slices[v]]
            block[:, ~zero] = np.nan
        return values
