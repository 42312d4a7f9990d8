from __future__ import annotations

from schemas.codec import RecordCodec
from schemas.model_update import ModelUpdate
from stream_jobs.drift.config import DriftJobConfig, MonitorConfig
from stream_jobs.drift.monitor import DriftMonitor
from stream_jobs.drift.runner import MonitorRunner, RawRecord
from tests.support.drift_stream import predictions, reference_profile

CONFIG = DriftJobConfig("fraud", "predictions.fraud", "labels.transactions", monitor=MonitorConfig(window_size=100))


def raw(topic: str, record: object) -> RawRecord:
    return RawRecord(topic, b"k", RecordCodec(type(record)).encode(record))


def update(version: str) -> ModelUpdate:
    return ModelUpdate(model="fraud", version=version, alias="champion", artifact_uri="x.onnx", sha256="0" * 64, ts=1)


def test_bad_records_become_dead_letters_and_the_batch_goes_on() -> None:
    runner = MonitorRunner(CONFIG, DriftMonitor("fraud", reference_profile(rows=2000), "1", CONFIG.monitor))
    preds, labels = predictions(10)
    records = [raw("predictions.fraud", p) for p in preds] + [raw("labels.transactions", x) for x in labels]
    records.insert(3, RawRecord("predictions.fraud", b"k", b"{not json"))
    result = runner.handle(records)
    assert (result.predictions, result.labels, result.joined) == (10, 10, 10)
    ((record, error),) = result.dead_letters
    assert record.value == b"{not json" and "predictions.fraud" in str(error)


def test_a_new_champion_reloads_the_reference_between_the_records_around_it() -> None:
    loaded: list[str] = []

    def load(version: str):  # noqa: ANN202
        loaded.append(version)
        return reference_profile(rows=2000)

    runner = MonitorRunner(CONFIG, DriftMonitor("fraud", reference_profile(rows=2000), "1", CONFIG.monitor), load)
    old, _ = predictions(150, version="1")
    new, _ = predictions(50, version="2", start_index=150)
    records = [raw("predictions.fraud", p) for p in old]
    records += [raw("models.updates", update("2"))] + [raw("predictions.fraud", p) for p in new]
    result = runner.handle(records + [raw("models.updates", update("2"))])  # the same again: no reload
    assert loaded == ["2"] and result.reloaded == "2"
    monitor = runner.monitor
    assert monitor.version == "2" and monitor.windows.index == 0 and monitor.windows.count == 50


def test_without_a_loader_updates_are_ignored() -> None:
    runner = MonitorRunner(CONFIG, DriftMonitor("fraud", reference_profile(rows=2000), None, CONFIG.monitor))
    assert runner.handle([raw("models.updates", update("7"))]).reloaded is None
    assert runner.monitor.version is None
