from random import Random

import numpy as np
import pytest

from rtml.datagen.config import GeneratorConfig
from rtml.datagen.labels import LabelPolicy, lognormal_mu
from schemas.transaction import Transaction

START = 1_700_000_000_000


def tx(i):
    return Transaction(f"tx-{i}", START + i, "cust-1", "merch-1", "grocery", 10.0, "EUR", "DE", "dev-1", "pos")


def labels(config, is_fraud, n=5000, seed=0):
    policy = LabelPolicy(config, Random(seed))
    return [policy.label_for(tx(i), is_fraud) for i in range(n)]


def test_lognormal_mu_gives_the_mean():
    rng = np.random.default_rng(0)
    assert rng.lognormal(lognormal_mu(60.0, 0.5), 0.5, 200_000).mean() == pytest.approx(60.0, rel=0.01)


def test_fraud_is_charged_back_later_than_legit_is_confirmed():
    cfg = GeneratorConfig(start_ts=START)
    legit = labels(cfg, False)
    fraud = labels(cfg, True)
    legit_delay = np.mean([lab.ts - lab.event_ts for lab in legit]) / 1000
    fraud_delay = np.mean([lab.ts - lab.event_ts for lab in fraud]) / 1000
    assert legit_delay == pytest.approx(60.0, rel=0.05)
    assert fraud_delay == pytest.approx(300.0, rel=0.05)
    assert {lab.label for lab in legit} == {0} and {lab.label for lab in fraud} == {1}
    assert {lab.source for lab in legit} == {"confirmed_legit", "manual_review"}
    assert {lab.source for lab in fraud} == {"chargeback", "manual_review"}
    assert sum(lab.source == "chargeback" for lab in fraud) / len(fraud) == pytest.approx(0.8, abs=0.03)


def test_label_refers_to_its_transaction_and_never_precedes_it():
    cfg = GeneratorConfig(start_ts=START, legit_label_delay_s=0.001, label_delay_sigma=3.0)
    for i, lab in enumerate(labels(cfg, False, n=2000)):
        assert lab.event_id == f"tx-{i}" and lab.customer_id == "cust-1"
        assert lab.event_ts == START + i and lab.ts >= lab.event_ts


def test_label_fraction_drops_labels_without_moving_the_others():
    full = labels(GeneratorConfig(start_ts=START), True, n=4000)
    half = labels(GeneratorConfig(start_ts=START, label_fraction=0.5), True, n=4000)
    kept = [(a, b) for a, b in zip(full, half, strict=True) if b is not None]
    assert len(kept) / 4000 == pytest.approx(0.5, abs=0.03)
    assert all(a == b for a, b in kept)
    assert labels(GeneratorConfig(start_ts=START, label_fraction=0.0), False, n=100) == [None] * 100
