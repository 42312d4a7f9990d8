"""Decode + validate throughput of a transaction through RecordCodec, against bare ``json.loads``.

Prints figures, asserts nothing about time. Run either way:

    python -m pytest tests/benchmarks/bench_schemas.py -m benchmark -s
    python tests/benchmarks/bench_schemas.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from schemas.registry import codec_for  # noqa: E402

# The smallest realistic transaction: all eleven fields with short ids. It is 206 bytes; no valid
# Transaction (keys included) fits in much under 180.
RECORD = (
    b'{"type":"transaction","event_id":"e1","ts":1700000000000,"customer_id":"c42","merchant_id":"m17",'
    b'"merchant_category":"grocery","amount":42.5,"currency":"EUR","country":"DE","device_id":"d9",'
    b'"channel":"pos"}'
)
DECODES_PER_RUN = 200_000
RUNS = 5


def records_per_second(
    decode: Callable[[bytes], Any], data: bytes, n: int = DECODES_PER_RUN, runs: int = RUNS
) -> float:
    """Median over ``runs`` of ``n`` decodes of ``data``, in records per second."""
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(n):
            decode(data)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def report(n: int = DECODES_PER_RUN, runs: int = RUNS) -> dict[str, float]:
    codec = codec_for("events.transactions")
    codec.decode(RECORD)  # fail loudly before timing if the sample is invalid
    figures = {
        "bytes": float(len(RECORD)),
        "codec_per_s": records_per_second(codec.decode, RECORD, n, runs),
        "json_loads_per_s": records_per_second(json.loads, RECORD, n, runs),
    }
    figures["ratio"] = figures["codec_per_s"] / figures["json_loads_per_s"]
    print(
        f"transaction ({len(RECORD)} B), median of {runs} x {n:,} decodes:\n"
        f"  RecordCodec decode+validate  {figures['codec_per_s']:>12,.0f} records/s"
        f"  ({1e6 / figures['codec_per_s']:.2f} us/record)\n"
        f"  json.loads (no validation)   {figures['json_loads_per_s']:>12,.0f} records/s"
        f"  ({1e6 / figures['json_loads_per_s']:.2f} us/record)\n"
        f"  ratio codec / json.loads     {figures['ratio']:>12.2f}x"
    )
    return figures


@pytest.mark.benchmark
def test_transaction_decode_throughput() -> None:
    figures = report()
    assert figures["codec_per_s"] > 0  # figures only; no timing threshold


if __name__ == "__main__":
    report()
