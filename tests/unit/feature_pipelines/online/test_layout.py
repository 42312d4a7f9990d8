"""The packed value: round trip, NaN for null and missing, headers that order like window_end."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feature_pipelines.definitions import Window
from feature_pipelines.online.layout import HEADER_BYTES, RowEncodingError, decode_rows, encode_row, layout_of, row_key
from feature_pipelines.repository import customer_txn_stats, merchant_txn_stats
from schemas.feature_row import FeatureRow

VIEW = customer_txn_stats
NAMES = VIEW.feature_names
MAX_EPOCH_MS = 32_503_680_000_000


def row(entity: str = "c1", window_end: int = 1_700_000_060_000, **values: object) -> FeatureRow:
    return FeatureRow(VIEW.name, entity, window_end - 60_000, window_end, dict(values))  # type: ignore[arg-type]


def test_key_names_view_fingerprint_and_entity() -> None:
    assert row_key(VIEW, "c-42") == f"rtml:f:customer_txn_stats:{VIEW.fingerprint}:c-42"
    assert len(VIEW.fingerprint) == 12


def test_a_changed_definition_gets_new_keys() -> None:
    changed = replace(VIEW, windows=(*VIEW.windows[:2], Window(timedelta(days=7), timedelta(minutes=1))))
    assert row_key(changed, "c1") != row_key(VIEW, "c1")
    assert row_key(replace(VIEW, ttl=timedelta(hours=1)), "c1") == row_key(VIEW, "c1")  # TTL is not the shape


def test_round_trip_in_feature_order_with_nan_for_null_and_absent() -> None:
    values = {name: float(i) + 0.5 for i, name in enumerate(NAMES)}
    values["count_5m"] = 7
    values["sum_amount_1h"] = None  # type: ignore[assignment]
    del values["max_amount_24h"]
    blob = encode_row(VIEW, row(**values, not_a_feature=3.0))
    assert len(blob) == HEADER_BYTES + 8 * len(NAMES)
    decoded, window_end = decode_rows(VIEW, [blob])
    assert decoded.shape == (1, 15) and decoded.dtype == np.float64 and decoded.flags.c_contiguous
    assert window_end.tolist() == [1_700_000_060_000] and window_end.dtype == np.int64
    got = dict(zip(NAMES, decoded[0].tolist(), strict=True))
    assert got["count_5m"] == 7.0
    assert math.isnan(got["sum_amount_1h"]) and math.isnan(got["max_amount_24h"])
    assert got["mean_amount_1h"] == values["mean_amount_1h"]


def test_missing_entities_decode_as_nan_and_window_end_zero() -> None:
    blob = encode_row(VIEW, row(count_5m=1))
    values, window_end = decode_rows(VIEW, [None, blob, None])
    assert window_end.tolist() == [0, 1_700_000_060_000, 0]
    assert np.isnan(values[0]).all() and np.isnan(values[2]).all() and values[1, 0] == 1.0
    empty, ends = decode_rows(VIEW, [])
    assert empty.shape == (0, 15) and ends.shape == (0,)


def test_booleans_and_ints_are_numbers_strings_are_refused() -> None:
    values, _ = decode_rows(VIEW, [encode_row(VIEW, row(count_5m=True, sum_amount_5m=3))])
    assert values[0, :2].tolist() == [1.0, 3.0]
    with pytest.raises(RowEncodingError, match=r"feature 'mean_amount_5m' = 'DE' is not a number") as info:
        encode_row(VIEW, row(mean_amount_5m="DE"))
    assert info.value.entity_id == "c1"


def test_a_row_of_another_view_or_without_a_window_end_is_refused() -> None:
    with pytest.raises(RowEncodingError, match="expected a row of view 'merchant_txn_stats'"):
        encode_row(merchant_txn_stats, row())
    with pytest.raises(RowEncodingError, match="window_end 0"):
        encode_row(VIEW, FeatureRow(VIEW.name, "c1", -5, 0, {}))


def test_a_value_of_the_wrong_size_is_reported_not_misread() -> None:
    good = encode_row(VIEW, row())
    with pytest.raises(ValueError, match="value 1 of view 'customer_txn_stats'.* is 40 bytes, expected 128"):
        decode_rows(VIEW, [good, b"x" * 40])


def test_layouts_are_built_once_per_view() -> None:
    assert layout_of(VIEW) is layout_of(VIEW)
    assert layout_of(merchant_txn_stats).row_bytes == 8 + 8 * 4


window_ends = st.integers(min_value=1, max_value=MAX_EPOCH_MS)


@given(window_ends, window_ends)
def test_headers_compare_bytewise_like_window_end(a: int, b: int) -> None:
    blob_a, blob_b = encode_row(VIEW, row(window_end=a)), encode_row(VIEW, row(window_end=b))
    assert (blob_a[:HEADER_BYTES] < blob_b[:HEADER_BYTES]) == (a < b)
    assert (blob_a[:HEADER_BYTES] == blob_b[:HEADER_BYTES]) == (a == b)


@given(st.lists(st.floats(allow_nan=False, width=64), min_size=15, max_size=15), window_ends)
def test_any_finite_or_infinite_values_round_trip(values: list[float], window_end: int) -> None:
    blob = encode_row(VIEW, row(window_end=window_end, **dict(zip(NAMES, values, strict=True))))
    decoded, ends = decode_rows(VIEW, [blob])
    assert decoded[0].tolist() == values and ends.tolist() == [window_end]


@given(st.lists(st.one_of(st.none(), st.binary(max_size=200)), max_size=8))
def test_decoding_stored_bytes_never_crashes_otherwise(blobs: list[bytes | None]) -> None:
    try:
        values, window_end = decode_rows(VIEW, blobs)
    except ValueError as exc:
        assert "expected 128" in str(exc)
    else:
        assert values.shape == (len(blobs), 15) and window_end.shape == (len(blobs),)
