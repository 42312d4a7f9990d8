"""The online store interface: newest row per entity and view, read as arrays in feature order.

A backend implements three key/value operations (the seam): ``put_newer``, ``get_values`` and
``delete_keys`` on packed values (``layout.py``). Everything else, batching, encoding, decoding and the
Feast-style ``get_online_features``, is here once, so the Redis and the in-memory store agree by
construction and logic is tested without sockets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from feature_pipelines.definitions import AnyView
from feature_pipelines.online.feature_refs import feature_columns, parse_feature_refs
from feature_pipelines.online.layout import RowLayout, layout_of
from feature_pipelines.repository import FEATURE_VIEWS
from schemas.feature_row import FeatureRow

ViewRef = AnyView | str


class OnlineStoreUnavailable(Exception):
    """The backend cannot be reached; the message says what to do."""


@dataclass(frozen=True, eq=False)
class OnlineFeatures:
    """Features of ``entity_ids`` (in that order) for one view.

    ``values`` float64 ``(n, n_features)`` in ``feature_names`` order, NaN for null values and for
    entities without a row; ``window_end`` int64 ``(n,)``, 0 without a row; ``found`` bool ``(n,)``.
    """

    view: str
    entity_ids: tuple[str, ...]
    feature_names: tuple[str, ...]
    values: np.ndarray
    window_end: np.ndarray
    found: np.ndarray

    def __len__(self) -> int:
        return len(self.entity_ids)

    def column(self, feature: str) -> np.ndarray:
        return self.values[:, self.feature_names.index(feature)]


class PendingFeatures:
    """A ``read_many`` under way: ``result()`` waits for the backend's reply and decodes it (once)."""

    def __init__(
        self, layouts: Sequence[RowLayout], ids: Sequence[Sequence[str]], reply: Callable[[], list[bytes | None]]
    ) -> None:
        self._layouts, self._ids, self._reply = layouts, ids, reply
        self._result: list[OnlineFeatures] | None = None
        self._error: BaseException | None = None

    def result(self) -> list[OnlineFeatures]:
        if self._result is not None:
            return self._result
        if self._error is not None:
            raise self._error
        try:
            blobs = self._reply()
        except BaseException as exc:
            self._error = exc
            raise
        out, start = [], 0
        for layout, ids in zip(self._layouts, self._ids, strict=True):
            values, window_end = layout.decode(blobs[start : start + len(ids)])
            start += len(ids)
            out.append(
                OnlineFeatures(layout.view_name, tuple(ids), layout.feature_names, values, window_end, window_end > 0)
            )
        self._result = out
        return out


class OnlineStore(ABC):
    """Per entity and view, the row with the greatest ``window_end``; older or equal rows are skipped."""

    def __init__(self, views: Mapping[str, AnyView] | None = None) -> None:
        self.views: Mapping[str, AnyView] = FEATURE_VIEWS if views is None else views

    # -- the seam a backend implements ------------------------------------------------------------

    @abstractmethod
    def put_newer(self, keys: Sequence[bytes], values: Sequence[bytes], ttl_ms: int) -> list[bool]:
        """Atomically per key: store ``values[i]`` (expiring after ``ttl_ms``, none if <= 0) unless the
        stored value's 8-byte header is >= the new one's. Returns, per key, whether it was stored.
        One call holds one view's values (one size); keys are distinct."""

    @abstractmethod
    def get_values(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """The stored values, None where a key has none."""

    @abstractmethod
    def delete_keys(self, keys: Sequence[bytes]) -> int:
        """Delete ``keys``; returns how many existed."""

    @classmethod
    def from_url(cls, url: str, views: Mapping[str, AnyView] | None = None) -> OnlineStore:
        """The store ``url`` configures (see ``registry.open_store``)."""
        raise NotImplementedError(f"{cls.__name__} cannot be opened from a URL")

    def check(self) -> None:  # noqa: B027 - optional hook
        """Raise ``OnlineStoreUnavailable`` if the backend does not answer."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API ----------------------------------------------------------------------------------

    def view(self, view: ViewRef) -> AnyView:
        if isinstance(view, AnyView):
            return view
        try:
            return self.views[view]
        except KeyError:
            raise KeyError(f"no feature view {view!r}; defined: {', '.join(self.views)}") from None

    def write(self, view: ViewRef, rows: Sequence[FeatureRow]) -> int:
        """Write ``rows`` of ``view``; returns how many were applied (newer than what was stored)."""
        return len(self.apply(view, rows))

    def apply(self, view: ViewRef, rows: Sequence[FeatureRow]) -> list[FeatureRow]:
        """Like ``write``, returning the rows applied. Within ``rows`` only each entity's newest counts.

        Raises ``RowEncodingError`` (nothing written) if any row does not fit the view.
        """
        newest: dict[str, FeatureRow] = {}
        for row in rows:
            held = newest.get(row.entity_id)
            if held is None or row.window_end > held.window_end:
                newest[row.entity_id] = row
        if not newest:
            return []
        layout = layout_of(self.view(view))
        candidates = list(newest.values())
        values = [layout.encode(row) for row in candidates]
        stored = self.put_newer(layout.keys(newest), values, layout.ttl_ms)
        return [row for row, ok in zip(candidates, stored, strict=True) if ok]

    def delete(self, view: ViewRef, entity_ids: Sequence[str]) -> int:
        """Forget the rows of ``entity_ids`` (a tombstone on ``features.<view>``); returns how many existed."""
        if not entity_ids:
            return 0
        return self.delete_keys(layout_of(self.view(view)).keys(entity_ids))

    def get(self, view: ViewRef, entity_ids: Sequence[str]) -> OnlineFeatures:
        """The newest row of each entity, as arrays in the view's feature order (the scorer's read)."""
        layout = layout_of(self.view(view))
        blobs = self.get_values(layout.keys(entity_ids)) if entity_ids else []
        values, window_end = layout.decode(blobs)
        return OnlineFeatures(
            view=layout.view_name,
            entity_ids=tuple(entity_ids),
            feature_names=layout.feature_names,
            values=values,
            window_end=window_end,
            found=window_end > 0,
        )

    def get_many(self, requests: Sequence[tuple[ViewRef, Sequence[str]]]) -> list[OnlineFeatures]:
        """``get`` for several views in one backend read (one MGET on Redis): the scorer's batch lookup."""
        return self.read_many(requests).result()

    def read_many(self, requests: Sequence[tuple[ViewRef, Sequence[str]]]) -> PendingFeatures:
        """``get_many`` in two steps: the backend read is sent now, and ``result()`` (which must be called, once)
        takes its rows, so the caller can work while the backend answers. The scorer reads the next batch's
        features this way while it scores the one before."""
        layouts = [layout_of(self.view(view)) for view, _ in requests]
        ids = [ids for _, ids in requests]
        keys = [key for layout, view_ids in zip(layouts, ids, strict=True) for key in layout.keys(view_ids)]
        return PendingFeatures(layouts, ids, self.send_get_values(keys) if keys else list)

    def send_get_values(self, keys: Sequence[bytes]) -> Callable[[], list[bytes | None]]:
        """``get_values`` in two steps, the seam of ``read_many``: send the read now; the function returned
        takes the reply. A backend that cannot overlap a read with the caller's work reads at once."""
        values = self.get_values(keys)
        return lambda: values

    def get_online_features(
        self,
        features: Sequence[str],
        entity_rows: Sequence[Mapping[str, Any]],
        *,
        full_feature_names: bool = False,
    ) -> dict[str, list[Any]]:
        """Feast-style lookup: ``features`` as ``"view:feature"``, ``entity_rows`` as ``{join_key: id}``.

        Returns columns: each join key used, then one per feature in request order (named ``feature``,
        or ``view__feature`` with ``full_feature_names``), None where an entity has no row or the
        value is null; counts come back as int.
        """
        requested = parse_feature_refs(features, self.views, full_feature_names=full_feature_names)
        result: dict[str, list[Any]] = {}
        for view, _ in requested:
            key = view.entity.join_key
            if key in result:
                continue
            try:
                result[key] = [row[key] for row in entity_rows]
            except KeyError:
                raise ValueError(f"every entity row needs {key!r} (the join key of view {view.name})") from None
        for view, columns in requested:
            found = self.get(view, [str(v) for v in result[view.entity.join_key]])
            result.update(feature_columns(view, found.values, found.found, columns))
        return result
