"""The demo bank database's rows: the generator's ids and attributes, deterministic, valid, quoted safely."""

from __future__ import annotations

from dataclasses import replace

from rtml.datagen.bank import OPENED_UNTIL_MS, CustomerRow, MerchantRow, bank_rows, seed_sql
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.population import build_population

CONFIG = GeneratorConfig(start_ts=0, seed=3, n_customers=300, n_merchants=40)


def test_rows_take_ids_and_attributes_from_the_population() -> None:
    customers, merchants = bank_rows(CONFIG)
    population = build_population(CONFIG)
    assert [(c.id, c.segment, c.country) for c in customers] == [
        (p.customer_id, p.segment, p.home_country) for p in population.customers
    ]
    assert [(m.id, m.category, m.country) for m in merchants] == [
        (p.merchant_id, p.category, p.country) for p in population.merchants
    ]


def test_same_config_same_rows_and_the_seed_matters() -> None:
    assert bank_rows(CONFIG) == bank_rows(CONFIG)
    assert bank_rows(CONFIG)[0] != bank_rows(replace(CONFIG, seed=4))[0]


def test_values_are_in_range() -> None:
    customers, _ = bank_rows(CONFIG)
    assert all(c.credit_limit >= 100 and c.credit_limit % 100 == 0 for c in customers)
    assert all(OPENED_UNTIL_MS - 10 * 365 * 86_400_000 <= c.account_opened_at <= OPENED_UNTIL_MS for c in customers)
    assert all(c.account_opened_at % 1000 == 0 for c in customers)
    flags = {f for c in customers for f in c.risk_flags}
    assert flags <= {"high_activity", "multi_device", "new_account", "prior_chargeback"}
    assert "multi_device" in flags and any(not c.risk_flags for c in customers)
    by_segment: dict[str, list[float]] = {}
    for c in customers:
        by_segment.setdefault(c.segment, []).append(c.credit_limit)
    assert max(by_segment["student"]) < min(by_segment["business"]) * 2  # limits follow the segment


def test_seed_sql_quotes_text_and_writes_utc_milliseconds() -> None:
    customers = [CustomerRow("c'1", "standard", "DE", 1234.5, 1_714_557_600_250, ("a'b", "new_account"))]
    merchants = [MerchantRow("m1", "grocery", "FR")]
    text = seed_sql(customers, merchants)
    assert "('c''1', 'standard', 'DE', 1234.50, TIMESTAMP '2024-05-01 10:00:00.250', " in text
    assert "ARRAY['a''b', 'new_account']::text[])" in text
    assert "INSERT INTO bank.merchants (id, category, country) VALUES\n('m1', 'grocery', 'FR')" in text
    assert text.count("ON CONFLICT (id) DO NOTHING;") == 2


def test_seed_sql_chunks_large_tables() -> None:
    customers, merchants = bank_rows(replace(CONFIG, n_customers=1200))
    text = seed_sql(customers, merchants)
    assert text.count("INSERT INTO bank.customers") == 3 and text.count("INSERT INTO bank.merchants") == 1
    assert "ARRAY[]::text[]" in text
