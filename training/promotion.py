"""Promote a version through the gate: score challenger and champion on the same holdout, then move the alias.

Only ``champion`` is gated; other aliases (``challenger``, ``shadow``) move on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from training.gate import Evaluation, GateDecision, GateRule, decide
from training.registry import RegistryError
from training.versions import AliasChange

if TYPE_CHECKING:
    from training.registry import ModelRegistry

GATED_ALIAS = "champion"


@dataclass(frozen=True)
class PromotionOutcome:
    """The gate's decision, and the alias change made (None: the alias did not move)."""

    decision: GateDecision
    change: AliasChange | None
    challenger_eval: Evaluation | None = None
    champion_eval: Evaluation | None = None
    training_set: Path | None = None


def promote(
    registry: ModelRegistry,
    model: str,
    version: str,
    *,
    alias: str = GATED_ALIAS,
    rule: GateRule | None = None,
    training_set: str | Path | None = None,
    holdout_fraction: float = 0.15,
    force: bool = False,
) -> PromotionOutcome:
    """Give ``alias`` to ``version`` if the gate allows it (or ``force``).

    The holdout is the newest ``holdout_fraction`` of ``training_set``, by default the challenger's own
    training set as its run recorded it.
    """
    candidate = registry.get(model, version)
    current = registry.alias(model, alias)
    if current is not None and current.version == candidate.version:
        return PromotionOutcome(GateDecision(True, [f"version {candidate.version} already is the {alias}"]), None)
    if force or alias != GATED_ALIAS:
        why = "forced: the gate was skipped" if force else f"alias {alias!r} is not gated"
        return PromotionOutcome(GateDecision(True, [why]), registry.set_alias(model, alias, candidate.version))
    if current is None:
        decision = decide(Evaluation(metrics={}), None, rule)
        return PromotionOutcome(decision, registry.set_alias(model, alias, candidate.version))

    from training.holdout import paired_noise, score_on_holdout

    data = Path(training_set) if training_set is not None else _recorded_set(candidate.training_set)
    if data is None:
        raise RegistryError(
            f"model {model!r} version {candidate.version} did not record its training set: "
            "pass --data PATH (a training-set Parquet file) or promote with --force"
        )
    challenger_eval, y, new = score_on_holdout(
        registry.local_artifact(model, candidate.version), data, fraction=holdout_fraction
    )
    champion_eval, _, old = score_on_holdout(
        registry.local_artifact(model, current.version), data, fraction=holdout_fraction
    )
    # the paired difference's noise, when the rule widens its bounds by it (both scored the same rows)
    noise = paired_noise(y, new, old) if rule is not None and rule.noise_z > 0 else None
    decision = decide(challenger_eval, champion_eval, rule, noise)
    change = registry.set_alias(model, alias, candidate.version) if decision.promote else None
    return PromotionOutcome(decision, change, challenger_eval, champion_eval, data)


def _recorded_set(path: str | None) -> Path | None:
    return Path(path) if path and Path(path).is_file() else None
