"""Statistics of a closed window against the reference profile: PSI, two-sample KS, standardized mean.

PSI uses ``training.profile.psi`` on the window's counts in the reference's bins, so the monitor and the
profile agree on bins and on the floor for empty ones. KS compares the window's sample with the profile's
``sample`` (up to 1000 sorted training values) with ``scipy.stats.ks_2samp``; its threshold is the critical
distance at ``alpha`` for the two sizes, so "statistic above threshold" means drift for both tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

from schemas.drift import Severity
from training.profile import Binned, psi


@dataclass(frozen=True)
class KsResult:
    statistic: float
    p_value: float
    critical: float  # the distance above which the test rejects at alpha


def window_psi(reference: Binned, counts: np.ndarray) -> float:
    """PSI of a window's bin ``counts`` against the reference proportions (0 for an empty window)."""
    total = counts.sum()
    if not total:
        return 0.0
    return psi(reference.proportions, counts / total)


def ks_critical(alpha: float, n: int, m: int) -> float:
    """The asymptotic two-sample KS distance that rejects at ``alpha`` for sizes ``n`` and ``m``."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def window_ks(reference: Binned, sample: np.ndarray, alpha: float) -> KsResult | None:
    """KS of a window's sample against the reference sample; None when either is empty."""
    if not len(sample) or not reference.sample:
        return None
    result = ks_2samp(sample, np.asarray(reference.sample), method="asymp")
    return KsResult(
        float(result.statistic), float(result.pvalue), ks_critical(alpha, len(sample), len(reference.sample))
    )


def standardized_mean(reference: Binned, mean: float, n: int) -> float | None:
    """(window mean - reference mean) / (reference std / sqrt(n)): about N(0, 1) while nothing drifts.

    None when it cannot be computed (no values, no reference moments, a constant reference).
    """
    if not n or math.isnan(mean) or reference.mean is None or not reference.std:
        return None
    return (mean - reference.mean) / (reference.std / math.sqrt(n))


def severity_for_psi(value: float, warning: float, critical: float) -> Severity:
    return "critical" if value > critical else "warning" if value > warning else "info"


def mid_ranks(sorted_sample: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's mid-rank in the reference's sorted sample, in [0, 1] (the reference CDF, ties split).

    While values come from the reference's distribution these are about uniform with mean 1/2, whatever the
    feature's shape (a lognormal amount, a count with atoms, a flag): one bounded signal for ADWIN.
    """
    below = np.searchsorted(sorted_sample, values, side="left")
    upto = np.searchsorted(sorted_sample, values, side="right")
    return (below + upto) / (2.0 * len(sorted_sample))
