"""Lag arithmetic: records between the consumer's position and the high watermark."""

from __future__ import annotations

from feature_pipelines.offline.lag import partition_lag


def test_lag_counts_records_from_the_position_to_the_high_watermark() -> None:
    assert partition_lag(position=10, low=0, high=25) == 15
    assert partition_lag(position=25, low=0, high=25) == 0


def test_without_a_position_everything_retained_is_lag() -> None:
    assert partition_lag(position=-1001, low=5, high=25) == 20
    assert partition_lag(position=-1001, low=0, high=0) == 0


def test_a_position_below_the_retained_log_counts_from_low() -> None:
    assert partition_lag(position=2, low=5, high=25) == 20
    assert partition_lag(position=30, low=0, high=25) == 0
