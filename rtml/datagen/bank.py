"""The demo ``bank`` database's rows, drawn from the generator's population so ids match the transactions.

``customers`` (id, segment, country, credit_limit, account_opened_at, risk_flags) and ``merchants`` (id,
category, country) take id, segment, home country and category from ``build_population``; the attributes the
population does not have (credit limit, account age, risk flags) come from a random stream of their own, so
the population and the transaction stream stay exactly what they were. The same config gives the same rows.

``seed_sql`` turns the rows into the statements that fill the tables created by ``infra/postgres/bank.sql``.
No I/O here: the local stack (``rtml/stack/postgres.py``) runs the SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np

from rtml.datagen.config import GeneratorConfig, population_seed
from rtml.datagen.population import Population, build_population

_BANK_STREAM = 0x42414E4B  # "BANK": apart from the population's and the event stream's random streams
# Accounts were opened in the ten years before this instant (fixed: the generator never reads the clock).
OPENED_UNTIL_MS = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
_TEN_YEARS_MS = 10 * 365 * 86_400_000
_NEW_ACCOUNT_MS = 180 * 86_400_000
# segment -> median credit limit (EUR); limits are lognormal around it, rounded to 100.
CREDIT_LIMITS: dict[str, float] = {"student": 1_000.0, "standard": 3_000.0, "premium": 10_000.0, "business": 25_000.0}
_HIGH_ACTIVITY = 10.0  # Pareto activity (>= 1): about the busiest 3% of customers
_PRIOR_CHARGEBACK_SHARE = 0.02
_CHUNK = 500  # rows per INSERT
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: str
    segment: str
    country: str
    credit_limit: float
    account_opened_at: int  # epoch ms (UTC)
    risk_flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MerchantRow:
    id: str
    category: str
    country: str


def bank_rows(config: GeneratorConfig) -> tuple[list[CustomerRow], list[MerchantRow]]:
    """Every customer and merchant of ``config``'s population, as rows of the demo database."""
    population = build_population(config)
    return customer_rows(population, population_seed(config)), merchant_rows(population)


def customer_rows(population: Population, seed: int) -> list[CustomerRow]:
    customers = population.customers
    rng = np.random.default_rng([seed, _BANK_STREAM])
    n = len(customers)
    limit_noise = rng.lognormal(0.0, 0.35, size=n)
    opened = OPENED_UNTIL_MS - (rng.random(size=n) * _TEN_YEARS_MS).astype(np.int64)
    chargeback = rng.random(size=n) < _PRIOR_CHARGEBACK_SHARE
    rows = []
    for i, c in enumerate(customers):
        opened_at = int(opened[i]) // 1000 * 1000  # whole seconds: what a person would type
        flags = []
        if c.activity >= _HIGH_ACTIVITY:
            flags.append("high_activity")
        if len(c.devices) > 1:
            flags.append("multi_device")
        if OPENED_UNTIL_MS - opened_at < _NEW_ACCOUNT_MS:
            flags.append("new_account")
        if chargeback[i]:
            flags.append("prior_chargeback")
        rows.append(
            CustomerRow(
                id=c.customer_id,
                segment=c.segment,
                country=c.home_country,
                credit_limit=float(max(100.0, round(CREDIT_LIMITS[c.segment] * limit_noise[i], -2))),
                account_opened_at=opened_at,
                risk_flags=tuple(flags),
            )
        )
    return rows


def merchant_rows(population: Population) -> list[MerchantRow]:
    return [MerchantRow(id=m.merchant_id, category=m.category, country=m.country) for m in population.merchants]


def seed_sql(customers: Sequence[CustomerRow], merchants: Sequence[MerchantRow], schema: str = "bank") -> str:
    """INSERT statements (``ON CONFLICT (id) DO NOTHING``) for the rows, ``_CHUNK`` rows per statement."""
    statements = []
    for chunk in _chunks(customers):
        values = ",\n".join(
            f"({sql_text(r.id)}, {sql_text(r.segment)}, {sql_text(r.country)}, {r.credit_limit:.2f}, "
            f"{_timestamp(r.account_opened_at)}, {_text_array(r.risk_flags)})"
            for r in chunk
        )
        statements.append(
            f"INSERT INTO {schema}.customers (id, segment, country, credit_limit, account_opened_at, risk_flags)"
            f" VALUES\n{values}\nON CONFLICT (id) DO NOTHING;"
        )
    for part in _chunks(merchants):
        values = ",\n".join(f"({sql_text(m.id)}, {sql_text(m.category)}, {sql_text(m.country)})" for m in part)
        statements.append(
            f"INSERT INTO {schema}.merchants (id, category, country) VALUES\n{values}\nON CONFLICT (id) DO NOTHING;"
        )
    return "\n".join(statements) + "\n"


def _chunks(rows: Sequence[T]) -> Iterable[Sequence[T]]:
    return (rows[i : i + _CHUNK] for i in range(0, len(rows), _CHUNK))


def sql_text(value: str) -> str:
    """A standard SQL string literal (``standard_conforming_strings`` is on: only quotes are doubled)."""
    if "\0" in value:
        raise ValueError(f"a NUL byte cannot be stored in PostgreSQL text: {value!r}")
    return "'" + value.replace("'", "''") + "'"


def _text_array(values: Sequence[str]) -> str:
    return f"ARRAY[{', '.join(sql_text(v) for v in values)}]::text[]"


def _timestamp(epoch_ms: int) -> str:
    """A ``timestamp`` (without time zone, read as UTC) literal with millisecond precision."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}.{epoch_ms % 1000:03d}'"
