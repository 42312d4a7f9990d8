from __future__ import annotations

from stream_jobs.drift.debounce import Debouncer
from stream_jobs.drift.detectors import Finding


def f(feature: str | None, drifted: bool, statistic: float = 0.3, detector: str = "psi") -> Finding:
    return Finding("feature", detector, feature, statistic, 0.1, drifted, "critical" if statistic > 0.25 else "warning")


def test_one_shift_one_event_until_quiet_for_k_windows() -> None:
    d = Debouncer(rearm_after=3, cooldown_ms=0)
    fired = [len(d.update([f("a", drifted)], ts)) for ts, drifted in enumerate([1, 1, 1, 0, 0, 1, 0, 0, 0, 1])]
    assert fired == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_features_of_one_window_make_one_alarm_strongest_first() -> None:
    d = Debouncer()
    (alarm,) = d.update([f("a", True, 0.15), f("b", True, 0.6), f("c", False, 0.01)], 0)
    assert [x.feature for x in alarm.findings] == ["b", "a"] and alarm.severity == "critical"


def test_cooldown_per_kind_and_detector() -> None:
    d = Debouncer(rearm_after=1, cooldown_ms=1000)
    assert len(d.update([f("a", True), f("a", True, detector="ks")], 0)) == 2
    assert d.update([f("a", False), f("a", False, detector="ks")], 100) == []
    assert d.update([f("a", True)], 500) == [] and d.suppressed == 1  # within the cooldown
    assert d.update([f("a", False)], 600) == []
    assert len(d.update([f("a", True)], 1600)) == 1


def test_an_escalation_passes_the_cooldown_a_repeat_does_not() -> None:
    d = Debouncer(rearm_after=3, cooldown_ms=60_000)
    (warning,) = d.update([f("mean_5m", True, 0.13)], 0)  # a warning on one feature...
    assert warning.severity == "warning"
    (critical,) = d.update([f("log_amount", True, 0.27)], 9_000)  # ...does not hide a critical shift of another
    assert critical.severity == "critical" and critical.top.feature == "log_amount"
    assert d.update([f("amount", True, 0.4)], 18_000) == [] and d.suppressed == 1  # critical again: cooled down
    assert d.update([f("hour", True, 0.12)], 20_000) == [] and d.suppressed == 2


def test_a_feature_that_grows_from_warning_to_critical_fires_again_once() -> None:
    d = Debouncer(rearm_after=3, cooldown_ms=60_000)
    (warning,) = d.update([f("log_amount", True, 0.24)], 0)  # PSI just under the critical bound
    assert warning.severity == "warning"
    assert d.update([f("log_amount", True, 0.2)], 5_000) == []  # still a warning: one shift, one event
    (critical,) = d.update([f("log_amount", True, 0.27)], 10_000)  # past it: escalated, through the cooldown
    assert critical.severity == "critical" and critical.top.feature == "log_amount"
    assert d.update([f("log_amount", True, 0.4)], 15_000) == []  # critical again: nothing new
    assert d.update([f("log_amount", True, 0.15)], 20_000) == []  # falling back is no news either
    for ts in (25_000, 30_000, 35_000):  # quiet for rearm_after windows: armed again, from scratch
        assert d.update([f("log_amount", False, 0.05)], ts) == []
    assert d.update([f("log_amount", True, 0.2)], 200_000)[0].severity == "warning"


def test_a_snapshot_from_before_levels_restores_its_fired_keys_as_critical() -> None:
    import pickle

    d = Debouncer(rearm_after=3, cooldown_ms=0)
    d.update([f("a", True, 0.2)], 0)
    state = dict(d.__dict__)
    del state["level"]
    old = Debouncer.__new__(Debouncer)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.update([f("a", True, 0.4)], 1) == []  # fired before: no escalation can be told apart
