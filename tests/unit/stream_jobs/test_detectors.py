from __future__ import annotations

import pickle

import numpy as np
import pytest

from stream_jobs.drift.config import MonitorConfig
from stream_jobs.drift.detectors import KsDetector, PsiDetector, RiverDetector, StreamingDetector, build_detectors
from stream_jobs.drift.statistics import mid_ranks
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


def stream(n: int, amount_factor: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = feature_matrix(n, np.random.default_rng(seed), amount_factor=amount_factor)
    return np.arange(n), X, scores_of(X)


def test_kswin_watches_the_score_only_every_kth_value() -> None:
    detector = StreamingDetector("kswin", REFERENCE, MonitorConfig(kswin_every=3))
    assert [(kind, column) for kind, column, _, _ in detector.columns] == [("prediction", None)]
    ts, X, scores = stream(500)
    detector.observe(ts[:250], X[:250], scores[:250])
    detector.observe(ts[250:], X[250:], scores[250:])
    assert detector.updates == [167]  # every 3rd of 500, counted across the two batches
    (finding,) = detector.update(windows(1)[0])
    assert (finding.kind, finding.feature, finding.drifted) == ("prediction", None, False)


def test_mid_ranks_are_the_reference_cdf_with_ties_split() -> None:
    sample = np.array([0.0, 0.0, 1.0, 1.0])
    assert mid_ranks(sample, np.array([-1.0, 0.0, 0.5, 1.0, 9.0])).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_streaming_adwin_fires_on_the_shifted_column_within_tens_of_values_and_reports_it_at_window_close() -> None:
    detector = StreamingDetector("adwin", REFERENCE, MonitorConfig())
    ts, X, scores = stream(3000)
    assert detector.observe(ts, X, scores) == []
    ts2, X2, scores2 = stream(1000, amount_factor=3.0, seed=1)
    hits = detector.observe(ts2 + 3000, X2, scores2)
    fired = {f.feature: at for at, f in hits}
    assert "amount" in fired and fired["amount"] - 3000 < 100
    assert "hour" not in fired and "is_online" not in fired
    assert all(f.drifted and f.evidence["estimation"] > 0.5 for _, f in hits if f.feature == "amount")
    closed = {f.feature: f.drifted for f in detector.update(windows(1)[0])}
    assert closed["amount"] and not closed["hour"]
    assert not any(f.drifted for f in detector.update(windows(1)[0]))  # quiet since: re-arms the debouncer


def test_streaming_detectors_pickle_and_continue_identically() -> None:
    a = StreamingDetector("adwin", REFERENCE, MonitorConfig())
    ts, X, scores = stream(4000, seed=4)
    a.observe(ts[:2000], X[:2000], scores[:2000])
    b = pickle.loads(pickle.dumps(a))
    X[2500:, 0] *= 3
    assert a.observe(ts[2000:], X[2000:], scores[2000:]) == b.observe(ts[2000:], X[2000:], scores[2000:]) != []
