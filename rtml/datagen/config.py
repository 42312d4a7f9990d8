"""What the transaction generator produces: population size, event rate, fraud share, label delays, drift.

All times are event time. ``start_ts`` has no default on purpose: the generator never reads the wall
clock, so a caller (the CLI, a test) decides where the stream begins.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rtml.datagen.categories import CATEGORIES

_ISO2 = re.compile(r"^[A-Z]{2}$")
_ISO3 = re.compile(r"^[A-Z]{3}$")
_MAX_START_TS = 10**13  # 2286-11-20: leaves the schemas' bound (year 3000) centuries of headroom

DEFAULT_COUNTRIES: tuple[str, ...] = ("DE", "FR", "NL", "BE", "ES", "IT", "AT", "PL", "GB", "US")


@dataclass(frozen=True, kw_only=True, slots=True)
class GeneratorConfig:
    """Parameters of one synthetic transaction stream; the same config yields the same bytes.

    ``rate`` is the mean number of transactions per second of event time (labels come on top).
    ``fraud_rate`` is the expected share of transactions that are fraud, all patterns together.
    Label delays are lognormal with the given means (seconds) and ``label_delay_sigma`` as the
    log-scale spread; fraud (chargebacks) is labelled later than legit (confirmations) by default.
    ``drift_at`` is a transaction index: from that transaction on, legit amounts are multiplied by
    ``drift_amount_factor`` and, with ``drift_new_pattern``, the ``card_testing`` pattern appears.
    ``countries`` lists where customers live and merchants sit; the first is the most common.
    ``population_seed`` draws the customers and merchants (default: ``seed``): a stream with its own ``seed``
    (its own event ids) over the population the bank database was seeded with.
    """

    start_ts: int
    seed: int = 0
    population_seed: int | None = None
    n_customers: int = 1000
    n_merchants: int = 200
    rate: float = 50.0
    fraud_rate: float = 0.015
    legit_label_delay_s: float = 60.0
    fraud_label_delay_s: float = 300.0
    label_delay_sigma: float = 0.5
    label_fraction: float = 1.0
    drift_at: int | None = None
    drift_amount_factor: float = 1.8
    drift_new_pattern: bool = True
    daily_cycle: bool = True
    currency: str = "EUR"
    countries: tuple[str, ...] = DEFAULT_COUNTRIES

    def __post_init__(self) -> None:
        _check_int("start_ts", self.start_ts, low=0, high=_MAX_START_TS)
        _check_int("seed", self.seed, low=0)
        if self.population_seed is not None:
            _check_int("population_seed", self.population_seed, low=0)
        _check_int("n_customers", self.n_customers, low=1)
        _check_int("n_merchants", self.n_merchants, low=1)
        if self.n_merchants < len(CATEGORIES):
            raise ValueError(
                f"n_merchants must be >= {len(CATEGORIES)} so that every merchant category has a "
                f"merchant, got {self.n_merchants}"
            )
        _check_float("rate", self.rate, low=0.0, low_open=True, high=1e6)
        _check_float("fraud_rate", self.fraud_rate, low=0.0, high=1.0)
        _check_float("legit_label_delay_s", self.legit_label_delay_s, low=0.0, low_open=True)
        _check_float("fraud_label_delay_s", self.fraud_label_delay_s, low=0.0, low_open=True)
        _check_float("label_delay_sigma", self.label_delay_sigma, low=0.0, high=3.0)
        _check_float("label_fraction", self.label_fraction, low=0.0, high=1.0)
        if self.drift_at is not None:
            _check_int("drift_at", self.drift_at, low=0)
        _check_float("drift_amount_factor", self.drift_amount_factor, low=0.0, low_open=True, high=1000.0)
        if not isinstance(self.currency, str) or not _ISO3.match(self.currency):
            raise ValueError(f"currency must be an ISO 4217 code of three capital letters, got {self.currency!r}")
        if isinstance(self.countries, str) or not isinstance(self.countries, tuple | list):
            raise ValueError(f"countries must be a sequence of ISO 3166 alpha-2 codes, got {self.countries!r}")
        if not self.countries:
            raise ValueError("countries must list at least one ISO 3166 alpha-2 code")
        for code in self.countries:
            if not isinstance(code, str) or not _ISO2.match(code):
                raise ValueError(f"countries must hold two capital letters each (ISO 3166), got {code!r}")
        if len(set(self.countries)) != len(self.countries):
            raise ValueError(f"countries must not repeat a code, got {list(self.countries)}")
        # Frozen: a list given by the caller is stored as a tuple, so the config stays hashable.
        object.__setattr__(self, "countries", tuple(self.countries))


def population_seed(config: GeneratorConfig) -> int:
    """The seed of ``config``'s customers and merchants."""
    return config.seed if config.population_seed is None else config.population_seed


def _check_int(name: str, value: object, *, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")


def _check_float(
    name: str,
    value: object,
    *,
    low: float,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value > high):
        lower = f"> {low}" if low_open else f">= {low}"
        bound = lower if high is None else f"{lower} and <= {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
