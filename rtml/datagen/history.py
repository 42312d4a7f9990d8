"""A generated history written straight into the offline store: events and labels as the offline
materializer archives them, then every view backfilled from them. It bootstraps a first model
(``rtml offline seed``) without streaming days of traffic through Kafka.

A changelog view over the bank's customers (``customer_profile``) gets the rows Debezium's snapshot of the bank
database gives it (``bank_rows`` of the same population: held since the start of time), and a view joined with
that table as of each event (``customer_limit_usage``) is backfilled against them.

Rows carry ``_topic`` = the topic they would have come from, ``_partition`` -1 (not from Kafka) and
``_offset`` the generator's index. Appends use the app transaction ``seed:<seed>:<start>`` at the count
written, so seeding the same history twice writes it once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from feature_pipelines.backfill import BackfillResult, backfill_view, snapshot_rows, to_offline_rows
from feature_pipelines.definitions import AnyView, ChangelogView, FeatureView
from feature_pipelines.offline.delta_store import DeltaOfflineStore
from feature_pipelines.offline.tables import layout_for, source_layout, to_arrow, view_layout
from rtml.datagen.bank import bank_rows
from rtml.datagen.config import GeneratorConfig
from rtml.datagen.transactions import TransactionGenerator
from rtml.kafka.consumer import Received

CHUNK = 50_000
BANK_CUSTOMERS_TOPIC = "cdc.bank.customers"


@dataclass(frozen=True)
class SeededHistory:
    transactions: int
    labels: int
    frauds: int
    first_ts: int
    last_ts: int
    backfills: tuple[BackfillResult, ...]
    seconds: float


def seed_history(
    store: DeltaOfflineStore,
    config: GeneratorConfig,
    count: int,
    views: list[AnyView],
    *,
    label_name: str = "transactions",
    progress: Callable[[str], None] = lambda _: None,
) -> SeededHistory:
    """Generate ``count`` transactions (and their labels) into the store; write the bank's snapshot for the
    changelog ``views``, then backfill the other ``views`` (windowed, then as-of joined)."""
    began = time.monotonic()
    changelogs = [v for v in views if isinstance(v, ChangelogView)]
    backfilled = [v for v in views if isinstance(v, FeatureView)]
    windowed = [v for v in backfilled if v.join is None]
    joined = [v for v in backfilled if v.join is not None]
    unknown = [v.name for v in changelogs if v.source.topic != BANK_CUSTOMERS_TOPIC]
    if unknown:
        raise ValueError(f"no generated snapshot for {unknown}: only {BANK_CUSTOMERS_TOPIC} comes from the generator")
    source = windowed[0].source if windowed else joined[0].source if joined else None
    events_layout = source_layout(source) if source else layout_for("events.transactions")
    labels_layout = layout_for(f"labels.{label_name}")
    app = f"seed:{config.seed}:{config.start_ts}"
    events: list[Received] = []
    labels: list[Received] = []
    n_tx = n_labels = frauds = 0
    first_ts = last_ts = None
    now = int(time.time() * 1000)

    def flush() -> None:
        for layout, batch, total in ((events_layout, events, n_tx), (labels_layout, labels, n_labels)):
            if batch:
                store.append(layout.table, to_arrow(layout, batch, ingested_at=now).table, app_id=app, version=total)
                batch.clear()

    for index, item in enumerate(TransactionGenerator(config).events(count)):
        if item.topic_kind == "transaction":
            events.append(Received(events_layout.topic, -1, index, None, item.record, item.record.ts))
            n_tx += 1
            frauds += int(item.is_fraud)
            first_ts = item.record.ts if first_ts is None else first_ts
            last_ts = item.record.ts
        elif item.topic_kind == "label":
            labels.append(Received(labels_layout.topic, -1, index, None, item.record, item.record.ts))
            n_labels += 1
        if len(events) + len(labels) >= CHUNK:
            flush()
            progress(f"{n_tx:,} transactions, {n_labels:,} labels written")
    flush()
    if first_ts is None or last_ts is None:
        raise ValueError(f"the generator made no transaction in {count} records")
    for changelog in changelogs:
        progress(f"writing the bank's snapshot into {changelog.name}")
        customers = bank_rows(config)[0]
        table = pa.table(
            {
                "id": [c.id for c in customers],
                "segment": [c.segment for c in customers],
                "country": [c.country for c in customers],
                "credit_limit": [c.credit_limit for c in customers],
                "account_opened_at": [c.account_opened_at for c in customers],
                "risk_flags": [list(c.risk_flags) for c in customers],
            }
        )
        rows = to_offline_rows(changelog, snapshot_rows(changelog, table), now_ms=now)
        store.append(view_layout(changelog).table, rows, app_id=f"{app}:snapshot:{changelog.name}", version=0)
    results = []
    for view in windowed + joined:
        progress(f"backfilling {view.name}")
        results.append(
            backfill_view(store, view, start_ms=first_ts - first_ts % view.slide_ms, end_ms=last_ts + view.slide_ms)
        )
    return SeededHistory(n_tx, n_labels, frauds, first_ts, last_ts, tuple(results), time.monotonic() - began)
