"""One row of a feature view on ``features.<view>`` (compacted), keyed by entity id."""

from __future__ import annotations

import msgspec

from schemas.fields import EpochMs, Id, Name, require_order

FeatureValue = float | int | str | bool | None


class FeatureRow(msgspec.Struct, forbid_unknown_fields=False):
    """The aggregates of ``view`` for ``entity_id`` over the window ``[window_start, window_end)``.

    The row becomes valid at ``window_end``, which must be after ``window_start`` (rule
    ``after_window_start``). Stores keep, per entity and view, the row with the greatest
    ``window_end``. ``computed_at`` is when the job emitted it (processing time), if known.
    """

    view: Name
    entity_id: Id
    window_start: EpochMs
    window_end: EpochMs
    values: dict[Name, FeatureValue]
    computed_at: EpochMs | None = None

    def __post_init__(self) -> None:
        require_order("window_end", self.window_end, "window_start", self.window_start, strict=True)
