"""Legit spending: what a customer buys, where, on which device and for how much.

A ``Draft`` is a transaction before it has an id: the generator numbers drafts in event-time order
when it emits them. Amounts are ``exp(N(mu, sigma)) x category multiplier x drift factor``, so a
customer's log-amounts, corrected for category and drift, are normal around their ``mu``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from random import Random
from typing import TypeVar

import msgspec

from rtml.datagen.categories import CATEGORIES, Category, Channel
from rtml.datagen.population import Customer, Population

T = TypeVar("T")

HOME_ONLINE_SHARE = 0.8  # online purchases stay with a home-country merchant this often


class Draft(msgspec.Struct, frozen=True):
    """A transaction to emit at ``t`` seconds after ``start_ts``; ``pattern`` is None for legit."""

    t: float
    customer: int
    merchant: int
    amount: float
    device_id: str
    channel: Channel
    pattern: str | None = None

    @property
    def is_fraud(self) -> bool:
        return self.pattern is not None


def money(value: float) -> float:
    """Round to cents, never below one cent."""
    return max(0.01, round(value, 2))


def pick(rng: Random, items: Sequence[T]) -> T:
    """One of ``items``, uniformly (a single draw; cheaper than ``Random.choice``)."""
    return items[int(rng.random() * len(items))]


def taste(rng: Random, customer: Customer) -> Category:
    """A category drawn from the customer's preferences."""
    cum = customer.category_cum
    index = bisect_right(cum, rng.random() * cum[-1])
    return CATEGORIES[min(index, len(CATEGORIES) - 1)]


def usual_merchant(rng: Random, population: Population, customer: Customer, category: Category, channel: str) -> int:
    """A merchant of ``category``: at home in person (and mostly online), anywhere otherwise."""
    at_home = channel != "online" or rng.random() < HOME_ONLINE_SHARE
    return pick(rng, population.merchants_in(category.name, customer.home_country if at_home else None))


def legit_draft(rng: Random, population: Population, customer: Customer, t: float, amount_factor: float = 1.0) -> Draft:
    category = taste(rng, customer)
    channel = category.channel(rng.random())
    merchant = usual_merchant(rng, population, customer, category, channel)
    amount = math.exp(rng.gauss(customer.mu, customer.sigma)) * category.amount_multiplier * amount_factor
    device = customer.devices[0] if len(customer.devices) == 1 else pick(rng, customer.devices)
    return Draft(t, customer.index, merchant, money(amount), device, channel)
