import dataclasses
import math
from collections import defaultdict
from itertools import islice

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtml.datagen import GeneratedRecord, GeneratorConfig, TransactionGenerator
from rtml.datagen.categories import AMOUNT_MULTIPLIER
from rtml.datagen.population import median_amount
from schemas.codec import RecordCodec
from schemas.label import Label
from schemas.transaction import Transaction

START = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
N = 20_000
TX_CODEC = RecordCodec(Transaction)
LABEL_CODEC = RecordCodec(Label)


def run(count=N, **overrides):
    config = GeneratorConfig(start_ts=START, **overrides)
    generator = TransactionGenerator(config)
    return generator, list(generator.events(count))


def transactions(records):
    return [r for r in records if r.topic_kind == "transaction"]


@pytest.fixture(scope="module")
def stream():
    return run(seed=7, daily_cycle=False)


@pytest.fixture(scope="module")
def drift_stream():
    return run(seed=8, daily_cycle=False, drift_at=N // 2)


# -- determinism ---------------------------------------------------------------------------------


def encoded(records):
    return [msgspec.json.encode(r) for r in records]


def test_same_seed_same_bytes_other_seed_differs():
    a = encoded(TransactionGenerator(GeneratorConfig(start_ts=START, seed=3)).events(2000))
    b = encoded(TransactionGenerator(GeneratorConfig(start_ts=START, seed=3)).events(2000))
    c = encoded(TransactionGenerator(GeneratorConfig(start_ts=START, seed=4)).events(2000))
    assert a == b
    assert a != c
    assert sum(x == y for x, y in zip(a, c, strict=False)) < 10


def test_events_restarts_and_a_count_cuts_the_endless_stream(stream):
    generator, records = stream
    first = transactions(records)[:500]
    assert transactions(generator.events(500)) == first
    endless = (r for r in generator.events() if r.topic_kind == "transaction")
    assert list(islice(endless, 500)) == first


def test_label_settings_do_not_change_transactions():
    _, full = run(2000, seed=9)
    _, sparse = run(2000, seed=9, label_fraction=0.3, fraud_label_delay_s=5.0, label_delay_sigma=1.0)
    assert transactions(full) == transactions(sparse)


@pytest.mark.parametrize("count", [-1, 1.5, True])
def test_count_must_be_a_non_negative_integer(count):
    with pytest.raises(ValueError, match="count"):
        TransactionGenerator(GeneratorConfig(start_ts=START, n_customers=5)).events(count)


# -- ordering, labels, validity ------------------------------------------------------------------


def check_stream(records, config, count):
    """The invariants every stream keeps, whatever the config."""
    assert [r.record.ts for r in records] == sorted(r.record.ts for r in records)
    txs = {}
    labelled = set()
    for r in records:
        assert isinstance(r, GeneratedRecord)
        if r.topic_kind == "transaction":
            tx = r.record
            assert isinstance(tx, Transaction) and TX_CODEC.decode(TX_CODEC.encode(tx)) == tx
            assert r.key == tx.customer_id and tx.event_id not in txs
            assert r.is_fraud == (r.pattern is not None)
            assert tx.currency == config.currency and tx.country in config.countries
            txs[tx.event_id] = r
        else:
            label = r.record
            assert isinstance(label, Label) and LABEL_CODEC.decode(LABEL_CODEC.encode(label)) == label
            assert r.key == label.event_id and label.event_id in txs  # emitted after its transaction
            assert label.event_id not in labelled
            labelled.add(label.event_id)
            event = txs[label.event_id]
            assert label.ts >= label.event_ts == event.record.ts
            assert label.label == int(event.is_fraud) and r.is_fraud == event.is_fraud
            assert r.pattern == event.pattern and label.customer_id == event.record.customer_id
    assert len(txs) == count
    if config.label_fraction == 1.0:
        assert labelled == set(txs)
    if config.label_fraction == 0.0:
        assert not labelled
    return txs


def test_stream_invariants(stream):
    generator, records = stream
    check_stream(records, generator.config, N)
    ids = [r.record.event_id for r in transactions(records)]
    assert ids[0] == "tx-7-0000000000" and ids[-1] == f"tx-7-{N - 1:010d}"


def test_labels_are_late_fraud_later_than_legit(stream):
    _, records = stream
    delays = defaultdict(list)
    for r in records:
        if r.topic_kind == "label":
            delays[r.is_fraud].append((r.record.ts - r.record.event_ts) / 1000)
    assert np.mean(delays[False]) == pytest.approx(60.0, rel=0.05)
    assert np.mean(delays[True]) == pytest.approx(300.0, rel=0.15)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    start_ts=st.integers(0, 4_000_000_000_000),
    rate=st.floats(0.01, 2000.0),
    count=st.integers(0, 150),
    n_customers=st.integers(1, 30),
    n_merchants=st.integers(13, 40),
    fraud_rate=st.floats(0.0, 1.0),
    label_fraction=st.sampled_from([0.0, 0.4, 1.0]),
    delay=st.floats(0.001, 5000.0),
    sigma=st.floats(0.0, 3.0),
    drift_at=st.none() | st.integers(0, 150),
    daily_cycle=st.booleans(),
    countries=st.lists(st.sampled_from(["DE", "FR", "US", "JP", "BR"]), min_size=1, max_size=5, unique=True),
)
def test_any_small_config_keeps_order_and_validity(
    seed,
    start_ts,
    rate,
    count,
    n_customers,
    n_merchants,
    fraud_rate,
    label_fraction,
    delay,
    sigma,
    drift_at,
    daily_cycle,
    countries,
):
    config = GeneratorConfig(
        seed=seed,
        start_ts=start_ts,
        rate=rate,
        n_customers=n_customers,
        n_merchants=n_merchants,
        fraud_rate=fraud_rate,
        label_fraction=label_fraction,
        legit_label_delay_s=delay,
        fraud_label_delay_s=delay * 3,
        label_delay_sigma=sigma,
        drift_at=drift_at,
        daily_cycle=daily_cycle,
        countries=tuple(countries),
        currency="USD",
    )
    records = list(TransactionGenerator(config).events(count))
    txs = check_stream(records, config, count)
    if drift_at is None or not config.drift_new_pattern:
        assert all(r.pattern != "card_testing" for r in txs.values())
    else:
        assert all(int(i.rsplit("-", 1)[1]) >= drift_at for i, r in txs.items() if r.pattern == "card_testing")


# -- statistics ----------------------------------------------------------------------------------


def test_fraud_share_matches_fraud_rate(stream):
    txs = transactions(stream[1])
    share = sum(r.is_fraud for r in txs) / len(txs)
    assert 0.0105 <= share <= 0.0195  # fraud_rate 0.015; incidents of several transactions widen the band
    patterns = {r.pattern for r in txs}
    assert patterns == {None, "burst", "unusual_category", "amount", "new_device_foreign"}


def test_fraud_share_with_a_high_fraud_rate():
    txs = transactions(run(seed=1, fraud_rate=0.1, daily_cycle=False, label_fraction=0.0)[1])
    assert sum(r.is_fraud for r in txs) / len(txs) == pytest.approx(0.1, rel=0.12)


def test_mean_rate_matches_config(stream):
    txs = transactions(stream[1])
    span_s = (txs[-1].record.ts - txs[0].record.ts) / 1000
    assert (len(txs) - 1) / span_s == pytest.approx(50.0, rel=0.03)


def test_legit_log_amounts_are_normal_around_each_customers_mu(stream):
    generator, records = stream
    customers = {c.customer_id: c for c in generator.population.customers}
    z_by_customer = defaultdict(list)
    for r in transactions(records):
        if not r.is_fraud:
            tx = r.record
            c = customers[tx.customer_id]
            z = (math.log(tx.amount / AMOUNT_MULTIPLIER[tx.merchant_category]) - c.mu) / c.sigma
            z_by_customer[c.customer_id].append(z)
    pooled = np.concatenate([np.array(z) for z in z_by_customer.values()])
    assert abs(pooled.mean()) < 0.03 and pooled.std() == pytest.approx(1.0, abs=0.03)
    assert np.mean(np.abs(pooled) < 1.96) == pytest.approx(0.95, abs=0.01)
    busy = [z for z in z_by_customer.values() if len(z) >= 100]
    assert len(busy) >= 10  # heavy-tailed activity: a few customers are very active
    for z in busy:
        assert abs(np.mean(z)) < 4.0 / math.sqrt(len(z))


def test_amount_pattern_is_far_above_the_customers_median(stream):
    generator, records = stream
    legit = defaultdict(list)
    for r in transactions(records):
        if not r.is_fraud:
            legit[r.record.customer_id].append(r.record.amount)
    customers = {c.customer_id: c for c in generator.population.customers}
    spikes = [r.record for r in transactions(records) if r.pattern == "amount"]
    assert len(spikes) >= 30
    empirical = [tx.amount / np.median(legit[tx.customer_id]) for tx in spikes if len(legit[tx.customer_id]) >= 20]
    assert len(empirical) >= 20 and min(empirical) > 3.0 and 5.0 <= np.median(empirical) <= 20.0
    exact = [tx.amount / median_amount(customers[tx.customer_id]) for tx in spikes]
    assert min(exact) >= 4.99 and max(exact) <= 20.01


def test_bursts_are_several_transactions_of_one_customer_within_seconds(stream):
    txs = transactions(stream[1])
    end_ts = txs[-1].record.ts
    by_customer = defaultdict(list)
    for r in txs:
        if r.pattern == "burst":
            by_customer[r.record.customer_id].append(r.record.ts)
    runs = []
    for times in by_customer.values():
        current = [times[0]]
        for ts in times[1:]:
            if ts - current[-1] <= 60_000:
                current.append(ts)
            else:
                runs.append(current)
                current = [ts]
        runs.append(current)
    finished = [run for run in runs if run[-1] < end_ts - 60_000]  # the last ones may be cut by `count`
    assert len(finished) >= 5, len(finished)
    assert all(len(run) >= 3 and run[-1] - run[0] <= 120_000 for run in finished)
    assert np.median([(run[-1] - run[0]) / (len(run) - 1) for run in finished]) < 10_000  # seconds apart


def test_daytime_is_busier_than_night():
    # 12k transactions at 0.1/s span about 1.4 days of event time (UTC hours).
    _, records = run(12_000, seed=2, rate=0.1, label_fraction=0.0)
    ts = np.array([r.record.ts for r in records])
    one_day = ts[ts < START + 86_400_000]
    per_hour = np.bincount(((one_day // 3_600_000) % 24).astype(int), minlength=24)
    assert per_hour[10:22].mean() > 4 * per_hour[1:5].mean()
    assert len(one_day) / 86_400 == pytest.approx(0.1, rel=0.05)  # the cycle keeps the mean rate


def test_drift_scales_legit_amounts_and_brings_card_testing(drift_stream):
    generator, records = drift_stream
    k = generator.config.drift_at
    txs = transactions(records)
    before = np.array([r.record.amount for r in txs[:k] if not r.is_fraud])
    after = np.array([r.record.amount for r in txs[k:] if not r.is_fraud])
    assert math.exp(np.log(after).mean() - np.log(before).mean()) == pytest.approx(1.8, rel=0.06)
    assert after.mean() / before.mean() == pytest.approx(1.8, rel=0.2)
    testing = [i for i, r in enumerate(txs) if r.pattern == "card_testing"]
    assert len(testing) >= 20 and min(testing) >= k
    assert all(txs[i].record.merchant_category == "digital_goods" and txs[i].record.amount <= 2 for i in testing)


def test_a_drift_scheduled_while_the_stream_runs_is_the_configured_one(drift_stream):
    configured, expected = drift_stream
    generator = TransactionGenerator(dataclasses.replace(configured.config, drift_at=None))
    records = generator.events(N)
    got = list(islice(records, 1000))  # decided after 1,000 records, for a later index
    generator.schedule_drift(N // 2)
    got += list(records)
    assert encoded(r.record for r in got) == encoded(r.record for r in expected)
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="non-negative integer"):
            generator.schedule_drift(bad)


def test_drift_from_the_start_without_a_new_pattern_only_scales_amounts():
    _, drifted = run(3000, seed=8, daily_cycle=False, drift_at=0, drift_new_pattern=False, label_fraction=0.0)
    _, baseline = run(3000, seed=8, daily_cycle=False, label_fraction=0.0)
    assert all(r.pattern != "card_testing" for r in drifted)
    for d, b in zip(drifted, baseline, strict=True):
        assert msgspec.structs.replace(d.record, amount=b.record.amount) == b.record
        assert d.record.amount == pytest.approx(1.8 * b.record.amount, abs=0.015)


def _bank_stream(seed: int = 5) -> tuple[GeneratorConfig, list]:
    from rtml.datagen.bank import bank_rows

    config = GeneratorConfig(start_ts=1_790_000_000_000, seed=seed, rate=50.0, n_customers=40, population_seed=9)
    return config, bank_rows(config)[0]


def _following(config: GeneratorConfig, rows: list) -> TransactionGenerator:
    from rtml.datagen.bank_changes import BankChangeStream

    generator = TransactionGenerator(config)
    generator.follow_bank(rows)
    generator.schedule_bank_changes(BankChangeStream(rows, config.countries, 3), 2.0, config.start_ts)
    return generator


def test_the_stream_follows_the_bank_database_and_its_changes() -> None:
    config, rows = _bank_stream()
    gone, moved = rows[0], dataclasses.replace(rows[1], country="ZZ")
    generator = _following(config, [moved, *rows[2:]])  # cust 0 closed, cust 1 lives in "ZZ"
    closed, home = {gone.id}, {moved.id: "ZZ"}
    merchants = {m.merchant_id: m for m in generator.population.merchants}
    changes, last_ts, at_home = 0, 0, 0
    for item in generator.events(4000):
        ts = item.record.ts
        assert ts >= last_ts  # changes come out in event-time order with the rest
        last_ts = ts
        if item.topic_kind == "bank_change":
            changes += 1
            change = item.record
            if change.kind == "closure":
                closed.add(change.customer_id)
            elif change.kind == "country":
                home[change.customer_id] = change.country
        elif item.topic_kind == "transaction":
            assert item.record.customer_id not in closed, "a closed customer paid"
            at_home += merchants[item.record.merchant_id].country == home.get(item.record.customer_id, "-")
    assert changes > 100 and len(closed) > 2 and at_home > 0
    # the same config, rows and schedule give the same stream
    assert list(_following(config, [moved, *rows[2:]]).events(500)) == list(
        _following(config, [moved, *rows[2:]]).events(500)
    )


def test_without_bank_changes_the_stream_is_unchanged_and_a_foreign_database_is_refused() -> None:
    config, rows = _bank_stream()
    plain = list(TransactionGenerator(config).events(300))
    following = TransactionGenerator(config)
    following.follow_bank(rows)  # every customer open, at home: nothing differs
    assert list(following.events(300)) == plain
    other = GeneratorConfig(start_ts=config.start_ts, seed=5, n_customers=80, population_seed=9)
    from rtml.datagen.bank import bank_rows

    with pytest.raises(ValueError, match="seeded from another population"):
        TransactionGenerator(config).follow_bank(bank_rows(other)[0])
