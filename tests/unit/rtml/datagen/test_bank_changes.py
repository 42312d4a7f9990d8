"""The bank's change stream: deterministic, mostly limit reviews, closed customers left alone, valid SQL."""

from __future__ import annotations

from collections import Counter
from itertools import islice

import pytest

from rtml.datagen.bank import CustomerRow, bank_rows
from rtml.datagen.bank_changes import MAX_LIMIT, MIN_LIMIT, BankChange, BankChangeStream
from rtml.datagen.config import DEFAULT_COUNTRIES, GeneratorConfig

CONFIG = GeneratorConfig(start_ts=0, seed=0, n_customers=300)
CUSTOMERS = bank_rows(CONFIG)[0]


def stream(seed: int = 7) -> BankChangeStream:
    return BankChangeStream(CUSTOMERS, DEFAULT_COUNTRIES, seed)


def test_same_seed_same_changes_another_seed_others() -> None:
    assert list(islice(stream(), 200)) == list(islice(stream(), 200))
    assert list(islice(stream(), 50)) != list(islice(stream(8), 50))


def test_mostly_limit_reviews_some_moves_few_closures() -> None:
    kinds = Counter(c.kind for c in islice(stream(), 2000))
    assert kinds["credit_limit"] > kinds["country"] > kinds["closure"] > 0
    assert 0.7 < kinds["credit_limit"] / 2000 < 0.9


def test_limits_stay_bounded_in_hundreds_and_moves_change_the_country() -> None:
    country = {c.id: c.country for c in CUSTOMERS}
    for change in islice(stream(), 3000):
        if change.kind == "credit_limit":
            assert change.credit_limit is not None
            assert MIN_LIMIT <= change.credit_limit <= MAX_LIMIT and change.credit_limit % 100 == 0
        elif change.kind == "country":
            assert change.country in DEFAULT_COUNTRIES and change.country != country[change.customer_id]
            country[change.customer_id] = change.country


def test_a_closed_customer_is_never_changed_again_and_the_stream_ends() -> None:
    few = [CustomerRow(f"cust-{i}", "standard", "DE", 1000.0, 0, ()) for i in range(5)]
    changes = list(BankChangeStream(few, DEFAULT_COUNTRIES, 1))
    closed: set[str] = set()
    for change in changes:
        assert change.customer_id not in closed
        if change.kind == "closure":
            closed.add(change.customer_id)
    assert closed == {c.id for c in few}  # every customer closes in the end, then the stream stops


def test_sql_statements() -> None:
    assert BankChange("credit_limit", "cust-1", credit_limit=2500.0).sql() == (
        "UPDATE bank.customers SET credit_limit = 2500.00 WHERE id = 'cust-1';"
    )
    assert BankChange("country", "o'brien", country="FR").sql() == (
        "UPDATE bank.customers SET country = 'FR' WHERE id = 'o''brien';"
    )
    assert BankChange("closure", "cust-2").sql() == "DELETE FROM bank.customers WHERE id = 'cust-2';"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="no customers"):
        BankChangeStream([], DEFAULT_COUNTRIES, 0)
    with pytest.raises(ValueError, match="two countries"):
        BankChangeStream(CUSTOMERS, ["DE"], 0)
