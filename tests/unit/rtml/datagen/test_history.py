"""A seeded history with the CDC views: the bank's snapshot as the profile's versions, the limit-usage view
backfilled against it, and a training set that reads both (local Delta tables, no services)."""

from __future__ import annotations

from pathlib import Path

from feature_pipelines.offline.delta_store import DeltaOfflineStore
from feature_pipelines.repository import FEATURE_VIEWS, customer_limit_usage, customer_profile, get_service
from feature_pipelines.training_set import build_training_set
from rtml.datagen.bank import bank_rows
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.history import seed_history

START = 1_790_000_000_000


def test_a_seeded_history_holds_the_banks_snapshot_and_the_joined_view(tmp_path: Path) -> None:
    store = DeltaOfflineStore(tmp_path)
    config = GeneratorConfig(start_ts=START, seed=3, population_seed=7, rate=20.0, n_customers=50, fraud_rate=0.05)
    seeded = seed_history(store, config, 3_000, list(FEATURE_VIEWS.values()))
    assert {b.view for b in seeded.backfills} == {"customer_txn_stats", "merchant_txn_stats", "customer_limit_usage"}

    limits = {c.id: c.credit_limit for c in bank_rows(config)[0]}
    profile = store.read("features/customer_profile").to_pylist()
    assert {r["entity_id"]: r["credit_limit"] for r in profile} == limits
    assert {r["window_end"] for r in profile} == {1}  # a snapshot read: held since the start of time

    result = build_training_set(store, get_service("fraud"))
    assert result.lineage["absent_views"] == []
    rows = result.table.to_pylist()
    events = {e["event_id"]: e for e in store.read("events/transactions").to_pylist()}
    assert all(r["customer_profile__credit_limit"] == limits[events[r["event_id"]]["customer_id"]] for r in rows)
    usage = [r["customer_limit_usage__max_amount_to_limit_1h"] for r in rows]
    assert sum(u is not None and u > 0 for u in usage) > 0.5 * len(rows)
    trained_on = result.lineage["delta_versions"]
    assert f"features/{customer_profile.name}" in trained_on and f"features/{customer_limit_usage.name}" in trained_on

    again = seed_history(store, config, 3_000, list(FEATURE_VIEWS.values()))  # the same history: written once
    assert not any(b.written for b in again.backfills)
    assert len(store.read("features/customer_profile")) == len(limits)
