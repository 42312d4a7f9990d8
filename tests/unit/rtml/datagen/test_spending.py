import math
from collections import Counter
from random import Random

import numpy as np
import pytest

from rtml.datagen.categories import CATEGORY_BY_NAME
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.population import build_population
from rtml.datagen.spending import legit_draft, money

START = 1_700_000_000_000


@pytest.fixture(scope="module")
def population():
    return build_population(GeneratorConfig(start_ts=START, seed=2, n_customers=50))


def test_money_rounds_to_cents_and_stays_positive():
    assert money(12.345678) == 12.35
    assert money(0.0001) == 0.01


def test_legit_spending_of_one_customer(population):
    customer = max(population.customers, key=lambda c: max(c.category_weights))
    rng = Random(0)
    drafts = [legit_draft(rng, population, customer, 1.0) for _ in range(5000)]
    assert all(d.pattern is None and not d.is_fraud and d.customer == customer.index for d in drafts)
    assert {d.device_id for d in drafts} <= set(customer.devices)
    merchants = [population.merchants[d.merchant] for d in drafts]
    # categories follow the customer's tastes
    favourite = Counter(m.category for m in merchants).most_common(1)[0][0]
    weights = dict(zip([c for c in CATEGORY_BY_NAME], customer.category_weights, strict=True))
    assert favourite == max(weights, key=weights.get)
    # in-person purchases stay at home when a home merchant of that category exists
    for d, m in zip(drafts, merchants, strict=True):
        if d.channel != "online" and population.by_category_country.get((m.category, customer.home_country)):
            assert m.country == customer.home_country
        category = CATEGORY_BY_NAME[m.category]
        if category.cash:
            assert d.channel == "atm"
        elif category.online_share in (0.0, 1.0):
            assert d.channel == ("online" if category.online_share else "pos")
        else:
            assert d.channel in ("pos", "online")
    # log-amounts, corrected for the category, are normal around mu with sd sigma
    z = np.array(
        [
            (math.log(d.amount / CATEGORY_BY_NAME[m.category].amount_multiplier) - customer.mu) / customer.sigma
            for d, m in zip(drafts, merchants, strict=True)
        ]
    )
    assert abs(z.mean()) < 0.05 and z.std() == pytest.approx(1.0, abs=0.05)
    assert np.mean(np.abs(z) < 1) == pytest.approx(0.683, abs=0.02)


def test_amount_factor_scales_amounts(population):
    customer = population.customers[0]
    for seed in range(20):
        plain = legit_draft(Random(seed), population, customer, 0.0)
        drifted = legit_draft(Random(seed), population, customer, 0.0, amount_factor=1.8)
        assert drifted.merchant == plain.merchant
        assert drifted.amount == pytest.approx(1.8 * plain.amount, abs=0.015)
