from __future__ import annotations

import pickle

from schemas.label import Label
from schemas.prediction import Prediction
from stream_jobs.drift.joins import OutcomeJoin


def p(event_id: str, ts: int, score: float = 0.9) -> Prediction:
    return Prediction(
        event_id=event_id,
        model="m",
        version="1",
        score=score,
        label=int(score >= 0.5),
        features={},
        ts=ts,
        scored_at=ts,
    )  # type: ignore[arg-type]


def lab(event_id: str, label: int, event_ts: int) -> Label:
    return Label(event_id=event_id, label=label, ts=event_ts + 5000, event_ts=event_ts)  # type: ignore[arg-type]


def test_label_after_prediction_and_before_it_both_join() -> None:
    join = OutcomeJoin({}, ttl_ms=10_000)
    assert join.add_prediction(p("a", 1000)) is None
    out = join.add_label(lab("a", 0, 1000))
    assert out is not None and (out.predicted, out.actual, out.error) == (1, 0, 1)
    assert join.add_label(lab("b", 1, 2000)) is None
    out = join.add_prediction(p("b", 2000))
    assert out is not None and out.error == 0 and len(join) == 0 and join.counts.joined == 2


def test_entries_expire_after_the_ttl_of_event_time() -> None:
    join = OutcomeJoin({}, ttl_ms=10_000, expire_every_ms=1000)
    join.add_prediction(p("old", 0))
    join.add_label(lab("orphan", 1, 500))
    join.add_prediction(p("new", 9_000))
    assert join.expire() == (0, 0)
    join.add_prediction(p("later", 10_600))
    assert join.due() and join.expire() == (1, 1)
    assert set(join.store) == {"new", "later"}
    assert join.add_label(lab("old", 1, 0)) is None  # its prediction is gone: the label waits, then expires
    join.add_prediction(p("much-later", 30_000))
    assert join.expire() == (2, 1) and set(join.store) == {"much-later"}


def test_the_store_is_not_pickled() -> None:
    join = OutcomeJoin({"x": ["p", 0.1, 0, 1, "1"]}, ttl_ms=10)
    assert "store" not in pickle.loads(pickle.dumps(join)).__dict__
