"""The retrain policy on scripted drift events, with a fake clock and label count."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.drift import DriftEvent
from training.trigger.policy import (
    DriftGroup,
    RetrainPolicy,
    RetrainRules,
    TrainingHistory,
    drift_key,
    training_window,
)

T0 = 1_800_000_000_000
MIN = 60_000
NO_HISTORY = TrainingHistory()


def drift(n: int, *, severity: str = "critical", **fields: Any) -> DriftEvent:
    values: dict[str, Any] = {
        "model": "fraud",
        "detector": "psi",
        "feature": "amount",
        "statistic": 0.4,
        "threshold": 0.25,
        "window_start": T0 + n * MIN - 10 * MIN,
        "window_end": T0 + n * MIN,
        "severity": severity,
        "ts": T0 + n * MIN,
        "drift_id": f"d{n}",
        "kind": "feature",
        **fields,
    }
    return DriftEvent(**values)


class Labels:
    """A label count that the test sets; records what it was asked."""

    def __init__(self, count: int = 10_000) -> None:
        self.count = count
        self.asked: list[tuple[int, int | None, int | None]] = []

    def __call__(self, since_ms: int, after_ms: int | None, until_ms: int | None) -> int:
        self.asked.append((since_ms, after_ms, until_ms))
        return self.count


def policy(**rules: Any) -> RetrainPolicy:
    return RetrainPolicy(RetrainRules(**{"model": "fraud", "cooldown_s": 600.0, "min_new_labels": 100, **rules}))


def test_a_critical_drift_trains_and_names_itself() -> None:
    p = policy()
    decision = p.offer(drift(1), NO_HISTORY, T0, Labels())
    assert decision.action == "train" and decision.drift_id == "d1"
    assert "critical psi drift" in decision.reason
    assert p.running is not None and p.pending is None


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (drift(1, severity="warning"), "below critical"),
        (drift(1, model="other"), "not 'fraud'"),
        (drift(1, kind="performance"), "does not retrain"),
    ],
)
def test_what_does_not_count_is_skipped(event: DriftEvent, reason: str) -> None:
    p = policy(kinds=("feature", "prediction"))
    decision = p.offer(event, NO_HISTORY, T0, Labels())
    assert decision.action == "skip" and reason in decision.reason
    assert p.pending is None and p.running is None


def test_min_severity_is_a_setting() -> None:
    warning = policy(min_severity="warning")
    assert warning.offer(drift(1, severity="warning"), NO_HISTORY, T0, Labels()).action == "train"
    assert policy(min_severity="warning").offer(drift(1, severity="info"), NO_HISTORY, T0, Labels()).action == "skip"


def test_a_drift_already_served_or_about_a_retired_version_is_skipped() -> None:
    history = TrainingHistory(last_training_ms=T0 - 3_600_000, champion_version="4", served=frozenset({"d1"}))
    p = policy()
    assert "served already" in p.offer(drift(1), history, T0, Labels()).reason
    stale = p.offer(drift(2, version="3"), history, T0, Labels())
    assert stale.action == "skip" and "version 4 serves now" in stale.reason
    assert p.offer(drift(3, version="4"), history, T0, Labels()).action == "train"


def test_no_second_run_while_one_is_in_progress() -> None:
    p, labels = policy(), Labels()
    assert p.offer(drift(1), NO_HISTORY, T0, labels).action == "train"
    for n in (2, 3, 4):
        decision = p.offer(drift(n), NO_HISTORY, T0 + n * 1000, labels)
        assert decision.action == "skip" and "d1 is in progress" in decision.reason
    assert p.tick(NO_HISTORY, T0 + 5000, labels) is None
    assert p.running is not None and [drift_key(d) for d in p.running.drifts] == ["d1", "d2", "d3", "d4"]


def test_repeated_drift_events_of_one_shift_make_one_run() -> None:
    """d1 trains; d2..d4 arrive during the run and are answered by it; re-checks train nothing more."""
    p, labels = policy(), Labels()
    runs = 0
    now = T0
    for n in range(1, 5):
        decision = p.offer(drift(n), NO_HISTORY, now, labels)
        runs += decision.action == "train"
        now += 10_000
    group = p.finished(True, now)
    assert group is not None and len(group.drifts) == 4
    history = TrainingHistory(last_training_ms=now, champion_version="2", served=frozenset({"d4"}))
    for _ in range(100):  # well past the cooldown
        now += 30_000
        decision = p.tick(history, now, labels)
        runs += decision is not None and decision.action == "train"
    assert runs == 1 and p.pending is None


def test_cooldown_defers_and_then_trains_once_for_the_newest_drift() -> None:
    p, labels = policy(cooldown_s=600.0), Labels()
    history = TrainingHistory(last_training_ms=T0, champion_version="1")
    first = p.offer(drift(1), history, T0 + 60_000, labels)
    assert first.action == "defer" and "cooldown" in first.reason and "540 s left" in first.reason
    assert p.offer(drift(2), history, T0 + 120_000, labels).action == "defer"
    assert p.tick(history, T0 + 599_000, labels).action == "defer"  # type: ignore[union-attr]
    decision = p.tick(history, T0 + 600_000, labels)
    assert decision is not None and decision.action == "train" and decision.drift_id == "d2"
    assert decision.group is not None and decision.group.since_ms == drift(1).window_start
    assert p.tick(history, T0 + 700_000, labels) is None


def test_too_few_labels_defers_until_enough_arrive() -> None:
    p, labels = policy(min_new_labels=500), Labels(count=120)
    history = TrainingHistory(last_training_ms=T0 - 3_600_000, champion_version="1")
    first = p.offer(drift(1), history, T0, labels)
    assert first.action == "defer" and "120 new labelled events" in first.reason and "waiting for 500" in first.reason
    assert labels.asked[-1] == (drift(1).window_start, T0 - 3_600_000, None)
    assert p.tick(history, T0 + 10_000, labels).action == "defer"  # type: ignore[union-attr]
    labels.count = 500
    decision = p.tick(history, T0 + 20_000, labels)
    assert decision is not None and decision.action == "train" and "500 new labelled events" in decision.reason
    assert p.tick(history, T0 + 30_000, labels) is None


def test_after_the_longest_wait_it_trains_on_what_arrived_or_gives_up() -> None:
    history = TrainingHistory(last_training_ms=T0 - 3_600_000)
    p = policy(min_new_labels=500, max_label_wait_s=600.0)
    assert p.offer(drift(1), history, T0, Labels(40)).action == "defer"
    decision = p.tick(history, T0 + 600_000, Labels(40))
    assert decision is not None and decision.action == "train" and "waited 600 s" in decision.reason

    p = policy(min_new_labels=500, max_label_wait_s=600.0)
    assert p.offer(drift(1), history, T0, Labels(0)).action == "defer"
    gave_up = p.tick(history, T0 + 600_000, Labels(0))
    assert gave_up is not None and gave_up.action == "skip" and p.pending is None


def test_a_failed_run_retries_the_drifts_it_absorbed_once_after_the_cooldown() -> None:
    p, labels = policy(cooldown_s=300.0), Labels()
    assert p.offer(drift(1), NO_HISTORY, T0, labels).action == "train"
    assert p.offer(drift(2), NO_HISTORY, T0 + 1000, labels).action == "skip"
    p.finished(False, T0 + 60_000)
    assert p.pending is not None and [drift_key(d) for d in p.pending.drifts] == ["d2"]
    assert p.tick(NO_HISTORY, T0 + 120_000, labels).action == "defer"  # type: ignore[union-attr]
    retry = p.tick(NO_HISTORY, T0 + 360_000, labels)
    assert retry is not None and retry.action == "train" and retry.drift_id == "d2"


def test_a_failed_run_alone_is_not_retried() -> None:
    p = policy()
    p.offer(drift(1), NO_HISTORY, T0, Labels())
    p.finished(False, T0 + 60_000)
    assert p.pending is None and p.tick(NO_HISTORY, T0 + 3_600_000, Labels()) is None


def test_a_pending_drift_served_meanwhile_is_dropped() -> None:
    p = policy()
    history = TrainingHistory(last_training_ms=T0, champion_version="1")
    assert p.offer(drift(1), history, T0 + 1000, Labels()).action == "defer"
    served = TrainingHistory(last_training_ms=T0 + 2000, champion_version="2", served=frozenset({"d1"}))
    decision = p.tick(served, T0 + 3000, Labels())
    assert decision is not None and decision.action == "skip" and p.pending is None


def test_drift_key_without_an_id() -> None:
    assert drift_key(drift(1, drift_id=None)) == f"fraud:psi:amount:{T0 + MIN}"


def test_the_training_window_starts_history_before_the_shift_and_stays_open() -> None:
    group = DriftGroup()
    group.add(drift(5), T0)
    group.add(drift(3), T0)
    assert training_window(group, history_s=3600.0) == (drift(3).window_start - 3_600_000, None)
    assert training_window(group, 3600.0, T0 + 5 * MIN, maturity_s=0.0) == (drift(3).window_start - 3_600_000, None)


def test_with_a_label_maturity_only_events_that_old_count_and_train() -> None:
    p, labels = policy(min_new_labels=500, label_maturity_s=40.0), Labels(count=120)
    history = TrainingHistory(last_training_ms=T0 - 3_600_000, champion_version="1")
    first = p.offer(drift(1), history, T0, labels)
    assert first.action == "defer" and "(older than 40 s), waiting for 500" in first.reason
    assert labels.asked[-1] == (drift(1).window_start, T0 - 3_600_000, T0 - 40_000)
    labels.count = 500
    decision = p.tick(history, T0 + 20_000, labels)
    assert decision is not None and decision.action == "train" and labels.asked[-1][2] == T0 - 20_000
    assert decision.group is not None
    assert training_window(decision.group, 60.0, T0 + 20_000, maturity_s=40.0) == (
        drift(1).window_start - 60_000,
        T0 - 20_000,
    )
    with pytest.raises(ValueError, match="label_maturity_s"):
        RetrainRules(model="fraud", label_maturity_s=-1.0)


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="min_severity"):
        RetrainRules(model="fraud", min_severity="high")
    with pytest.raises(ValueError, match="drift kinds"):
        RetrainRules(model="fraud", kinds=("labels",))
