"""A drift detection on ``monitoring.drift``, keyed by model."""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.fields import EpochMs, Id, Name, require_finite, require_order

Severity = Literal["info", "warning", "critical"]
DriftKind = Literal["feature", "prediction", "performance"]


class DriftEvent(msgspec.Struct, forbid_unknown_fields=False):
    """``detector`` (``psi``, ``ks``, ``adwin``, ``page_hinkley`` ...) measured ``statistic`` against
    ``threshold`` on ``feature`` (``None``: the score or the model's performance) over the window
    ``[window_start, window_end]``: a tumbling window's span; for a streaming detector the value that raised it
    (both ends its event time); for ``performance`` from where the rise in error most likely began (a change
    point over the last joined outcomes) to the newest outcome. The retrain trigger reads ``window_start`` as
    where the shift began.

    ``drift_id`` names the detection (the monitor sets it, unique per event); a retraining it causes
    records it as its trigger, so a model version's lineage leads back to the drift that caused it.
    ``kind`` is ``feature`` (an input's distribution), ``prediction`` (the score's distribution) or
    ``performance`` (the model against late labels); ``evidence`` holds detector-specific figures
    (the KS p-value, the reference and live means, the rolling accuracy ...).

    Rules: ``window_end`` not before ``window_start`` (``not_before_window_start``); ``statistic``
    and ``threshold`` finite (``finite``). ``ts`` is the event time of the detection; ``version`` the
    model version watched, if known.
    """

    model: Name
    detector: Name
    feature: Name | None
    statistic: float
    threshold: float
    window_start: EpochMs
    window_end: EpochMs
    severity: Severity
    ts: EpochMs
    version: Name | None = None
    drift_id: Id | None = None
    kind: DriftKind | None = None
    evidence: dict[str, float | str | None] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        require_finite("statistic", self.statistic)
        require_finite("threshold", self.threshold)
        require_order("window_end", self.window_end, "window_start", self.window_start, strict=False)
