"""Ground truth on ``labels.<name>``, arriving late (chargebacks), keyed by ``event_id``."""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.fields import EpochMs, Id, require_order

LabelSource = Literal["chargeback", "confirmed_legit", "manual_review"]


class Label(msgspec.Struct, forbid_unknown_fields=False):
    """``label`` is 1 for fraud, 0 for legit. ``ts`` is when the label became known (event time),
    never before the labelled event's ``event_ts`` (rule ``not_before_event_ts``)."""

    event_id: Id
    label: Literal[0, 1]
    ts: EpochMs
    customer_id: Id | None = None
    event_ts: EpochMs | None = None
    source: LabelSource = "chargeback"

    def __post_init__(self) -> None:
        if self.event_ts is not None:
            require_order("ts", self.ts, "event_ts", self.event_ts, strict=False)
