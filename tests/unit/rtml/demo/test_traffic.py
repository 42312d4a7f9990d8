"""The demo's live traffic continues the generated history with timestamps moved to the wall clock."""

from __future__ import annotations

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.demo.traffic import TimeShift
from schemas.label import Label
from schemas.transaction import Transaction


def test_the_shift_moves_live_records_and_keeps_history_event_times_on_labels() -> None:
    config = GeneratorConfig(start_ts=1_700_000_000_000, seed=3, rate=50, legit_label_delay_s=30)
    items = list(TransactionGenerator(config).events(400))
    cut = next(i for i in items[200:] if i.topic_kind == "transaction").record.ts
    shift = TimeShift(since=cut, offset_ms=3_600_000)
    moved = [shift.apply(i) for i in items]
    for before, after in zip(items, moved, strict=True):
        assert after.record.ts == before.record.ts + 3_600_000
        assert after.key == before.key and after.is_fraud == before.is_fraud
        if isinstance(before.record, Label):
            assert isinstance(after.record, Label) and before.record.event_ts is not None
            expected = before.record.event_ts + (3_600_000 if before.record.event_ts >= cut else 0)
            assert after.record.event_ts == expected
            assert after.record.ts >= (after.record.event_ts or 0)  # still valid: a label never precedes its event
        else:
            assert isinstance(after.record, Transaction)
            assert after.record.event_id == before.record.event_id
    assert any(isinstance(i.record, Label) and (i.record.event_ts or 0) < cut for i in items)
    assert TimeShift(since=0, offset_ms=0).apply(items[0]) is items[0]
