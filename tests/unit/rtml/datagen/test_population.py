import math
from collections import Counter

import numpy as np
import pytest

from rtml.datagen.categories import CATEGORIES
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.population import Customer, build_population, country_weights, median_amount

START = 1_700_000_000_000


@pytest.fixture(scope="module")
def population():
    return build_population(GeneratorConfig(start_ts=START, seed=11))


def test_same_seed_same_population_other_seed_differs(population):
    assert build_population(GeneratorConfig(start_ts=START, seed=11)) == population
    other = build_population(GeneratorConfig(start_ts=START, seed=12))
    assert other.customers != population.customers
    assert other.merchants != population.merchants


def test_sizes_ids_and_countries(population):
    assert len(population.customers) == 1000 and len(population.merchants) == 200
    assert len({c.customer_id for c in population.customers}) == 1000
    assert len({m.merchant_id for m in population.merchants}) == 200
    countries = set(GeneratorConfig(start_ts=START).countries)
    assert {c.home_country for c in population.customers} <= countries
    assert {m.country for m in population.merchants} <= countries
    homes = Counter(c.home_country for c in population.customers)
    assert homes.most_common(1)[0][0] == "DE"  # the first country is the most common


def test_every_category_has_a_merchant_even_with_the_minimum_count():
    pop = build_population(GeneratorConfig(start_ts=START, n_merchants=len(CATEGORIES), countries=("DE", "FR")))
    assert {m.category for m in pop.merchants} == {c.name for c in CATEGORIES}
    for c in CATEGORIES:
        assert pop.merchants_in(c.name)
        assert all(pop.merchants[i].category == c.name for i in pop.merchants_in(c.name, "FR"))


def test_customer_profiles(population):
    for c in population.customers:
        assert 1 <= len(c.devices) <= 2 and len(set(c.devices)) == len(c.devices)
        assert math.isclose(sum(c.category_weights), 1.0, rel_tol=1e-9)
        assert math.isclose(c.category_cum[-1], 1.0, rel_tol=1e-9)
        assert 0.35 <= c.sigma <= 0.8
        assert c.activity >= 1.0
    assert {c.segment for c in population.customers} == {"student", "standard", "premium", "business"}
    premium = [c.mu for c in population.customers if c.segment == "premium"]
    student = [c.mu for c in population.customers if c.segment == "student"]
    assert np.mean(premium) > np.mean(student) + 1.0


def test_tastes_are_concentrated(population):
    # Dirichlet around popularity with low concentration: each customer leans on a few categories.
    top3 = [sum(sorted(c.category_weights)[-3:]) for c in population.customers]
    assert np.median(top3) > 0.7


def test_activity_is_heavy_tailed(population):
    activity = np.sort([c.activity for c in population.customers])[::-1]
    top_5_percent = activity[: len(activity) // 20].sum() / activity.sum()
    assert top_5_percent > 0.2  # a few customers are very active
    assert population.activity_cum[-1] == pytest.approx(activity.sum())


def test_median_amount_of_a_single_category_customer_is_exact():
    weights = tuple(1.0 if c.name == "electronics" else 0.0 for c in CATEGORIES)
    c = Customer(0, "c", "standard", "DE", math.log(30.0), 0.5, weights, weights, ("d",), 1.0)
    assert median_amount(c) == pytest.approx(30.0 * 5.0, rel=1e-9)


def test_median_amount_matches_a_monte_carlo_median(population):
    rng = np.random.default_rng(0)
    mult = np.array([c.amount_multiplier for c in CATEGORIES])
    for c in population.customers[:20]:
        cats = rng.choice(len(CATEGORIES), size=40_000, p=np.array(c.category_weights) / sum(c.category_weights))
        sample = np.exp(rng.normal(c.mu, c.sigma, size=40_000)) * mult[cats]
        assert median_amount(c) == pytest.approx(np.median(sample), rel=0.03)


def test_country_weights_decrease_and_sum_to_one():
    w = country_weights(("DE", "FR", "NL"))
    assert w.sum() == pytest.approx(1.0)
    assert list(w) == sorted(w, reverse=True)
