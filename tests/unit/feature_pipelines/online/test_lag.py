"""Lag per topic from positions and watermarks."""

from __future__ import annotations

from feature_pipelines.online.lag import lag_by_topic


def test_lag_sums_partitions_and_counts_unread_partitions_from_the_low_watermark() -> None:
    partitions = [("features.a", 10, 0, 15), ("features.a", 7, 0, 7), ("features.b", -1001, 4, 9)]
    assert lag_by_topic(partitions, ["features.a", "features.b", "features.c"]) == {
        "features.a": 5,
        "features.b": 5,
        "features.c": 0,
    }


def test_lag_is_never_negative() -> None:
    assert lag_by_topic([("t", 12, 0, 10)], ["t"]) == {"t": 0}


def test_a_watermark_not_known_yet_counts_nothing() -> None:
    # cached watermarks before the first fetch of a partition: (-1001, -1001)
    assert lag_by_topic([("t", 5, -1001, -1001), ("t", -1001, -1001, 40), ("t", 3, 0, 10)], ["t"]) == {"t": 7}
