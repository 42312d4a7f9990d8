"""Fraud patterns: each plans one incident (one or more transactions) on a victim's card.

Before drift the mix holds ``burst``, ``unusual_category``, ``amount`` and ``new_device_foreign``;
after drift (with ``drift_new_pattern``) ``card_testing`` joins it. ``PatternMix`` turns the wanted
fraud share of *transactions* into a per-arrival incident probability, since some incidents emit
several transactions.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from random import Random
from typing import Protocol

from rtml.datagen.categories import CATEGORIES, CATEGORY_BY_NAME, RISKY_CATEGORIES
from rtml.datagen.population import Customer, Population, median_amount
from rtml.datagen.spending import Draft, money, pick, taste, usual_merchant

UNUSUAL_CANDIDATES = 3  # "unusual" = one of the customer's three least preferred categories


class FraudPattern(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def mean_size(self) -> float:
        """Expected number of transactions per incident."""
        ...

    def plan(self, rng: Random, population: Population, victim: Customer, t: float, factor: float) -> list[Draft]:
        """The incident's drafts, the first at ``t``, the rest later; ``factor`` scales amounts."""
        ...


def new_device(rng: Random) -> str:
    return f"dev-new-{rng.getrandbits(40):010x}"


def foreign_merchant(rng: Random, population: Population, victim: Customer, category: str) -> int | None:
    """A merchant of ``category`` outside the victim's home country, or None if there is none."""
    abroad = [c for c in population.countries if c != victim.home_country]
    rng.shuffle(abroad)
    for country in abroad:
        local = population.by_category_country.get((category, country))
        if local:
            return pick(rng, local)
    return None


@dataclass(frozen=True, slots=True)
class Burst:
    """A compromised card makes several rapid purchases (seconds apart) at risky merchants."""

    name: str = "burst"
    min_size: int = 3
    max_size: int = 8
    mean_gap_s: float = 4.0

    @property
    def mean_size(self) -> float:
        return (self.min_size + self.max_size) / 2

    def plan(self, rng: Random, population: Population, victim: Customer, t: float, factor: float) -> list[Draft]:
        device = new_device(rng)
        abroad = rng.random() < 0.5
        drafts = []
        for _ in range(rng.randint(self.min_size, self.max_size)):
            category = CATEGORY_BY_NAME[pick(rng, RISKY_CATEGORIES)]
            merchant = foreign_merchant(rng, population, victim, category.name) if abroad else None
            if merchant is None:
                merchant = pick(rng, population.merchants_in(category.name))
            amount = median_amount(victim) * category.amount_multiplier * rng.uniform(1.0, 3.0) * factor
            drafts.append(Draft(t, victim.index, merchant, money(amount), device, "online", self.name))
            t += rng.expovariate(1.0 / self.mean_gap_s)
        return drafts


@dataclass(frozen=True, slots=True)
class UnusualCategory:
    """One purchase in a category the victim hardly ever buys from."""

    name: str = "unusual_category"
    mean_size: float = 1.0

    def plan(self, rng: Random, population: Population, victim: Customer, t: float, factor: float) -> list[Draft]:
        ranked = sorted((w, i) for i, w in enumerate(victim.category_weights) if not CATEGORIES[i].cash)
        spec = CATEGORIES[pick(rng, tuple(i for _, i in ranked[:UNUSUAL_CANDIDATES]))]
        channel = spec.channel(rng.random())
        merchant = usual_merchant(rng, population, victim, spec, channel)
        amount = math.exp(rng.gauss(victim.mu, victim.sigma)) * spec.amount_multiplier * rng.uniform(1.0, 3.0)
        device = new_device(rng) if rng.random() < 0.3 else victim.devices[0]
        return [Draft(t, victim.index, merchant, money(amount * factor), device, channel, self.name)]


@dataclass(frozen=True, slots=True)
class AmountSpike:
    """One purchase of 5-20x the victim's median amount, otherwise ordinary (known device, home)."""

    name: str = "amount"
    mean_size: float = 1.0
    low: float = 5.0
    high: float = 20.0

    def plan(self, rng: Random, population: Population, victim: Customer, t: float, factor: float) -> list[Draft]:
        category = taste(rng, victim)
        channel = category.channel(rng.random())
        merchant = usual_merchant(rng, population, victim, category, channel)
        amount = median_amount(victim) * rng.uniform(self.low, self.high) * factor
        return [Draft(t, victim.index, merchant, money(amount), victim.devices[0], channel, self.name)]


@dataclass(frozen=True, slots=True)
class NewDeviceForeign:
    """One purchase from an unknown device, abroad, or both."""

    name: str = "new_device_foreign"
    mean_size: float = 1.0

    def plan(self, rng: Random, population: Population, victim: Customer, t: float, factor: float) -> list[Draft]:
        category = taste(rng, victim)
        channel = category.channel(rng.random())
        u = rng.random()  # < 0.5: new device abroad; < 0.75: known device abroad; else new device at home
        merchant = foreign_merchant(rng, population, victim, category.name) if u < 0.75 else None
        unknown_device = u < 0.5 or merchant is None
        if merchant is None:
            merchant = usual_merchant(rng, population, victim, category, channel)
        device = new_device(rng) if unknown_device else victim.devices[0]
        amount = math.exp(rng.gauss(victim.mu, victim.sigma)) * category.amount_multiplier * rng.uniform(1.0, 2.5)
        return [Draft(t, victim.index, merchant, money(amount * factor), device, channel, self.name)]


@dataclass(frozen=True, slots=True)
class CardTesting:
    """After drift: a stolen card is probed with many tiny online payments at digital-goods merchants."""

    name: str = "card_testing"
    min_size: int = 6
    max_size: int = 15
    mean_gap_s: float = 1.5

    @property
    def mean_size(self) -> float:
        return (self.min_size + self.max_size) / 2

    def plan(self, rng: Random, population: Population, victim: Customer, t: float, factor: float) -> list[Draft]:
        device = new_device(rng)
        merchants = population.merchants_in("digital_goods")
        drafts = []
        for _ in range(rng.randint(self.min_size, self.max_size)):
            amount = money(rng.uniform(0.5, 2.0))  # probes do not follow price levels: no drift factor
            drafts.append(Draft(t, victim.index, pick(rng, merchants), amount, device, "online", self.name))
            t += rng.expovariate(1.0 / self.mean_gap_s)
        return drafts


class PatternMix:
    """Weighted patterns; ``incident_probability`` makes fraud transactions ``fraud_rate`` of all."""

    def __init__(self, weighted: tuple[tuple[FraudPattern, float], ...]) -> None:
        self.patterns = tuple(p for p, _ in weighted)
        weights = [w for _, w in weighted]
        total = sum(weights)
        self.cum_weights = tuple(accumulate(w / total for w in weights))
        self.mean_size = sum(p.mean_size * w / total for p, w in weighted)

    def pick(self, rng: Random) -> FraudPattern:
        index = bisect_right(self.cum_weights, rng.random() * self.cum_weights[-1])
        return self.patterns[min(index, len(self.patterns) - 1)]

    def incident_probability(self, fraud_rate: float) -> float:
        # Per arrival: q incidents of mean size s give q*s fraud among 1 + q*(s - 1) transactions.
        return fraud_rate / (self.mean_size * (1.0 - fraud_rate) + fraud_rate)

    def transactions_per_arrival(self, fraud_rate: float) -> float:
        return 1.0 + self.incident_probability(fraud_rate) * (self.mean_size - 1.0)


BASELINE_MIX = PatternMix(((Burst(), 0.1), (UnusualCategory(), 0.3), (AmountSpike(), 0.3), (NewDeviceForeign(), 0.3)))
DRIFT_MIX = PatternMix(
    (
        (Burst(), 0.1),
        (UnusualCategory(), 0.25),
        (AmountSpike(), 0.25),
        (NewDeviceForeign(), 0.25),
        (CardTesting(), 0.15),
    )
)
