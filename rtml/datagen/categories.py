"""Merchant categories: how common each is, how large its tickets are, how it is paid, how risky it is.

One table drives the population (which merchants exist, what customers like), legit spending (amount
scale, channel) and the fraud patterns (which categories fraudsters favour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Channel = Literal["pos", "online", "atm"]


@dataclass(frozen=True, slots=True)
class Category:
    """``popularity`` weighs merchants and customer tastes; ``amount_multiplier`` scales a customer's
    base ticket; ``online_share`` is the chance a purchase is made online (``atm`` for cash)."""

    name: str
    popularity: float
    amount_multiplier: float
    online_share: float
    risky: bool = False
    cash: bool = False

    def channel(self, u: float) -> Channel:
        """The channel for a uniform draw ``u`` in [0, 1)."""
        if self.cash:
            return "atm"
        return "online" if u < self.online_share else "pos"


CATEGORIES: tuple[Category, ...] = (
    Category("grocery", 0.22, 1.0, 0.08),
    Category("restaurants", 0.15, 0.9, 0.10),
    Category("fuel", 0.09, 1.6, 0.0),
    Category("transport", 0.09, 0.4, 0.35),
    Category("retail", 0.12, 1.7, 0.35),
    Category("health", 0.05, 1.3, 0.15),
    Category("entertainment", 0.06, 1.1, 0.45),
    Category("cash_withdrawal", 0.06, 2.5, 0.0, cash=True),
    Category("travel", 0.04, 8.0, 0.80),
    Category("electronics", 0.04, 5.0, 0.55, risky=True),
    Category("jewelry", 0.01, 8.0, 0.25, risky=True),
    Category("gaming", 0.03, 0.8, 0.90, risky=True),
    Category("digital_goods", 0.04, 0.4, 1.0, risky=True),
)

CATEGORY_BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}
CATEGORY_INDEX: dict[str, int] = {c.name: i for i, c in enumerate(CATEGORIES)}
RISKY_CATEGORIES: tuple[str, ...] = tuple(c.name for c in CATEGORIES if c.risky)
AMOUNT_MULTIPLIER: dict[str, float] = {c.name: c.amount_multiplier for c in CATEGORIES}
