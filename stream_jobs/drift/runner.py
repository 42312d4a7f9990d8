"""One batch of raw records (predictions, labels, model updates, in arrival order) through a ``DriftMonitor``.

No Kafka here: the adapter hands ``RawRecord``s and sends what ``BatchResult`` holds (drift events, dead
letters). Records are decoded with the topics' codecs; one that fails to decode (or names another model) is
returned as a dead letter and the batch goes on. A ``models.updates`` record that gives the monitored model's
``champion`` alias to another version makes the runner load that version's reference (``load_reference``) and
reset the monitor first: predictions before it in the batch are judged against the old reference, those after
against the new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas.codec import RecordCodec
from schemas.drift import DriftEvent
from schemas.label import Label
from schemas.model_update import ModelUpdate
from schemas.prediction import Prediction
from stream_jobs.drift.config import DriftJobConfig
from stream_jobs.drift.monitor import DriftMonitor
from training.profile import ReferenceProfile

log = logging.getLogger(__name__)

CHAMPION = "champion"


@dataclass(frozen=True)
class RawRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int = 0
    offset: int = 0


@dataclass
class BatchResult:
    events: list[DriftEvent] = field(default_factory=list)
    dead_letters: list[tuple[RawRecord, Exception]] = field(default_factory=list)
    predictions: int = 0
    labels: int = 0
    joined: int = 0
    expired: tuple[int, int] = (0, 0)
    reloaded: str | None = None  # the version whose reference was loaded


class MonitorRunner:
    def __init__(
        self,
        config: DriftJobConfig,
        monitor: DriftMonitor,
        load_reference: Callable[[str], ReferenceProfile] | None = None,
    ) -> None:
        self.config = config
        self.monitor = monitor
        self.load_reference = load_reference  # None: a fixed reference (--reference), updates are ignored
        self.predictions = RecordCodec(Prediction, name=config.predictions_topic)
        self.labels = RecordCodec(Label, name=config.labels_topic)
        self.updates = RecordCodec(ModelUpdate, name=config.updates_topic)

    def handle(self, records: Sequence[RawRecord]) -> BatchResult:
        result = BatchResult()
        joined_before = self.monitor.join.counts.joined
        predictions: list[Prediction] = []
        labels: list[Label] = []
        for record in records:
            try:
                if record.topic == self.config.predictions_topic:
                    prediction = self.predictions.decode(record.value)
                    if prediction.model != self.config.model:
                        raise ValueError(f"prediction of model {prediction.model!r} on {record.topic}")
                    predictions.append(prediction)
                elif record.topic == self.config.labels_topic:
                    labels.append(self.labels.decode(record.value))
                elif record.topic == self.config.updates_topic:
                    update = self.updates.decode(record.value)
                    if self._changes_champion(update):
                        self._flush(predictions, labels, result)
                        self._reload(update, result)
            except Exception as exc:  # noqa: BLE001  # any record that cannot be processed is set aside
                result.dead_letters.append((record, exc))
        self._flush(predictions, labels, result)
        result.expired = self.monitor.expire()
        result.joined = self.monitor.join.counts.joined - joined_before
        return result

    def _flush(self, predictions: list[Prediction], labels: list[Label], result: BatchResult) -> None:
        if predictions:
            result.events += self.monitor.observe(predictions)
            result.predictions += len(predictions)
        if labels:
            result.events += self.monitor.observe_labels(labels)
            result.labels += len(labels)
        predictions.clear()
        labels.clear()

    def _changes_champion(self, update: ModelUpdate) -> bool:
        return (
            update.model == self.config.model
            and update.alias == CHAMPION
            and update.action != "archived"
            and update.version != self.monitor.version
        )

    def _reload(self, update: ModelUpdate, result: BatchResult) -> None:
        if self.load_reference is None:
            log.info("model %s: champion is now version %s; keeping the given reference", update.model, update.version)
            return
        reference = self.load_reference(update.version)
        log.info(
            "model %s: champion %s -> %s: reference reloaded, windows restarted",
            update.model,
            self.monitor.version,
            update.version,
        )
        self.monitor.reset(reference, update.version)
        result.reloaded = update.version
