"""Reference profile of a model version: histograms of its training features and scores, and PSI.

Bins are right-closed, ``(e[i], e[i+1]]``, and the outer bins are open-ended: a value at or below the first
cut falls in bin 0, a value above the last cut in the last bin. Feature cuts are quantiles of the training
values (10 bins by default, fewer when quantiles coincide, as for counts or flags); score cuts are fixed
tenths of [0, 1]. Proportions are over non-missing values; the missing share (NaN, +-inf) is kept apart.
The drift monitor bins live values with the same cuts (``histogram``) and compares them with ``psi``.
Each histogram also keeps ``sample``: up to ``SAMPLE_SIZE`` finite training values drawn uniformly
(seeded), sorted, which the monitor's two-sample KS test compares live windows with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

DEFAULT_BINS = 10
SCORE_CUTS = tuple(round(i / 10, 1) for i in range(1, 10))
PSI_EPS = 1e-4
SAMPLE_SIZE = 1000


def histogram(values: np.ndarray | Sequence[float], edges: np.ndarray | Sequence[float]) -> np.ndarray:
    """Proportions of the non-NaN ``values`` in the bins of ``edges`` (outer edges open); zeros if none."""
    v = np.asarray(values, dtype=np.float64).ravel()
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges must be at least two strictly increasing numbers, got {e.tolist()}")
    v = v[~np.isnan(v)]
    counts = np.bincount(np.searchsorted(e[1:-1], v, side="left"), minlength=len(e) - 1).astype(np.float64)
    return counts / len(v) if len(v) else counts


def psi(
    expected_props: np.ndarray | Sequence[float], actual_props: np.ndarray | Sequence[float], eps: float = PSI_EPS
) -> float:
    """Population stability index, sum((a - e) * ln(a / e)); proportions are floored at ``eps`` first."""
    e = np.asarray(expected_props, dtype=np.float64)
    a = np.asarray(actual_props, dtype=np.float64)
    if e.shape != a.shape or e.ndim != 1:
        raise ValueError(f"proportions must be two 1-d arrays of one length, got shapes {e.shape} and {a.shape}")
    if np.isnan(e).any() or np.isnan(a).any():
        raise ValueError("proportions must not be NaN")
    e = np.maximum(e, eps)
    a = np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def quantile_cuts(values: np.ndarray, bins: int = DEFAULT_BINS) -> list[float]:
    """Inner edges at the 1/bins ... (bins-1)/bins quantiles of the finite values, duplicates dropped."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return []
    cuts = np.unique(np.quantile(finite, np.arange(1, bins) / bins))
    return [float(c) for c in cuts]


class Binned(msgspec.Struct, frozen=True):
    """Proportions over the bins cut at ``cuts`` (inner edges; the outer ones are -inf and +inf)."""

    cuts: list[float]
    proportions: list[float]
    missing_share: float = 0.0
    mean: float | None = None
    std: float | None = None
    count: int = 0
    sample: list[float] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.proportions) != len(self.cuts) + 1:
            raise ValueError(
                f"{len(self.cuts)} cuts need {len(self.cuts) + 1} proportions, got {len(self.proportions)}"
            )
        if any(b <= a for a, b in zip(self.cuts, self.cuts[1:], strict=False)):
            raise ValueError(f"cuts must increase strictly, got {self.cuts}")

    @property
    def edges(self) -> np.ndarray:
        return np.array([-math.inf, *self.cuts, math.inf])

    def psi(self, values: np.ndarray | Sequence[float], eps: float = PSI_EPS) -> float:
        """PSI of live ``values`` binned with these cuts against these proportions."""
        return psi(self.proportions, histogram(values, self.edges), eps)


class FeatureProfile(Binned, frozen=True):
    name: str = ""


class ReferenceProfile(msgspec.Struct, frozen=True):
    """Per-feature histograms (in model input order) and the score histogram of one model version."""

    feature_names: list[str]
    features: list[FeatureProfile]
    score: Binned
    rows: int
    format: int = 1

    def feature(self, name: str) -> FeatureProfile:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"no feature {name!r} in the profile; it has {self.feature_names}")

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> ReferenceProfile:
        try:
            return msgspec.json.decode(data, type=cls)
        except msgspec.ValidationError as exc:
            raise ValueError(f"not a reference profile: {exc}") from None


def reference_sample(values: np.ndarray, size: int = SAMPLE_SIZE, seed: int = 0) -> list[float]:
    """Up to ``size`` of the finite ``values``, drawn without replacement (seeded) and sorted."""
    finite = values[np.isfinite(values)]
    if len(finite) > size:
        finite = np.random.default_rng(seed).choice(finite, size=size, replace=False)
    return [float(v) for v in np.sort(finite)]


def _binned(values: np.ndarray, cuts: Sequence[float], **extra: object) -> dict[str, object]:
    finite = values[np.isfinite(values)]
    return {
        "cuts": list(cuts),
        "proportions": [float(p) for p in histogram(finite, [-math.inf, *cuts, math.inf])],
        "missing_share": float(1 - len(finite) / len(values)) if len(values) else 0.0,
        "mean": float(finite.mean()) if len(finite) else None,
        "std": float(finite.std()) if len(finite) else None,
        "count": len(values),
        "sample": reference_sample(finite),
        **extra,
    }


def build_profile(
    X: np.ndarray, scores: np.ndarray, feature_names: Sequence[str], bins: int = DEFAULT_BINS
) -> ReferenceProfile:
    """The profile of training features ``X`` [N, F] (columns in ``feature_names`` order) and ``scores`` [N]."""
    X = np.asarray(X, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if X.ndim != 2 or X.shape[1] != len(feature_names) or len(scores) != X.shape[0]:
        raise ValueError(f"X {X.shape} and scores {scores.shape} do not fit {len(feature_names)} feature names")
    features = [
        FeatureProfile(**_binned(X[:, j], quantile_cuts(X[:, j], bins), name=name))  # type: ignore[arg-type]
        for j, name in enumerate(feature_names)
    ]
    return ReferenceProfile(
        feature_names=list(feature_names),
        features=features,
        score=Binned(**_binned(scores, SCORE_CUTS)),  # type: ignore[arg-type]
        rows=X.shape[0],
    )
