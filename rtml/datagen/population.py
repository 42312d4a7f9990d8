"""Who pays and where: customer profiles and merchants, drawn once from the seed.

A customer spends lognormally around a personal ``mu``/``sigma`` (scaled by each category's
multiplier), prefers a few categories (Dirichlet weights around category popularity), uses one or two
known devices and lives in a home country. Activity is heavy-tailed (Pareto), so a few customers make
many of the transactions. Merchants have one category and one country, and every category has at
least one merchant.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

import numpy as np

from rtml.datagen.categories import CATEGORIES
from rtml.datagen.config import GeneratorConfig, population_seed

# segment -> (share of customers, median base ticket before the category multiplier)
SEGMENTS: dict[str, tuple[float, float]] = {
    "student": (0.15, 12.0),
    "standard": (0.60, 25.0),
    "premium": (0.18, 55.0),
    "business": (0.07, 90.0),
}
_TASTE_CONCENTRATION = 4.0  # Dirichlet alpha = concentration x popularity: lower = pickier customers
_ACTIVITY_PARETO_SHAPE = 1.5
_ACTIVITY_CAP = 200.0
_POPULATION_STREAM = 0x504F50  # keeps the population's random stream apart from the event stream's


@dataclass(frozen=True, slots=True)
class Customer:
    """One card holder. ``category_weights`` follow ``CATEGORIES`` order; ``category_cum`` is their
    running sum, ready for ``random.choices(cum_weights=...)``."""

    index: int
    customer_id: str
    segment: str
    home_country: str
    mu: float
    sigma: float
    category_weights: tuple[float, ...]
    category_cum: tuple[float, ...]
    devices: tuple[str, ...]
    activity: float


@dataclass(frozen=True, slots=True)
class Merchant:
    index: int
    merchant_id: str
    category: str
    country: str


@dataclass(frozen=True, slots=True)
class Population:
    customers: tuple[Customer, ...]
    merchants: tuple[Merchant, ...]
    activity_cum: tuple[float, ...]
    by_category: dict[str, tuple[int, ...]]
    by_category_country: dict[tuple[str, str], tuple[int, ...]]
    countries: tuple[str, ...]

    def merchants_in(self, category: str, country: str | None = None) -> tuple[int, ...]:
        """Merchant indices of ``category``, in ``country`` when given and there are any there."""
        if country is not None:
            local = self.by_category_country.get((category, country))
            if local:
                return local
        return self.by_category[category]


@lru_cache(maxsize=4096)
def median_amount(customer: Customer) -> float:
    """The median of the customer's legit amounts before drift: their tickets are a mixture, over
    categories, of lognormals ``(mu + log multiplier, sigma)``; solved by bisection on the log scale."""
    shifts = [
        (w, customer.mu + math.log(c.amount_multiplier))
        for w, c in zip(customer.category_weights, CATEGORIES, strict=True)
    ]
    scale = customer.sigma * math.sqrt(2.0)
    lo = min(m for _, m in shifts) - 6 * customer.sigma
    hi = max(m for _, m in shifts) + 6 * customer.sigma
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = sum(w * 0.5 * (1.0 + math.erf((mid - m) / scale)) for w, m in shifts)
        lo, hi = (mid, hi) if below < 0.5 else (lo, mid)
    return math.exp(0.5 * (lo + hi))


def country_weights(countries: tuple[str, ...]) -> np.ndarray:
    """Zipf-like shares: the first country is the most common."""
    raw = 1.0 / np.arange(1, len(countries) + 1)
    return raw / raw.sum()


def build_population(config: GeneratorConfig) -> Population:
    rng = np.random.default_rng([population_seed(config), _POPULATION_STREAM])
    countries = config.countries
    shares = country_weights(countries)
    customers = tuple(_customers(rng, config.n_customers, countries, shares))
    merchants = tuple(_merchants(rng, config.n_merchants, countries, shares))
    by_category: dict[str, list[int]] = {c.name: [] for c in CATEGORIES}
    by_category_country: dict[tuple[str, str], list[int]] = {}
    for m in merchants:
        by_category[m.category].append(m.index)
        by_category_country.setdefault((m.category, m.country), []).append(m.index)
    return Population(
        customers=customers,
        merchants=merchants,
        activity_cum=tuple(accumulate(c.activity for c in customers)),
        by_category={k: tuple(v) for k, v in by_category.items()},
        by_category_country={k: tuple(v) for k, v in by_category_country.items()},
        countries=countries,
    )


def _customers(rng: np.random.Generator, n: int, countries: tuple[str, ...], shares: np.ndarray) -> Iterator[Customer]:
    names = list(SEGMENTS)
    segment_p = np.array([SEGMENTS[s][0] for s in names])
    popularity = np.array([c.popularity for c in CATEGORIES])
    segments = rng.choice(len(names), size=n, p=segment_p / segment_p.sum())
    homes = rng.choice(len(countries), size=n, p=shares)
    mu_noise = rng.normal(0.0, 0.3, size=n)
    sigmas = rng.uniform(0.35, 0.8, size=n)
    tastes = rng.dirichlet(_TASTE_CONCENTRATION * popularity / popularity.sum(), size=n)
    n_devices = 1 + (rng.random(size=n) < 0.4)
    activity = np.minimum(rng.pareto(_ACTIVITY_PARETO_SHAPE, size=n) + 1.0, _ACTIVITY_CAP)
    for i in range(n):
        segment = names[segments[i]]
        weights = tuple(float(w) for w in tastes[i])
        yield Customer(
            index=i,
            customer_id=f"cust-{i:06d}",
            segment=segment,
            home_country=countries[homes[i]],
            mu=math.log(SEGMENTS[segment][1]) + float(mu_noise[i]),
            sigma=float(sigmas[i]),
            category_weights=weights,
            category_cum=tuple(accumulate(weights)),
            devices=tuple(f"dev-{i:06d}-{j}" for j in range(int(n_devices[i]))),
            activity=float(activity[i]),
        )


def _merchants(rng: np.random.Generator, n: int, countries: tuple[str, ...], shares: np.ndarray) -> Iterator[Merchant]:
    popularity = np.array([c.popularity for c in CATEGORIES])
    # One merchant per category first, so every category can be bought from; the rest by popularity.
    extra = rng.choice(len(CATEGORIES), size=n - len(CATEGORIES), p=popularity / popularity.sum())
    kinds = [*range(len(CATEGORIES)), *(int(k) for k in extra)]
    where = rng.choice(len(countries), size=n, p=shares)
    for j, (kind, country) in enumerate(zip(kinds, where, strict=True)):
        yield Merchant(j, f"merch-{j:05d}", CATEGORIES[kind].name, countries[country])
