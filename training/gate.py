"""The promotion gate: may a challenger replace the champion? Pure; the rule is docs/decisions/0007.

Both models are scored on the same rows (the newest slice of the challenger's training set, see
``training.holdout``); ``decide`` compares the two evaluations and says why, one reason per check. With
``noise_z`` a check fails only when the challenger falls short by more than ``noise_z`` standard errors of
the paired difference (bootstrap over the slice's rows, ``training.holdout.paired_noise``): a slice with a
few dozen positives moves PR-AUC by several points, and a challenger better on the rest of the recent data
is otherwise refused on the draw of its last minutes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtml.settings import Settings

HIGHER_IS_BETTER = ("pr_auc", "roc_auc")


@dataclass(frozen=True)
class GateRule:
    """``metric`` must reach the champion's plus ``min_margin``; ``secondary`` may drop by at most
    ``max_secondary_drop``; Brier may rise by at most ``max_brier_increase`` (None: unchecked). A champion
    whose features the holdout set lacks cannot be compared: ``allow_signature_change`` lets it through.
    ``noise_z`` widens every bound by that many standard errors of the paired difference, when known."""

    metric: str = "pr_auc"
    secondary: str | None = "roc_auc"
    min_margin: float = 0.0
    max_secondary_drop: float = 0.01
    max_brier_increase: float | None = None
    allow_signature_change: bool = False
    noise_z: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.noise_z <= 5.0:
            raise ValueError(f"gate noise_z must be within [0, 5], got {self.noise_z}")
        for name in (self.metric, self.secondary):
            if name is not None and name not in HIGHER_IS_BETTER:
                raise ValueError(f"gate metric {name!r} is not one of {', '.join(HIGHER_IS_BETTER)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> GateRule:
        return cls(
            metric=settings.gate_metric,
            secondary=settings.gate_secondary_metric,
            min_margin=settings.gate_min_margin,
            max_secondary_drop=settings.gate_max_secondary_drop,
            max_brier_increase=settings.gate_max_brier_increase,
            allow_signature_change=settings.gate_allow_signature_change,
            noise_z=settings.gate_noise_z,
        )


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model on the holdout rows; ``missing_features``: inputs the set lacks (not scored)."""

    metrics: Mapping[str, float]
    rows: int = 0
    positives: int = 0
    missing_features: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)


def decide(
    challenger: Evaluation,
    champion: Evaluation | None,
    rule: GateRule | None = None,
    noise: Mapping[str, float] | None = None,
) -> GateDecision:
    """Promote when there is no champion, or when every check of ``rule`` passes. ``noise``: per metric, the
    standard error of challenger minus champion on the holdout (used with ``rule.noise_z``)."""
    rule = rule or GateRule()
    if challenger.missing_features:
        missing = ", ".join(challenger.missing_features)
        return GateDecision(False, [f"the holdout set lacks the challenger's features {missing}: use its own set"])
    if champion is None:
        return GateDecision(True, ["no champion yet: the challenger is promoted"])
    if champion.missing_features:
        missing = ", ".join(champion.missing_features)
        reason = f"the champion needs features the holdout set lacks ({missing}): the two cannot be compared"
        if rule.allow_signature_change:
            return GateDecision(True, [f"{reason}; promoted because allow_signature_change is set"])
        return GateDecision(
            False, [f"{reason}; set RTML_GATE_ALLOW_SIGNATURE_CHANGE=true or promote with --force to replace it"]
        )

    def allowance(metric: str) -> tuple[float, str]:
        se = (noise or {}).get(metric, math.nan)
        if rule.noise_z <= 0 or not math.isfinite(se):
            return 0.0, ""
        return rule.noise_z * se, f"{rule.noise_z:g} x {se:.4f} noise"

    checks = [_check(challenger, champion, rule.metric, "gain", rule.min_margin, *allowance(rule.metric))]
    if rule.secondary is not None and rule.secondary != rule.metric:
        checks.append(
            _check(challenger, champion, rule.secondary, "drop", rule.max_secondary_drop, *allowance(rule.secondary))
        )
    if rule.max_brier_increase is not None:
        checks.append(_check(challenger, champion, "brier", "rise", rule.max_brier_increase, *allowance("brier")))
    return GateDecision(all(ok for ok, _ in checks), [reason for _, reason in checks])


def _check(
    challenger: Evaluation,
    champion: Evaluation,
    metric: str,
    kind: str,
    bound: float,
    allowed: float = 0.0,
    noise: str = "",
) -> tuple[bool, str]:
    new = challenger.metrics.get(metric, math.nan)
    old = champion.metrics.get(metric, math.nan)
    if not (math.isfinite(new) and math.isfinite(old)):
        return False, f"{metric} is undefined on the holdout (challenger {new}, champion {old}): a class is missing?"
    delta = new - old
    tolerance = 1e-12
    if kind == "gain":
        ok, need = delta >= bound - allowed - tolerance, f"needs >= {bound:+.4f}" + (f" - {noise}" if noise else "")
    else:
        limit = f"may {kind} <= {bound:.4f}" + (f" + {noise}" if noise else "")
        change = -delta if kind == "drop" else delta
        ok, need = change <= bound + allowed + tolerance, limit
    verdict = "pass" if ok else "FAIL"
    return ok, f"{metric} {new:.4f} vs champion {old:.4f} ({delta:+.4f}, {need}): {verdict}"
