from __future__ import annotations

import pickle

import numpy as np
import pytest

from stream_jobs.drift.config import MonitorConfig
from stream_jobs.drift.detectors import KsDetector, PsiDetector, RiverDetector, build_detectors
from stream_jobs.drift.windows import WindowAccumulator
from tests.support.drift_stream import feature_matrix, reference_profile, scores_of

REFERENCE = reference_profile(rows=5000)


def windows(n_windows: int, amount_factor: float = 1.0, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    acc = WindowAccumulator(REFERENCE, size=500, max_ms=10**9)
    X = feature_matrix(500 * n_windows, rng, amount_factor=amount_factor)
    return acc.add(np.arange(len(X)), X, scores_of(X))


def test_build_detectors_in_config_order_and_rejects_unknown_types() -> None:
    assert [d.name for d in build_detectors(REFERENCE, MonitorConfig())] == [
        "psi",
        "ks",
        "adwin",
        "page_hinkley",
        "kswin",
    ]
    with pytest.raises(ValueError, match="unknown drift detectors"):
        MonitorConfig(detectors=("psi", "cusum"))


def test_window_tests_report_every_column_and_flag_the_shifted_one() -> None:
    (quiet,) = windows(1)
    (shifted,) = windows(1, amount_factor=1.8, seed=1)
    for detector in (PsiDetector(REFERENCE, MonitorConfig()), KsDetector(REFERENCE, MonitorConfig())):
        assert len(detector.update(quiet)) == 6 and not any(f.drifted for f in detector.update(quiet))
        drifted = {f.feature for f in detector.update(shifted) if f.drifted}
        assert "amount" in drifted and "hour" not in drifted


def test_river_detectors_pickle_and_continue_identically() -> None:
    stream = windows(30) + windows(10, amount_factor=1.8, seed=3)
    a = RiverDetector("page_hinkley", REFERENCE, MonitorConfig())
    for w in stream[:20]:
        a.update(w)
    b = pickle.loads(pickle.dumps(a))
    for w in stream[20:]:
        assert a.update(w) == b.update(w)


def test_kswin_watches_the_score_only() -> None:
    findings = RiverDetector("kswin", REFERENCE, MonitorConfig()).update(windows(1)[0])
    assert [(f.kind, f.feature) for f in findings] == [("prediction", None)]
    assert findings[0].evidence["updates"] == 50.0
