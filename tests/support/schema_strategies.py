"""Hypothesis strategies for valid records of every topic, for property tests in any package.

``records(name)`` draws for a key of ``RECORD_TYPES``; ``valid_records()`` draws ``(name, record)``.
"""

from __future__ import annotations

import string
from typing import Any, get_args

from hypothesis import strategies as st

from schemas.debezium import (
    Customer,
    DebeziumEnvelope,
    DebeziumSource,
    DebeziumTransaction,
    Merchant,
    Op,
)
from schemas.drift import DriftEvent
from schemas.feature_row import FeatureRow
from schemas.label import Label
from schemas.model_update import ModelUpdate
from schemas.prediction import Prediction
from schemas.transaction import Transaction

MAX_EPOCH_MS = 32_503_680_000_000

ids = st.text(min_size=1, max_size=20)
names = st.text(min_size=1, max_size=12)
epoch_ms = st.integers(0, MAX_EPOCH_MS)
finite = st.floats(allow_nan=False, allow_infinity=False)
countries = st.text(string.ascii_uppercase, min_size=2, max_size=2)
currencies = st.text(string.ascii_uppercase, min_size=3, max_size=3)
sha256s = st.binary(min_size=32, max_size=32).map(bytes.hex)
feature_values = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | finite | st.text(max_size=12)


@st.composite
def _ordered(draw: st.DrawFn, *, strict: bool) -> tuple[int, int]:
    start = draw(st.integers(0, MAX_EPOCH_MS - 1))
    end = draw(st.integers(start + 1 if strict else start, MAX_EPOCH_MS))
    return start, end


transactions = st.builds(
    Transaction,
    event_id=ids,
    ts=epoch_ms,
    customer_id=ids,
    merchant_id=ids,
    merchant_category=st.text(min_size=1, max_size=64),
    amount=st.floats(min_value=0, max_value=1e9, exclude_min=True),
    currency=currencies,
    country=countries,
    device_id=ids,
    channel=st.sampled_from(["pos", "online", "atm"]),
)


@st.composite
def _labels(draw: st.DrawFn) -> Label:
    event_ts, ts = draw(_ordered(strict=False))
    return Label(
        event_id=draw(ids),
        label=draw(st.sampled_from([0, 1])),
        ts=ts,
        customer_id=draw(st.none() | ids),
        event_ts=draw(st.none() | st.just(event_ts)),
        source=draw(st.sampled_from(["chargeback", "confirmed_legit", "manual_review"])),
    )


@st.composite
def _feature_rows(draw: st.DrawFn) -> FeatureRow:
    start, end = draw(_ordered(strict=True))
    return FeatureRow(
        view=draw(names),
        entity_id=draw(ids),
        window_start=start,
        window_end=end,
        values=draw(st.dictionaries(names, feature_values, max_size=5)),
        computed_at=draw(st.none() | epoch_ms),
    )


predictions = st.builds(
    Prediction,
    event_id=ids,
    model=names,
    version=names,
    score=finite,
    label=st.sampled_from([0, 1]),
    features=st.dictionaries(names, st.none() | finite, max_size=5),
    ts=epoch_ms,
    scored_at=epoch_ms,
    latency_ms=st.none() | st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    shadow=st.booleans(),
)


@st.composite
def _drift_events(draw: st.DrawFn) -> DriftEvent:
    start, end = draw(_ordered(strict=False))
    return DriftEvent(
        model=draw(names),
        detector=draw(st.sampled_from(["psi", "ks", "adwin", "page_hinkley"]) | names),
        feature=draw(st.none() | names),
        statistic=draw(finite),
        threshold=draw(finite),
        window_start=start,
        window_end=end,
        severity=draw(st.sampled_from(["info", "warning", "critical"])),
        ts=draw(epoch_ms),
        version=draw(st.none() | names),
    )


@st.composite
def _model_updates(draw: st.DrawFn) -> ModelUpdate:
    version = draw(names)
    return ModelUpdate(
        model=draw(names),
        version=version,
        alias=draw(st.sampled_from(["champion", "challenger"]) | names),
        artifact_uri=draw(st.text(min_size=1, max_size=40)),
        sha256=draw(sha256s),
        ts=draw(epoch_ms),
        action=draw(st.sampled_from(["registered", "promoted", "rolled_back", "archived"])),
        previous_version=draw(st.none() | names.filter(lambda v: v != version)),
        metrics=draw(st.dictionaries(names, finite, max_size=4)),
    )


customers = st.builds(
    Customer,
    id=ids,
    segment=names,
    country=countries,
    credit_limit=st.floats(min_value=0, allow_infinity=False),
    account_opened_at=epoch_ms,
    risk_flags=st.lists(names, max_size=3),
)
merchants = st.builds(
    Merchant,
    id=ids,
    category=names,
    country=countries,
)
sources = st.builds(
    DebeziumSource,
    version=st.just("2.7.3.Final"),
    connector=st.just("postgresql"),
    name=st.just("bank"),
    ts_ms=epoch_ms,
    db=st.just("bank"),
    schema=st.just("bank"),
    table=names,
    snapshot=st.none() | st.booleans() | st.sampled_from(["true", "false", "last"]),
    lsn=st.none() | st.integers(0, 2**63 - 1),
    tx_id=st.none() | st.integers(0, 2**63 - 1),
)
debezium_transactions = st.builds(
    DebeziumTransaction,
    id=ids,
    total_order=st.integers(0, 2**31),
    data_collection_order=st.integers(0, 2**31),
)


@st.composite
def envelopes(draw: st.DrawFn, rows: st.SearchStrategy[Any]) -> DebeziumEnvelope[Any]:
    """A change event whose ``before``/``after`` fit its ``op``."""
    op: Op = draw(st.sampled_from(get_args(Op)))
    before = draw(rows) if op == "d" else draw(st.none() | rows) if op == "u" else None
    after = draw(rows) if op in ("c", "u", "r") else None
    return DebeziumEnvelope(
        before=before,
        after=after,
        source=draw(sources),
        op=op,
        ts_ms=draw(epoch_ms),
        transaction=draw(st.none() | debezium_transactions),
    )


RECORD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "transaction": transactions,
    "cdc_customer": envelopes(customers),
    "cdc_merchant": envelopes(merchants),
    "label": _labels(),
    "feature_row": _feature_rows(),
    "prediction": predictions,
    "drift_event": _drift_events(),
    "model_update": _model_updates(),
}


def records(name: str) -> st.SearchStrategy[Any]:
    """Valid records of ``RECORD_TYPES[name]``."""
    return RECORD_STRATEGIES[name]


def valid_records() -> st.SearchStrategy[tuple[str, Any]]:
    """``(record name, record)`` over every record type."""
    return st.sampled_from(sorted(RECORD_STRATEGIES)).flatmap(lambda n: st.tuples(st.just(n), records(n)))
