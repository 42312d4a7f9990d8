"""Changes to the demo ``bank`` database while transactions stream: what the bank's own systems would do.

Most changes are credit-limit reviews (a limit raised or cut, to a multiple of 100), some are country moves, a
few are closures (a DELETE: the customer's profile disappears downstream). A closed customer is never changed
again. The stream is drawn from its own random stream (seed, ``_CHANGES_STREAM``) over the rows ``bank_rows``
seeds, so the same config and seed give the same changes in the same order. ``BankChange.sql`` is one statement;
the caller runs each in a transaction of its own (``rtml produce bank-changes`` pipes them into ``psql``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rtml.datagen.bank import CustomerRow, sql_text

_CHANGES_STREAM = 0x43484E47  # "CHNG"
# kind -> share of changes
KINDS: dict[str, float] = {"credit_limit": 0.8, "country": 0.15, "closure": 0.05}
_LIMIT_STEPS = np.array([0.5, 0.75, 1.25, 1.5, 2.0])  # a review multiplies the limit by one of these
MIN_LIMIT, MAX_LIMIT = 100.0, 250_000.0

ChangeKind = Literal["credit_limit", "country", "closure"]


@dataclass(frozen=True, slots=True)
class BankChange:
    kind: ChangeKind
    customer_id: str
    credit_limit: float | None = None  # kind credit_limit: the new limit
    country: str | None = None  # kind country: the new home country
    ts: int = 0  # event time (epoch ms) when the transaction generator schedules it; 0 otherwise

    def sql(self, schema: str = "bank") -> str:
        where = f"WHERE id = {sql_text(self.customer_id)}"
        if self.kind == "credit_limit":
            return f"UPDATE {schema}.customers SET credit_limit = {self.credit_limit:.2f} {where};"
        if self.kind == "country":
            return f"UPDATE {schema}.customers SET country = {sql_text(str(self.country))} {where};"
        return f"DELETE FROM {schema}.customers {where};"


class BankChangeStream:
    """An endless, deterministic stream of changes to ``customers`` (the rows as seeded)."""

    def __init__(self, customers: Sequence[CustomerRow], countries: Sequence[str], seed: int) -> None:
        if not customers:
            raise ValueError("no customers to change")
        if len(set(countries)) < 2:
            raise ValueError("country moves need at least two countries")
        self._rng = np.random.default_rng([seed, _CHANGES_STREAM])
        self._ids = [c.id for c in customers]
        self._limit = {c.id: c.credit_limit for c in customers}
        self._country = {c.id: c.country for c in customers}
        self._countries = sorted(set(countries))
        self._open = list(self._ids)  # customers not closed, in seed order
        self._kinds = list(KINDS)
        self._shares = np.array(list(KINDS.values()))

    @property
    def open_customers(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[BankChange]:
        while self._open:
            yield self.next()

    def next(self) -> BankChange:
        if not self._open:
            raise StopIteration("every customer is closed")
        index = int(self._rng.integers(len(self._open)))
        customer = self._open[index]
        kind: ChangeKind = self._kinds[int(self._rng.choice(len(self._kinds), p=self._shares))]  # type: ignore[assignment]
        if kind == "credit_limit":
            step = float(self._rng.choice(_LIMIT_STEPS))
            limit = min(MAX_LIMIT, max(MIN_LIMIT, round(self._limit[customer] * step, -2)))
            self._limit[customer] = limit
            return BankChange("credit_limit", customer, credit_limit=limit)
        if kind == "country":
            others = [c for c in self._countries if c != self._country[customer]]
            country = others[int(self._rng.integers(len(others)))]
            self._country[customer] = country
            return BankChange("country", customer, country=country)
        self._open[index] = self._open[-1]
        self._open.pop()
        return BankChange("closure", customer)
