"""A score on ``predictions.<model>``, keyed by the scored event's id, read ``read_committed``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.fields import EpochMs, Id, Name, require_finite


class Prediction(msgspec.Struct, forbid_unknown_fields=False):
    """What ``model`` at ``version`` said about ``event_id``.

    ``score`` must be finite (rule ``finite``); ``label`` is the predicted class (1 = positive).
    ``features`` are the inputs as scored (``None`` for a missing value, which the model imputes).
    ``features_missing`` names the feature views that had no row for the event's entity (none within
    the view's TTL): their features were scored with the view's defaults (0 for counts and sums).
    ``ts`` is the scored event's time, ``scored_at`` the scorer's clock; they come from different
    clocks, so no order between them is enforced. ``latency_ms`` is the scorer's time from consuming
    the event to producing this record. ``shadow`` marks a challenger scored beside the champion.
    """

    event_id: Id
    model: Name
    version: Name
    score: float
    label: Literal[0, 1]
    features: dict[Name, float | None]
    ts: EpochMs
    scored_at: EpochMs
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] | None = None
    shadow: bool = False
    features_missing: list[Name] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        require_finite("score", self.score)
        require_finite("latency_ms", self.latency_ms)
