"""Late labels joined to predictions by event id, in a mapping the adapter backs with a changelog table.

Whichever of a prediction and its label comes first waits in ``store`` (keyed by event id) for the other;
when both are there they become one ``Outcome`` and the entry is deleted. Entries wait at most ``ttl_ms`` of
event time: a prediction whose label never comes, or a label whose prediction never comes, is dropped (and
counted) once the watermark (the greatest prediction ``ts`` seen) is ``ttl_ms`` past the labelled event's time.
Entries are plain lists, so any JSON-valued mapping (a dict in tests, a faust Table in the monitor) holds them.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from schemas.label import Label
from schemas.prediction import Prediction

PREDICTION, LABEL = "p", "l"


@dataclass(frozen=True)
class Outcome:
    """A prediction with its true label: ``predicted`` is the model's thresholded class, ``actual`` the label."""

    event_id: str
    score: float
    predicted: int
    actual: int
    ts: int
    version: str

    @property
    def error(self) -> int:
        return int(self.predicted != self.actual)


@dataclass
class JoinCounts:
    joined: int = 0
    expired_predictions: int = 0
    expired_labels: int = 0


class OutcomeJoin:
    """The join; ``store`` is not pickled with it (the adapter's table restores it on its own)."""

    def __init__(self, store: MutableMapping[str, Any], ttl_ms: int, expire_every_ms: int = 10_000) -> None:
        if ttl_ms < 1:
            raise ValueError(f"ttl_ms must be positive, got {ttl_ms}")
        self.store = store
        self.ttl_ms = ttl_ms
        self.expire_every_ms = expire_every_ms
        self.watermark = 0
        self.last_expiry = 0
        self.counts = JoinCounts()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "store"}

    def add_prediction(self, p: Prediction) -> Outcome | None:
        self.watermark = max(self.watermark, p.ts)
        waiting = self.store.get(p.event_id)
        if waiting is not None and waiting[0] == LABEL:
            del self.store[p.event_id]
            self.counts.joined += 1
            return Outcome(p.event_id, p.score, p.label, int(waiting[1]), p.ts, p.version)
        self.store[p.event_id] = [PREDICTION, p.score, p.label, p.ts, p.version]
        return None

    def add_label(self, label: Label) -> Outcome | None:
        waiting = self.store.get(label.event_id)
        if waiting is not None and waiting[0] == PREDICTION:
            del self.store[label.event_id]
            self.counts.joined += 1
            _, score, predicted, ts, version = waiting
            return Outcome(label.event_id, float(score), int(predicted), label.label, int(ts), str(version))
        event_ts = label.event_ts if label.event_ts is not None else label.ts
        self.store[label.event_id] = [LABEL, label.label, event_ts]
        return None

    def due(self) -> bool:
        """Whether ``expire`` has work: the watermark moved ``expire_every_ms`` since the last scan."""
        return self.watermark - self.last_expiry >= self.expire_every_ms

    def expire(self, watermark: int | None = None) -> tuple[int, int]:
        """Drop entries older than the TTL at ``watermark`` (default: the join's); (predictions, labels) dropped."""
        now = self.watermark if watermark is None else watermark
        self.last_expiry = now
        cutoff = now - self.ttl_ms
        old = [(k, v[0]) for k, v in list(self.store.items()) if int(v[3] if v[0] == PREDICTION else v[2]) < cutoff]
        for key, _ in old:
            del self.store[key]
        predictions = sum(1 for _, what in old if what == PREDICTION)
        self.counts.expired_predictions += predictions
        self.counts.expired_labels += len(old) - predictions
        return predictions, len(old) - predictions

    def __len__(self) -> int:
        return len(self.store)
