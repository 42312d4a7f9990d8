"""Late ground truth: which transactions get a label, from which source, and how late.

Delays are lognormal in event time with the configured means: legit transactions are confirmed
after about ``legit_label_delay_s``, fraud is charged back after about ``fraud_label_delay_s``. A
share of each comes from manual review instead. ``ts`` is never before the transaction's ``ts``.
"""

from __future__ import annotations

import math
from random import Random

from rtml.datagen.config import GeneratorConfig
from schemas.label import Label, LabelSource
from schemas.transaction import Transaction

FRAUD_REVIEW_SHARE = 0.2  # fraud caught by an analyst rather than by a chargeback
LEGIT_REVIEW_SHARE = 0.05  # legit cleared by an analyst rather than confirmed by the customer


def lognormal_mu(mean: float, sigma: float) -> float:
    """The log-scale location whose lognormal has the given ``mean``."""
    return math.log(mean) - 0.5 * sigma * sigma


class LabelPolicy:
    """Turns a transaction into its label (or None when it stays unlabelled)."""

    def __init__(self, config: GeneratorConfig, rng: Random) -> None:
        self.rng = rng
        self.fraction = config.label_fraction
        self.sigma = config.label_delay_sigma
        self.legit_mu = lognormal_mu(config.legit_label_delay_s, self.sigma)
        self.fraud_mu = lognormal_mu(config.fraud_label_delay_s, self.sigma)

    def label_for(self, tx: Transaction, is_fraud: bool) -> Label | None:
        rng = self.rng
        # Every draw happens for every transaction, so label settings never shift later labels.
        kept = rng.random() < self.fraction
        delay_s = rng.lognormvariate(self.fraud_mu if is_fraud else self.legit_mu, self.sigma)
        reviewed = rng.random() < (FRAUD_REVIEW_SHARE if is_fraud else LEGIT_REVIEW_SHARE)
        if not kept:
            return None
        source: LabelSource
        if is_fraud:
            source = "manual_review" if reviewed else "chargeback"
        else:
            source = "manual_review" if reviewed else "confirmed_legit"
        return Label(
            event_id=tx.event_id,
            label=1 if is_fraud else 0,
            ts=tx.ts + round(delay_s * 1000.0),
            customer_id=tx.customer_id,
            event_ts=tx.ts,
            source=source,
        )
