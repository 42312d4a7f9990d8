import dataclasses

import pytest

from rtml.datagen.config import DEFAULT_COUNTRIES, GeneratorConfig

START = 1_700_000_000_000


def test_defaults_suit_a_live_demo():
    cfg = GeneratorConfig(start_ts=START)
    assert (cfg.seed, cfg.n_customers, cfg.n_merchants, cfg.rate) == (0, 1000, 200, 50.0)
    assert 0.01 <= cfg.fraud_rate <= 0.02
    assert cfg.legit_label_delay_s == 60.0 and cfg.fraud_label_delay_s == 300.0
    assert cfg.label_fraction == 1.0 and cfg.drift_at is None
    assert cfg.drift_amount_factor == 1.8 and cfg.drift_new_pattern and cfg.daily_cycle
    assert cfg.currency == "EUR" and cfg.countries == DEFAULT_COUNTRIES


def test_start_ts_has_no_default():
    with pytest.raises(TypeError):
        GeneratorConfig()  # type: ignore[call-arg]


def test_is_frozen_and_hashable_and_keeps_countries_as_a_tuple():
    cfg = GeneratorConfig(start_ts=START, countries=["DE", "FR"])
    assert cfg.countries == ("DE", "FR")
    assert hash(cfg) == hash(GeneratorConfig(start_ts=START, countries=("DE", "FR")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rate = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start_ts", -1),
        ("start_ts", 1.5),
        ("start_ts", 10**14),
        ("seed", -3),
        ("seed", True),
        ("n_customers", 0),
        ("n_merchants", 5),
        ("rate", 0.0),
        ("rate", float("nan")),
        ("rate", "50"),
        ("fraud_rate", -0.1),
        ("fraud_rate", 1.5),
        ("legit_label_delay_s", 0.0),
        ("fraud_label_delay_s", -1.0),
        ("label_delay_sigma", -0.1),
        ("label_fraction", 1.01),
        ("drift_at", -1),
        ("drift_at", 2.0),
        ("drift_amount_factor", 0.0),
        ("drift_amount_factor", float("inf")),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("countries", ()),
        ("countries", "DE"),
        ("countries", ("DE", "de")),
        ("countries", ("DE", "DE")),
    ],
)
def test_rejects_bad_values_naming_the_parameter(field, value):
    kwargs = {"start_ts": START, field: value}
    with pytest.raises(ValueError, match=rf"^{field} "):
        GeneratorConfig(**kwargs)


def test_n_merchants_error_says_why():
    with pytest.raises(ValueError, match="every merchant category has a merchant"):
        GeneratorConfig(start_ts=START, n_merchants=12)
    GeneratorConfig(start_ts=START, n_merchants=13)


def test_accepts_edges():
    GeneratorConfig(start_ts=0, fraud_rate=0.0, label_fraction=0.0, drift_at=0, label_delay_sigma=0.0)
    GeneratorConfig(start_ts=START, fraud_rate=1.0, countries=("US",))
