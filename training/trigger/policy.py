"""When does a drift event retrain the model? Pure: no Kafka, no registry, no clock (docs/decisions/0011).

``offer(drift, history, now_ms, labels)`` answers one drift event, ``tick(history, now_ms, labels)``
re-checks the drift left pending; both return a ``Decision``: ``train``, ``defer`` (kept pending, asked
again on the next tick) or ``skip`` (dropped). ``started`` / ``finished`` tell the policy about the run
it asked for. The rules, in order:

1. another model, a kind not in ``kinds``, a severity below ``min_severity``: skip;
2. already served (a registered version names it as its trigger), or about a version that is no
   longer the champion (a newer one answered it): skip;
3. a run in progress: skip, absorbed by that run (they are of one shift); if the run fails they become
   pending, so the shift is retrained once after the cooldown;
4. within ``cooldown_s`` of the last training (registry) or failed run: defer;
5. fewer than ``min_new_labels`` labelled events after the drift began (and, with ``label_maturity_s``,
   at least that old: their labels have had the time to arrive) reached the offline store since the last
   training: defer, until they have or ``max_label_wait_s`` passed (then train if any arrived);
6. else train. Deferred drifts form one pending group: the newest is trained for, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from schemas.drift import DriftEvent

Action = Literal["train", "defer", "skip"]
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
DRIFT_KINDS = ("feature", "prediction", "performance")

# (drift began at, event time ms; last training at, wall ms or None; mature before, event time ms or None)
# -> labelled events since.
LabelCount = Callable[[int, int | None, int | None], int]


def drift_key(drift: DriftEvent) -> str:
    """The drift's id, or one made from its fields when the monitor sent none (older monitors)."""
    return drift.drift_id or f"{drift.model}:{drift.detector}:{drift.feature or '-'}:{drift.ts}"


@dataclass(frozen=True)
class RetrainRules:
    model: str
    min_severity: str = "critical"
    cooldown_s: float = 600.0
    min_new_labels: int = 500
    max_label_wait_s: float = 3600.0
    kinds: tuple[str, ...] = DRIFT_KINDS
    label_maturity_s: float = 0.0

    def __post_init__(self) -> None:
        if self.label_maturity_s < 0:
            raise ValueError(f"label_maturity_s must be >= 0, got {self.label_maturity_s}")
        if self.min_severity not in SEVERITY_RANK:
            raise ValueError(f"min_severity {self.min_severity!r} is not one of {', '.join(SEVERITY_RANK)}")
        unknown = set(self.kinds) - set(DRIFT_KINDS)
        if unknown:
            raise ValueError(f"drift kinds {sorted(unknown)} are not among {', '.join(DRIFT_KINDS)}")


@dataclass(frozen=True)
class TrainingHistory:
    """What the registry says: when the newest version was registered, the champion, served drift ids."""

    last_training_ms: int | None = None
    champion_version: str | None = None
    served: frozenset[str] = frozenset()


@dataclass
class DriftGroup:
    """Drifts answered by one run: the newest names it, the earliest start bounds the post-drift data."""

    drifts: list[DriftEvent] = field(default_factory=list)
    waiting_since_ms: int = 0  # wall time the first of them arrived
    launched: int = 0  # how many drifts the run was started for; later ones arrived while it ran

    @property
    def newest(self) -> DriftEvent:
        return self.drifts[-1]

    @property
    def earliest(self) -> DriftEvent:
        """The drift that started first: its ``window_start`` is where the shift began."""
        return min(self.drifts, key=lambda d: d.window_start)

    @property
    def since_ms(self) -> int:
        """Where the shift began (event time): the earliest ``window_start``; 0 while the group is empty."""
        return self.earliest.window_start if self.drifts else 0

    def add(self, drift: DriftEvent, now_ms: int) -> None:
        if not self.drifts:
            self.waiting_since_ms = now_ms
        self.drifts.append(drift)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    drift: DriftEvent | None = None
    group: DriftGroup | None = None  # for train: the drifts the run answers

    @property
    def drift_id(self) -> str:
        return drift_key(self.drift) if self.drift is not None else "-"


class RetrainPolicy:
    def __init__(self, rules: RetrainRules) -> None:
        self.rules = rules
        self._reset()

    def _reset(self) -> None:
        self.pending: DriftGroup | None = None
        self.running: DriftGroup | None = None
        self.last_failure_ms: int | None = None

    def offer(self, drift: DriftEvent, history: TrainingHistory, now_ms: int, labels: LabelCount) -> Decision:
        r, key = self.rules, drift_key(drift)
        if drift.model != r.model:
            return Decision("skip", f"drift {key} is about model {drift.model!r}, not {r.model!r}", drift)
        if drift.kind is not None and drift.kind not in r.kinds:
            return Decision("skip", f"{drift.kind} drift does not retrain (kinds: {', '.join(r.kinds)})", drift)
        if SEVERITY_RANK[drift.severity] < SEVERITY_RANK[r.min_severity]:
            return Decision("skip", f"severity {drift.severity} is below {r.min_severity}", drift)
        if key in history.served:
            return Decision("skip", f"drift {key} was served already (a registered version names it)", drift)
        if drift.version is not None and history.champion_version not in (None, drift.version):
            return Decision(
                "skip", f"it watched version {drift.version}; version {history.champion_version} serves now", drift
            )
        if self.running is not None:
            self.running.add(drift, now_ms)
            return Decision("skip", f"a run for drift {drift_key(self.running.drifts[0])} is in progress", drift)
        if self.pending is None:
            self.pending = DriftGroup()
        self.pending.add(drift, now_ms)
        return self._decide(history, now_ms, labels)

    def tick(self, history: TrainingHistory, now_ms: int, labels: LabelCount) -> Decision | None:
        """Re-check the pending drift (None: nothing pending, or a run is in progress)."""
        if self.pending is None or self.running is not None:
            return None
        newest = drift_key(self.pending.newest)
        if newest in history.served:  # trained by another trigger or by hand meanwhile
            group, self.pending = self.pending, None
            return Decision("skip", f"drift {newest} was served meanwhile", group.newest, group)
        return self._decide(history, now_ms, labels)

    def _decide(self, history: TrainingHistory, now_ms: int, labels: LabelCount) -> Decision:
        group = self.pending
        assert group is not None
        r, drift = self.rules, group.newest
        ended = [t for t in (history.last_training_ms, self.last_failure_ms) if t is not None]
        if ended and now_ms - max(ended) < r.cooldown_s * 1000:
            ago = (now_ms - max(ended)) / 1000
            return Decision(
                "defer", f"cooldown: the last run ended {ago:.0f} s ago ({r.cooldown_s - ago:.0f} s left)", drift, group
            )
        if r.min_new_labels > 0:
            count = labels(group.since_ms, history.last_training_ms, mature_before(now_ms, r.label_maturity_s))
            waited = (now_ms - group.waiting_since_ms) / 1000
            if count < r.min_new_labels:
                if waited < r.max_label_wait_s:
                    mature = f" (older than {r.label_maturity_s:g} s)" if r.label_maturity_s else ""
                    why = f"{count} new labelled events after the drift began{mature}, waiting for {r.min_new_labels}"
                    return Decision("defer", why, drift, group)
                if count == 0:
                    self.pending = None
                    return Decision("skip", f"no new labelled event after waiting {waited:.0f} s", drift, group)
                return self._train(group, f"waited {waited:.0f} s: training on {count} new labelled events")
            return self._train(group, f"{drift.severity} {drift.detector} drift, {count} new labelled events")
        return self._train(group, f"{drift.severity} {drift.detector} drift")

    def _train(self, group: DriftGroup, reason: str) -> Decision:
        self.pending, self.running = None, group
        group.launched = len(group.drifts)
        return Decision("train", reason, group.newest, group)

    def finished(self, ok: bool, now_ms: int) -> DriftGroup | None:
        """The run ended. A failed run's drifts become pending again (retried once, after the cooldown);
        returns the group the run answered."""
        group, self.running = self.running, None
        if group is None:
            return None
        if ok:
            return group
        self.last_failure_ms = now_ms
        absorbed = group.drifts[group.launched :]
        if absorbed:
            if self.pending is None:
                self.pending = DriftGroup()
            for drift in absorbed:
                self.pending.add(drift, now_ms)
        return group


def mature_before(now_ms: int, maturity_s: float) -> int | None:
    """Events before this event time have had ``maturity_s`` for their labels to arrive; None: no bound."""
    return now_ms - int(maturity_s * 1000) if maturity_s > 0 else None


def training_window(
    group: DriftGroup, history_s: float, now_ms: int | None = None, maturity_s: float = 0.0
) -> tuple[int, int | None]:
    """``(start_ms, end_ms)`` of the retraining: from ``history_s`` before the shift began (its earliest
    drift's ``window_start``) up to the newest labelled event in the offline store (end open) or, with
    ``maturity_s``, to the events that old at ``now_ms``.

    A labelled event's features were archived long before its label arrived, so the end needs no margin
    for them; it needs one for the labels when they come after delays that differ by class: a fraud is
    charged back later than a purchase is confirmed, so the newest events hold their legit labels and
    miss most of their frauds. Those newest slices are what the time split gives to validation
    (threshold, calibration) and test (the promotion gate): without the margin the gate compares the
    models on a handful of frauds, at a fraction of the true rate (6 of 1,684 where ~27 were due)."""
    return max(0, group.since_ms - int(history_s * 1000)), (
        mature_before(now_ms, maturity_s) if now_ms is not None else None
    )
