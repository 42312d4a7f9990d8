"""``DriftMonitor``: one model's windows, detectors, label join and debouncer, fed with records, giving events.

The Kafka adapter (``stream_jobs.drift.app``) hands it decoded records in batches and sends the ``DriftEvent``s
it returns; tests feed it lists. Shadow predictions are skipped. Predictions of a version other than the one
whose reference is loaded join their labels but stay out of the windows (no alarm compares a model's scores
with another model's reference); ``reset`` loads a new champion's reference and restarts windows, detectors,
debounce and performance. ``snapshot`` / ``restore`` turn everything but the join store into bytes (pickle:
this is the monitor's own state on its own changelog topic, never a model artifact); the adapter leaves the
reference profile out too and hands it back to ``restore``.
"""

from __future__ import annotations

import copyreg
import fnmatch
import hashlib
import io
import pickle
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from schemas.drift import DriftEvent
from schemas.label import Label
from schemas.prediction import Prediction
from stream_jobs.drift.config import MonitorConfig
from stream_jobs.drift.debounce import Alarm, Debouncer
from stream_jobs.drift.detectors import Finding, StreamingDetector, build_detectors
from stream_jobs.drift.joins import Outcome, OutcomeJoin
from stream_jobs.drift.performance import RollingPerformance
from stream_jobs.drift.windows import ClosedWindow, WindowAccumulator
from training.profile import ReferenceProfile

SNAPSHOT_FORMAT = 2  # 2: RollingPerformance keeps its outcomes' event times


@dataclass
class MonitorCounts:
    predictions: int = 0  # in the windows
    shadow: int = 0  # skipped: challenger scores
    other_version: int = 0  # skipped from the windows: not the version whose reference is loaded
    windows: int = 0
    events: int = 0


class DriftMonitor:
    def __init__(
        self,
        model: str,
        reference: ReferenceProfile,
        version: str | None = None,
        config: MonitorConfig | None = None,
        joins: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.config = config or MonitorConfig()
        self.join = OutcomeJoin(joins if joins is not None else {}, self.config.label_ttl_ms)
        self.counts = MonitorCounts()
        self.reset(reference, version)

    def reset(self, reference: ReferenceProfile, version: str | None) -> None:
        """Watch ``version`` against ``reference`` from now on: fresh windows, detectors and performance."""
        c = self.config
        reference = watched_features(reference, c.features)
        self.reference = reference
        self.version = version
        self.windows = WindowAccumulator(reference, c.window_size, c.window_max_ms, c.sample_size)
        self.detectors = build_detectors(reference, c)
        self.debouncer = Debouncer(c.rearm_windows, c.cooldown_ms)
        self.performance = RollingPerformance(c.outcomes_window, c.error_adwin_delta)
        self.latest: dict[tuple[str, str, str | None], float] = {}  # (kind, detector, feature) -> last statistic

    # Feeding.

    def observe(self, predictions: Sequence[Prediction]) -> list[DriftEvent]:
        """Predictions in arrival order -> drift events of the windows they closed and of the labels they met."""
        live = [p for p in predictions if not p.shadow]
        self.counts.shadow += len(predictions) - len(live)
        outcomes = [o for p in live if (o := self.join.add_prediction(p)) is not None]
        watched = [p for p in live if self.version is None or p.version == self.version]
        self.counts.other_version += len(live) - len(watched)
        events: list[DriftEvent] = []
        if watched:
            self.counts.predictions += len(watched)
            ts = np.fromiter((p.ts for p in watched), dtype=np.int64, count=len(watched))
            scores = np.fromiter((p.score for p in watched), dtype=np.float64, count=len(watched))
            X = self.windows.matrix([p.features for p in watched])
            events += self._streamed(ts, X, scores)
            for window in self.windows.add(ts, X, scores):
                events += self._window_closed(window)
        return events + self.observe_outcomes(outcomes)

    def observe_labels(self, labels: Iterable[Label]) -> list[DriftEvent]:
        return self.observe_outcomes([o for label in labels if (o := self.join.add_label(label)) is not None])

    def observe_outcomes(self, outcomes: Sequence[Outcome]) -> list[DriftEvent]:
        """Joined outcomes -> a performance event if the error rate rose (the current version's only)."""
        mine = [o for o in outcomes if self.version is None or o.version == self.version]
        findings = self.performance.add(mine)
        if not findings:
            return []
        end = max(o.ts for o in mine)
        return [
            self._event(alarm, _changed_at(alarm, default=min(o.ts for o in mine)), end, -1)
            for alarm in self.debouncer.update(findings, end)
        ]

    def expire(self) -> tuple[int, int]:
        """Drop label-join entries past their TTL (at most every ``expire_every_ms`` of event time)."""
        return self.join.expire() if self.join.due() else (0, 0)

    # Events.

    def _streamed(self, ts: np.ndarray, X: np.ndarray, scores: np.ndarray) -> list[DriftEvent]:
        """Feed the streaming detectors; an alarm becomes an event at once, timed at the value that raised it."""
        fired = [hit for d in self.detectors if isinstance(d, StreamingDetector) for hit in d.observe(ts, X, scores)]
        events = []
        for at, finding in sorted(fired, key=lambda hit: hit[0]):
            self.latest[finding.key] = finding.statistic
            # the evidence is the value that raised it: the batch may reach back as far as the monitor was behind
            events += [self._event(a, at, at, self.windows.index) for a in self.debouncer.update([finding], at)]
        return events

    def _window_closed(self, window: ClosedWindow) -> list[DriftEvent]:
        self.counts.windows += 1
        findings: list[Finding] = []
        for detector in self.detectors:
            findings += detector.update(window)
        for f in findings:
            self.latest[f.key] = f.statistic
        return [
            self._event(a, window.start, window.end, window.index) for a in self.debouncer.update(findings, window.end)
        ]

    def _event(self, alarm: Alarm, start: int, end: int, index: int) -> DriftEvent:
        top = alarm.top
        self.counts.events += 1
        drifted = [f.feature for f in alarm.findings if f.feature is not None]
        evidence: dict[str, float | str | None] = {
            **{k: float(v) if isinstance(v, int | float) else v for k, v in top.evidence.items()},
            "drifted": float(len(alarm.findings)),
            "features": ",".join(drifted) if drifted else None,
            "window": float(index),
        }
        return DriftEvent(
            model=self.model,
            detector=top.detector,
            feature=top.feature,
            statistic=float(top.statistic),
            threshold=float(top.threshold),
            window_start=start,
            window_end=end,
            severity=alarm.severity,
            ts=end,
            version=self.version,
            drift_id=f"{self.model}-{self.version or 'any'}-{top.kind}-{top.detector}-{end}-{self.counts.events}"[:128],
            kind=top.kind,
            evidence=evidence,
        )

    # State.

    def snapshot(self, *, reference: bool = True) -> bytes:
        """Everything but the join store, as bytes for the state table. ``reference=False`` leaves the reference
        profile out (its feature names and a digest stand in for it; ``restore`` then needs the profile): a few
        KB of window and detector state instead of the profile's 1000-value samples per column on every write."""
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        if not reference:
            pickler.dispatch_table = {**copyreg.dispatch_table, ReferenceProfile: _reference_placeholder}
        pickler.dump((SNAPSHOT_FORMAT, self))
        return buffer.getvalue()

    @classmethod
    def restore(
        cls, data: bytes, joins: MutableMapping[str, Any] | None = None, reference: ReferenceProfile | None = None
    ) -> DriftMonitor:
        """The monitor a ``snapshot`` was taken of, its join reading ``joins`` (the restored table). A snapshot
        taken without its reference needs ``reference``: the same profile (narrowed to the watched features as
        the snapshot's was), else ``ValueError``."""
        try:
            fmt, monitor = _SnapshotUnpickler(io.BytesIO(data), reference).load()
        except _ReferenceError as exc:
            raise ValueError(str(exc)) from None
        except (pickle.UnpicklingError, TypeError, ValueError, EOFError, AttributeError, ImportError, IndexError):
            fmt, monitor = None, None
        if fmt != SNAPSHOT_FORMAT or not isinstance(monitor, cls):
            raise ValueError(f"not a drift monitor snapshot of format {SNAPSHOT_FORMAT}")
        monitor.join.store = joins if joins is not None else {}
        return monitor


def _changed_at(alarm: Alarm, default: int) -> int:
    """Where a performance alarm's rise began (its ``changed_at`` evidence), else ``default``."""
    changed = alarm.top.evidence.get("changed_at")
    return int(changed) if isinstance(changed, float) else default


def watched_features(reference: ReferenceProfile, patterns: Sequence[str]) -> ReferenceProfile:
    """``reference`` narrowed to the features matching any of ``patterns`` (fnmatch); none: unchanged."""
    if not patterns:
        return reference
    kept = [f for f in reference.features if any(fnmatch.fnmatchcase(f.name, p) for p in patterns)]
    if not kept:
        raise ValueError(
            f"no feature of the reference matches the watched patterns {list(patterns)} "
            f"(RTML_MONITOR_FEATURES); it has {reference.feature_names}"
        )
    return msgspec.structs.replace(reference, feature_names=[f.name for f in kept], features=kept)


# A reference profile left out of a snapshot: pickled as a call of ``_unresolved_reference`` with its feature
# names and digest, which ``_SnapshotUnpickler`` resolves against the profile given to ``restore``.


class _ReferenceError(Exception):
    pass


def _digest(reference: ReferenceProfile) -> str:
    return hashlib.blake2b(msgspec.json.encode(reference), digest_size=16).hexdigest()


def _reference_placeholder(reference: ReferenceProfile) -> tuple[Any, tuple[tuple[str, ...], str]]:
    return _unresolved_reference, (tuple(reference.feature_names), _digest(reference))


def _unresolved_reference(names: tuple[str, ...], digest: str) -> ReferenceProfile:
    raise _ReferenceError("this snapshot was taken without its reference profile: restore it with reference=")


class _SnapshotUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, reference: ReferenceProfile | None) -> None:
        super().__init__(file)
        self.reference = reference

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, _unresolved_reference.__name__) and self.reference is not None:
            return self._resolve
        return super().find_class(module, name)

    def _resolve(self, names: tuple[str, ...], digest: str) -> ReferenceProfile:
        given = self.reference
        assert given is not None
        if tuple(given.feature_names) != names:
            try:
                kept = [given.feature(name) for name in names]
            except KeyError as exc:
                raise _ReferenceError(f"the given reference lacks a watched feature: {exc.args[0]}") from None
            given = msgspec.structs.replace(given, feature_names=list(names), features=kept)
        if _digest(given) != digest:
            raise _ReferenceError("the snapshot was taken against another reference profile than the given one")
        return given
