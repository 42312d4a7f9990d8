"""Reference profiles: binning, PSI, and the JSON round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.profile import SCORE_CUTS, Binned, ReferenceProfile, build_profile, histogram, psi, quantile_cuts

INF = math.inf


def test_bins_are_right_closed_with_open_outer_bins() -> None:
    props = histogram([-5.0, 0.0, 0.5, 1.0, 1.5, 9.0], [-INF, 0.0, 1.0, INF])
    assert props.tolist() == pytest.approx([2 / 6, 2 / 6, 2 / 6])  # (-inf,0] (0,1] (1,inf)


def test_histogram_ignores_nan_and_is_all_zero_without_values() -> None:
    assert histogram([1.0, math.nan, 3.0], [-INF, 2.0, INF]).tolist() == [0.5, 0.5]
    assert histogram([math.nan], [-INF, 2.0, INF]).tolist() == [0.0, 0.0]


def test_histogram_rejects_unsorted_edges() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        histogram([1.0], [0.0, 0.0, 1.0])


def test_psi_of_identical_distributions_is_zero() -> None:
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_matches_a_hand_computed_value() -> None:
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5) = 0.25 ln 2 + 0.25 ln 1.5
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))


def test_psi_is_symmetric_and_grows_with_the_shift() -> None:
    a, b, c = [0.5, 0.3, 0.2], [0.4, 0.3, 0.3], [0.1, 0.3, 0.6]
    assert psi(a, b) == pytest.approx(psi(b, a))
    assert 0 < psi(a, b) < psi(a, c)


def test_psi_floors_empty_bins_at_eps() -> None:
    value = psi([1.0, 0.0], [0.0, 1.0], eps=1e-4)
    assert math.isfinite(value) and value == pytest.approx(2 * (1 - 1e-4) * math.log(1e4))


def test_psi_refuses_nan_and_mismatched_bins() -> None:
    with pytest.raises(ValueError, match="NaN"):
        psi([0.5, math.nan], [0.5, 0.5])
    with pytest.raises(ValueError, match="one length"):
        psi([1.0], [0.5, 0.5])


def test_quantile_cuts_collapse_for_discrete_values() -> None:
    assert quantile_cuts(np.array([0.0] * 90 + [1.0] * 10)) == pytest.approx([0.0, 0.1])
    assert len(quantile_cuts(np.arange(1000, dtype=float))) == 9
    assert quantile_cuts(np.array([math.nan])) == []


def test_a_flag_feature_keeps_its_two_values_apart() -> None:
    flags = np.array([0.0] * 90 + [1.0] * 10)
    profile = build_profile(flags[:, None], np.full(100, 0.5), ["is_foreign"])
    feature = profile.feature("is_foreign")
    assert feature.proportions[0] == pytest.approx(0.9)
    assert feature.psi(flags) == pytest.approx(0.0)
    assert feature.psi(np.array([0.0] * 50 + [1.0] * 50)) > 0.25


def test_profile_records_missing_share_mean_and_std() -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(10.0, 2.0, size=(1000, 2))
    X[:100, 1] = np.nan
    profile = build_profile(X, rng.uniform(size=1000), ["a", "b"])
    a, b = profile.features
    assert (a.name, b.name) == ("a", "b")
    assert len(a.cuts) == 9 and sum(a.proportions) == pytest.approx(1.0)
    assert a.proportions == pytest.approx([0.1] * 10, abs=0.002)
    assert b.missing_share == pytest.approx(0.1) and a.missing_share == 0.0
    assert a.mean == pytest.approx(10.0, abs=0.2) and a.std == pytest.approx(2.0, abs=0.2)
    assert profile.score.cuts == list(SCORE_CUTS) and profile.rows == 1000


def test_drifted_values_score_above_the_usual_alert_level() -> None:
    rng = np.random.default_rng(1)
    profile = build_profile(rng.normal(0, 1, (5000, 1)), rng.uniform(size=5000), ["x"])
    assert profile.feature("x").psi(rng.normal(0, 1, 5000)) < 0.02
    assert profile.feature("x").psi(rng.normal(1, 1, 5000)) > 0.2


def test_json_round_trip() -> None:
    X = np.array([[1.0, math.nan], [2.0, 5.0], [3.0, 6.0]])
    profile = build_profile(X, np.array([0.1, 0.5, 0.95]), ["a", "b"])
    again = ReferenceProfile.from_json(profile.to_json())
    assert again == profile
    assert again.feature("b").edges[0] == -INF and again.feature("b").edges[-1] == INF


def test_from_json_names_the_broken_rule() -> None:
    bad = b'{"feature_names":[],"features":[],"score":{"cuts":[0.5],"proportions":[1.0]},"rows":0}'
    with pytest.raises(ValueError, match="proportions"):
        ReferenceProfile.from_json(bad)


def test_binned_checks_its_shape() -> None:
    with pytest.raises(ValueError, match="increase"):
        Binned(cuts=[1.0, 1.0], proportions=[0.3, 0.3, 0.4])


def test_the_profile_keeps_a_sorted_sample_of_finite_training_values_for_ks() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 5000)
    x[:100] = np.nan
    profile = build_profile(x[:, None], rng.uniform(size=5000), ["x"])
    sample = profile.features[0].sample
    assert len(sample) == 1000
    assert sample == sorted(sample)
    assert all(np.isfinite(sample))
    assert set(sample) <= set(x[100:].tolist())
    assert len(build_profile(x[:50, None], rng.uniform(size=50), ["x"]).features[0].sample) == 0
    assert ReferenceProfile.from_json(profile.to_json()) == profile
