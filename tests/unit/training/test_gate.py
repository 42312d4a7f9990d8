"""The promotion gate: each check, its reason, and the cases where no comparison is possible."""

from __future__ import annotations

import math

import pytest

from rtml.settings import load_settings
from training.gate import Evaluation, GateRule, decide


def ev(pr_auc: float, roc_auc: float = 0.9, brier: float = 0.05, **kw: object) -> Evaluation:
    return Evaluation(metrics={"pr_auc": pr_auc, "roc_auc": roc_auc, "brier": brier}, rows=100, positives=10, **kw)  # type: ignore[arg-type]


def test_no_champion_promotes() -> None:
    decision = decide(ev(0.1), None)
    assert decision.promote and "no champion" in decision.reasons[0]


def test_at_least_as_good_passes_by_default() -> None:
    decision = decide(ev(0.60), ev(0.60))
    assert decision.promote
    assert decision.reasons[0] == "pr_auc 0.6000 vs champion 0.6000 (+0.0000, needs >= +0.0000): pass"


def test_worse_primary_metric_fails() -> None:
    decision = decide(ev(0.55), ev(0.60))
    assert not decision.promote and decision.reasons[0].endswith("FAIL")


def test_margin_is_required_when_set() -> None:
    rule = GateRule(min_margin=0.02)
    assert not decide(ev(0.61), ev(0.60), rule).promote
    assert decide(ev(0.62), ev(0.60), rule).promote


def test_secondary_metric_may_drop_only_so_far() -> None:
    rule = GateRule(max_secondary_drop=0.01)
    assert decide(ev(0.7, roc_auc=0.895), ev(0.6, roc_auc=0.90), rule).promote
    decision = decide(ev(0.7, roc_auc=0.85), ev(0.6, roc_auc=0.90), rule)
    assert not decision.promote
    assert decision.reasons[1].startswith("roc_auc 0.8500 vs champion 0.9000") and "FAIL" in decision.reasons[1]


def test_brier_is_checked_only_when_bounded() -> None:
    worse_calibrated = ev(0.7, brier=0.20)
    assert decide(worse_calibrated, ev(0.6, brier=0.05)).promote
    decision = decide(worse_calibrated, ev(0.6, brier=0.05), GateRule(max_brier_increase=0.01))
    assert not decision.promote and decision.reasons[-1].startswith("brier")


def test_undefined_metric_blocks_promotion() -> None:
    decision = decide(ev(math.nan), ev(0.6))
    assert not decision.promote and "undefined" in decision.reasons[0]


def test_champion_with_other_features_needs_permission() -> None:
    champion = Evaluation(metrics={}, missing_features=("old_feature",))
    refused = decide(ev(0.6), champion)
    assert not refused.promote and "old_feature" in refused.reasons[0]
    assert "RTML_GATE_ALLOW_SIGNATURE_CHANGE" in refused.reasons[0]
    assert decide(ev(0.6), champion, GateRule(allow_signature_change=True)).promote


def test_challenger_missing_features_never_promotes() -> None:
    decision = decide(Evaluation(metrics={}, missing_features=("x",)), None)
    assert not decision.promote


def test_rule_from_settings_and_unknown_metric() -> None:
    settings = load_settings(gate_metric="roc_auc", gate_min_margin=0.01, gate_secondary_metric=None)
    assert GateRule.from_settings(settings) == GateRule(metric="roc_auc", secondary=None, min_margin=0.01)
    with pytest.raises(ValueError, match="brier"):
        GateRule(metric="brier")


def test_with_noise_z_a_shortfall_within_the_noise_passes_and_beyond_it_fails() -> None:
    rule = GateRule(noise_z=2.0)
    noise = {"pr_auc": 0.01, "roc_auc": 0.005}
    within = decide(ev(0.585, roc_auc=0.885), ev(0.60, roc_auc=0.90), rule, noise)
    assert within.promote
    assert within.reasons[0] == "pr_auc 0.5850 vs champion 0.6000 (-0.0150, needs >= +0.0000 - 2 x 0.0100 noise): pass"
    assert (
        within.reasons[1] == "roc_auc 0.8850 vs champion 0.9000 (-0.0150, may drop <= 0.0100 + 2 x 0.0050 noise): pass"
    )
    beyond = decide(ev(0.575), ev(0.60), rule, noise)
    assert not beyond.promote and beyond.reasons[0].endswith("FAIL")
    # without the noise (or with noise_z 0) the plain comparison holds
    assert not decide(ev(0.585), ev(0.60), rule).promote
    assert not decide(ev(0.585), ev(0.60), GateRule(), noise).promote
    with pytest.raises(ValueError, match="noise_z"):
        GateRule(noise_z=-1.0)
