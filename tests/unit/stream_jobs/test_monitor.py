"""The monitor core on seeded streams (tests/support/drift_stream.py): no event on a stationary stream, one event
per detector group and severity on an abrupt shift (a warning on the half-shifted window, then critical once a
window is all shifted), at exact positions; snapshot/restore continues identically."""

from __future__ import annotations

from collections import Counter
from functools import cache

import msgspec
import pytest

from schemas.drift import DriftEvent
from stream_jobs.drift.config import MonitorConfig
from stream_jobs.drift.joins import Outcome
from stream_jobs.drift.monitor import DriftMonitor
from tests.support.drift_stream import START_MS, STEP_MS, predictions, reference_profile
from training.profile import ReferenceProfile


@cache
def reference() -> ReferenceProfile:
    return reference_profile()


def run(monitor: DriftMonitor, preds: list, batch: int = 500) -> list[DriftEvent]:
    return [e for i in range(0, len(preds), batch) for e in monitor.observe(preds[i : i + batch])]


def position(event: DriftEvent) -> int:
    return (event.window_end - START_MS) // STEP_MS


def test_a_stationary_stream_of_100k_predictions_raises_no_drift_event() -> None:
    preds, labels = predictions(100_000, seed=2)
    monitor = DriftMonitor("fraud", reference(), "1")
    events = run(monitor, preds)
    events += [e for i in range(0, len(labels), 500) for e in monitor.observe_labels(labels[i : i + 500])]
    assert events == []
    assert monitor.counts.windows == 200 and monitor.performance.seen == 100_000


def test_an_abrupt_shift_gives_one_event_per_detector_group_and_severity_within_a_few_hundred_predictions() -> None:
    shift_at = 10_250  # mid-window: the window closing at 10_499 holds 250 shifted predictions
    preds, _ = predictions(20_000, seed=5, shift_at=shift_at)
    events = run(DriftMonitor("fraud", reference(), "1"), preds, batch=137)
    by_group = Counter((e.kind, e.detector, e.severity) for e in events)
    assert all(n == 1 for n in by_group.values()), by_group
    for group in {(e.kind, e.detector) for e in events}:  # severities only rise: never a warning after a critical
        severities = [e.severity for e in sorted(events, key=position) if (e.kind, e.detector) == group]
        assert severities in (["warning"], ["critical"], ["warning", "critical"]), (group, severities)
    first = sorted(events, key=position, reverse=True)
    delays = {(e.kind, e.detector): position(e) - shift_at for e in first}  # of each group's first event
    # golden: streaming ADWIN / KSWIN within ~200 predictions, the window tests at the end of the shifted window
    assert delays[("feature", "psi")] <= 750 and delays[("feature", "ks")] <= 750
    assert delays[("prediction", "psi")] <= 750
    assert delays[("feature", "adwin")] <= 250 and delays[("prediction", "kswin")] <= 250
    assert by_group[("feature", "psi", "critical")] == 1  # the all-shifted window escalates PSI to critical
    psi = next(e for e in events if (e.kind, e.detector) == ("feature", "psi"))
    assert psi.feature == "amount" and psi.evidence["features"] == "amount" and psi.severity != "info"
    assert psi.version == "1" and psi.drift_id and psi.evidence["live_mean"] > psi.evidence["reference_mean"]


def test_golden_detection_positions() -> None:
    preds, _ = predictions(20_000, seed=5, shift_at=10_250)
    events = run(DriftMonitor("fraud", reference(), "1"), preds)
    got = sorted((e.kind, e.detector, e.feature, position(e)) for e in events)
    assert got == GOLDEN


GOLDEN = [  # shift at 10_250; window tests: the last prediction of the window; streaming: the value that fired
    ("feature", "adwin", "amount", 10399),
    ("feature", "ks", "amount", 10499),  # warning: half the window shifted
    ("feature", "ks", "amount", 10999),  # critical: all of it
    ("feature", "page_hinkley", "amount", 11499),
    ("feature", "psi", "amount", 10499),
    ("feature", "psi", "amount", 10999),
    ("prediction", "adwin", None, 10399),
    ("prediction", "ks", None, 10499),
    ("prediction", "ks", None, 11499),
    ("prediction", "kswin", None, 10372),
    ("prediction", "page_hinkley", None, 11499),
    ("prediction", "psi", None, 10499),
    ("prediction", "psi", None, 10999),
]


def test_shadow_and_other_versions_stay_out_of_the_windows() -> None:
    preds, _ = predictions(1000, seed=3)
    shadow = [msgspec.structs.replace(p, shadow=True) for p in preds[:300]]
    other = [msgspec.structs.replace(p, version="2") for p in preds[300:600]]
    monitor = DriftMonitor("fraud", reference(), "1", MonitorConfig(window_size=100))
    monitor.observe(shadow + other + preds[600:])
    assert (monitor.counts.shadow, monitor.counts.other_version, monitor.counts.predictions) == (300, 300, 400)


def test_snapshot_and_restore_continue_identically() -> None:
    preds, labels = predictions(12_000, seed=7, shift_at=8_000)
    store_a: dict = {}
    a = DriftMonitor("fraud", reference(), "1", joins=store_a)
    first = run(a, preds[:5_200]) + a.observe_labels(labels[:3000])
    store_b = dict(store_a)  # what the joins changelog restores
    b = DriftMonitor.restore(a.snapshot(), store_b)
    rest_a = run(a, preds[5_200:]) + a.observe_labels(labels[3000:])
    rest_b = run(b, preds[5_200:]) + b.observe_labels(labels[3000:])
    assert first == []
    assert rest_a == rest_b and rest_a
    assert store_a == store_b and a.performance.seen == b.performance.seen == 12_000
    with pytest.raises(ValueError):
        DriftMonitor.restore(b"\x80\x05K\x02.")


def test_a_snapshot_without_its_reference_restores_against_the_same_profile_only() -> None:
    preds, _ = predictions(6_000, seed=7, shift_at=3_200)
    a = DriftMonitor("fraud", reference(), "1", MonitorConfig(features=("amount", "hour")))
    run(a, preds[:3_200])
    lean = a.snapshot(reference=False)
    assert len(a.snapshot()) - len(lean) > 3 * 1000 * 8  # 2 features and the score: their samples stay out
    b = DriftMonitor.restore(lean, reference=reference())  # the whole profile: narrowed as the snapshot's was
    assert b.reference == a.reference and b.windows.reference is b.reference
    assert run(a, preds[3_200:]) == run(b, preds[3_200:]) != []
    with pytest.raises(ValueError, match="without its reference"):
        DriftMonitor.restore(lean)
    with pytest.raises(ValueError, match="another reference"):
        DriftMonitor.restore(lean, reference=reference_profile(seed=5))


def test_reset_restarts_windows_and_detectors() -> None:
    preds, _ = predictions(1200, seed=3)
    monitor = DriftMonitor("fraud", reference(), "1")
    run(monitor, preds)
    monitor.reset(reference(), "2")
    assert monitor.windows.index == 0 and monitor.windows.count == 0 and monitor.version == "2"


def test_watched_features_narrow_the_windows_and_detectors_to_the_patterns() -> None:
    names = reference().feature_names
    assert "amount" in names and len(names) > 1
    monitor = DriftMonitor("fraud", reference(), "1", MonitorConfig(features=("amou*",)))
    assert monitor.reference.feature_names == ["amount"]
    shifted, _ = predictions(20_000, seed=5, shift_at=10_250)
    events = run(monitor, shifted)
    assert {e.feature for e in events if e.kind == "feature"} == {"amount"}
    unwatched = [n for n in names if n != "amount"][0]
    quiet = DriftMonitor("fraud", reference(), "1", MonitorConfig(features=(unwatched,)))
    assert [e for e in run(quiet, shifted) if e.kind == "feature"] == []
    with pytest.raises(ValueError, match="RTML_MONITOR_FEATURES"):
        DriftMonitor("fraud", reference(), "1", MonitorConfig(features=("nothing*",)))


def test_an_event_dates_the_shift_where_it_began_even_from_one_late_batch() -> None:
    """A monitor that was behind reads one large batch reaching far back before the shift; the retrain trigger
    bounds its post-drift data by the events' ``window_start``, so it must not be the batch's first value."""
    shift_at = 10_250
    preds, _ = predictions(20_000, seed=5, shift_at=shift_at)
    monitor = DriftMonitor("fraud", reference(), "1")
    run(monitor, preds[:8_000])
    events = run(monitor, preds[8_000:], batch=12_000)
    streamed = [e for e in events if "value" in e.evidence]  # a streaming detector's: the value that raised it
    assert streamed and len(streamed) < len(events), events
    for e in events:  # the others: one closed window
        assert position(e) >= shift_at and e.window_start >= START_MS + (shift_at - 500) * STEP_MS, e
        assert e.window_start == e.window_end if e in streamed else e.window_start < e.window_end, e

    outcomes = [Outcome(f"o{i}", 0.2, 0, int(i % 50 == 0), START_MS + i * STEP_MS, "1") for i in range(8_000)]
    worse = [Outcome(f"o{i}", 0.2, 0, int(i % 4 == 0), START_MS + i * STEP_MS, "1") for i in range(8_000, 9_000)]
    (performance,) = monitor.observe_outcomes(outcomes[:6_000]) + monitor.observe_outcomes(outcomes[6_000:] + worse)
    assert performance.kind == "performance" and performance.window_end == START_MS + 8_999 * STEP_MS
    assert abs((performance.window_start - START_MS) // STEP_MS - 8_000) <= 30, performance
