from collections import Counter
from random import Random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtml.datagen.categories import CATEGORIES, CATEGORY_BY_NAME, RISKY_CATEGORIES
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.patterns import (
    BASELINE_MIX,
    DRIFT_MIX,
    AmountSpike,
    Burst,
    CardTesting,
    NewDeviceForeign,
    PatternMix,
    UnusualCategory,
)
from rtml.datagen.population import build_population, median_amount

START = 1_700_000_000_000


@pytest.fixture(scope="module")
def population():
    return build_population(GeneratorConfig(start_ts=START, seed=5, n_customers=200))


def incidents(pattern, population, n=300, factor=1.0, seed=0):
    rng = Random(seed)
    victims = [population.customers[rng.randrange(len(population.customers))] for _ in range(n)]
    return [(v, pattern.plan(rng, population, v, 100.0, factor)) for v in victims]


def merchant(population, draft):
    return population.merchants[draft.merchant]


def test_burst_is_several_rapid_online_purchases_at_risky_merchants_from_one_new_device(population):
    gaps = []
    for victim, drafts in incidents(Burst(), population):
        assert 3 <= len(drafts) <= 8
        assert {d.customer for d in drafts} == {victim.index}
        assert len({d.device_id for d in drafts}) == 1 and drafts[0].device_id not in victim.devices
        assert all(merchant(population, d).category in RISKY_CATEGORIES for d in drafts)
        assert all(d.channel == "online" and d.pattern == "burst" for d in drafts)
        assert drafts[0].t == 100.0
        gaps += [b.t - a.t for a, b in zip(drafts, drafts[1:], strict=False)]
    assert min(gaps) >= 0 and np.mean(gaps) == pytest.approx(4.0, rel=0.15)
    assert Burst().mean_size == 5.5


def test_unusual_category_is_among_the_victims_least_preferred(population):
    for victim, [d] in incidents(UnusualCategory(), population):
        category = merchant(population, d).category
        weight = victim.category_weights[[c.name for c in CATEGORIES].index(category)]
        non_cash = sorted(w for w, c in zip(victim.category_weights, CATEGORIES, strict=True) if not c.cash)
        assert weight <= non_cash[2]
        assert d.pattern == "unusual_category" and not CATEGORY_BY_NAME[category].cash


def test_amount_spike_is_5_to_20_times_the_median_on_a_known_device(population):
    ratios = []
    for victim, [d] in incidents(AmountSpike(), population):
        ratios.append(d.amount / median_amount(victim))
        assert d.device_id in victim.devices
    assert min(ratios) >= 5.0 - 1e-3 and max(ratios) <= 20.0 + 1e-3
    assert np.median(ratios) == pytest.approx(12.5, rel=0.15)


def test_amount_spike_scales_with_the_drift_factor(population):
    base = incidents(AmountSpike(), population, n=50, seed=3)
    drifted = incidents(AmountSpike(), population, n=50, factor=2.0, seed=3)
    for (_, [a]), (_, [b]) in zip(base, drifted, strict=True):
        assert b.amount == pytest.approx(2.0 * a.amount, abs=0.016)


def test_new_device_foreign_always_has_a_new_device_or_a_foreign_country(population):
    kinds = Counter()
    for victim, [d] in incidents(NewDeviceForeign(), population, n=1000):
        new = d.device_id not in victim.devices
        foreign = merchant(population, d).country != victim.home_country
        assert new or foreign
        kinds[(new, foreign)] += 1
    assert kinds[(True, True)] > 300 and kinds[(False, True)] > 150 and kinds[(True, False)] > 150


def test_new_device_foreign_in_a_one_country_world_uses_a_new_device():
    pop = build_population(GeneratorConfig(start_ts=START, n_customers=20, countries=("DE",)))
    for victim, [d] in incidents(NewDeviceForeign(), pop, n=200):
        assert d.device_id not in victim.devices


def test_card_testing_is_many_tiny_online_digital_goods_payments(population):
    for victim, drafts in incidents(CardTesting(), population, factor=1.8):
        assert 6 <= len(drafts) <= 15
        assert all(0.5 <= d.amount <= 2.0 for d in drafts)
        assert all(merchant(population, d).category == "digital_goods" for d in drafts)
        assert all(d.channel == "online" and d.device_id not in victim.devices for d in drafts)
        assert all(b.t >= a.t for a, b in zip(drafts, drafts[1:], strict=False))


def test_mixes():
    names = {p.name for p in BASELINE_MIX.patterns}
    assert names == {"burst", "unusual_category", "amount", "new_device_foreign"}
    assert {p.name for p in DRIFT_MIX.patterns} == names | {"card_testing"}
    rng = Random(1)
    picks = Counter(BASELINE_MIX.pick(rng).name for _ in range(20_000))
    assert picks["burst"] / 20_000 == pytest.approx(0.1, abs=0.01)
    assert picks["amount"] / 20_000 == pytest.approx(0.3, abs=0.015)


@given(st.floats(0.0, 1.0), st.sampled_from([BASELINE_MIX, DRIFT_MIX, PatternMix(((Burst(), 1.0),))]))
def test_incident_probability_gives_the_wanted_fraud_share_of_transactions(fraud_rate, mix):
    q = mix.incident_probability(fraud_rate)
    assert 0.0 <= q <= 1.0
    share = q * mix.mean_size / mix.transactions_per_arrival(fraud_rate)
    assert share == pytest.approx(fraud_rate, abs=1e-12)
