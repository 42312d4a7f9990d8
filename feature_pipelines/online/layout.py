"""The online layout of a feature row: one Redis string per entity and view, packed for batch reads.

Key: ``rtml:f:{view}:{fingerprint}:{entity_id}``. The fingerprint changes with the view's definition,
so a changed view writes new keys and never reads vectors of another shape.

Value: ``window_end`` as 8 bytes big-endian unsigned (byte-wise comparison of two values orders them
by ``window_end``), then one float64 little-endian per feature in the view's fixed order, NaN for null.
A view of 15 features packs into 128 bytes; reading n entities is one MGET and one ``numpy.frombuffer``
over the joined values. ``window_end`` 0 marks a missing entity (a real row's is > its start >= 0).
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from feature_pipelines.definitions import AnyView
from schemas.feature_row import FeatureRow

KEY_PREFIX = "rtml:f"
HEADER = struct.Struct(">Q")
HEADER_BYTES = HEADER.size
_NAN = float("nan")


class RowEncodingError(ValueError):
    """A row cannot be packed for its view: another view's row, a non-numeric value, a bad window_end."""

    def __init__(self, view: str, entity_id: str, detail: str) -> None:
        self.view = view
        self.entity_id = entity_id
        self.detail = detail
        super().__init__(f"row of view {view!r} for entity {entity_id!r}: {detail}")


class RowLayout:
    """How one view's rows are keyed and packed. Build it once per view with ``layout_of``."""

    def __init__(self, view: AnyView) -> None:
        self.view = view
        self.view_name = view.name
        self.fingerprint = view.fingerprint
        self.feature_names: tuple[str, ...] = view.feature_names
        self.n_features = len(self.feature_names)
        self.row_bytes = HEADER_BYTES + 8 * self.n_features
        self.ttl_ms = 0 if view.ttl is None else int(view.ttl.total_seconds() * 1000)  # 0: never expires
        self.key_prefix = f"{KEY_PREFIX}:{view.name}:{self.fingerprint}:".encode()
        self._values = struct.Struct(f"<{self.n_features}d")
        self._pick = _picker(self.feature_names)
        self._missing = bytes(HEADER_BYTES) + self._values.pack(*[_NAN] * self.n_features)
        self._dtype = np.dtype([("window_end", ">u8"), ("values", "<f8", (self.n_features,))])

    def key(self, entity_id: str) -> bytes:
        return self.key_prefix + entity_id.encode()

    def keys(self, entity_ids: Iterable[str]) -> list[bytes]:
        prefix = self.key_prefix
        return [prefix + e.encode() for e in entity_ids]

    def encode(self, row: FeatureRow) -> bytes:
        """The packed value of ``row``: missing features are NaN, features the view lacks are ignored."""
        if row.view != self.view_name:
            raise RowEncodingError(row.view, row.entity_id, f"expected a row of view {self.view_name!r}")
        if not 0 < row.window_end < 1 << 63:
            raise RowEncodingError(row.view, row.entity_id, f"window_end {row.window_end} is not a positive int64")
        try:
            values = self._pick(row.values)  # a C-level lookup of every feature, in order
        except KeyError:
            values = tuple(map(row.values.get, self.feature_names))
        if None in values:
            values = tuple(_NAN if v is None else v for v in values)
        try:
            return HEADER.pack(row.window_end) + self._values.pack(*values)
        except (struct.error, OverflowError, TypeError):
            raise RowEncodingError(row.view, row.entity_id, self._why_not_numeric(row.values)) from None

    def _why_not_numeric(self, values: dict[str, Any]) -> str:
        for name in self.feature_names:
            value = values.get(name)
            try:
                struct.pack("<d", _NAN if value is None else value)
            except (struct.error, OverflowError, TypeError):
                return f"feature {name!r} = {value!r} is not a number (the online layout holds float64)"
        return "values cannot be packed as float64"  # pragma: no cover

    def decode(self, blobs: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
        """``(values, window_end)`` for values as read (None where absent).

        ``values`` is float64 ``(n, n_features)`` in feature order, NaN for null and for missing
        entities; ``window_end`` int64 ``(n,)``, 0 for missing entities.
        """
        n = len(blobs)
        missing = self._missing
        data = b"".join([missing if b is None else b for b in blobs])
        if len(data) != n * self.row_bytes:
            self._raise_bad_size(blobs)
        packed = np.frombuffer(data, dtype=self._dtype, count=n)
        return packed["values"].astype(np.float64), packed["window_end"].astype(np.int64)

    def _raise_bad_size(self, blobs: Sequence[bytes | None]) -> None:
        for i, blob in enumerate(blobs):
            if blob is not None and len(blob) != self.row_bytes:
                raise ValueError(
                    f"value {i} of view {self.view_name!r} ({self.fingerprint}) is {len(blob)} bytes, "
                    f"expected {self.row_bytes}: the key holds something this layout did not write"
                )
        raise AssertionError("unreachable: sizes add up")  # pragma: no cover


def _picker(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    getter = operator.itemgetter(*names)
    if len(names) == 1:
        return lambda values: (getter(values),)
    return getter


_LAYOUTS: dict[int, tuple[AnyView, RowLayout]] = {}


def layout_of(view: AnyView) -> RowLayout:
    """The layout of ``view``, built once per view object (a view's fingerprint costs a hash)."""
    cached = _LAYOUTS.get(id(view))
    if cached is not None and cached[0] is view:
        return cached[1]
    layout = RowLayout(view)
    _LAYOUTS[id(view)] = (view, layout)  # the view is kept, so its id is never reused
    return layout


def row_key(view: AnyView, entity_id: str) -> str:
    return layout_of(view).key(entity_id).decode()


def encode_row(view: AnyView, row: FeatureRow) -> bytes:
    return layout_of(view).encode(row)


def decode_rows(view: AnyView, blobs: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    return layout_of(view).decode(blobs)
