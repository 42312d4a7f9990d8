"""Time from ``rtml train`` to a registered version for 100k labelled examples (aim: under 2 minutes).

A generated history of 100k transactions (each labelled) is seeded into an empty offline store and both
views are backfilled (timed apart); then ``rtml train --nproc 2`` builds the point-in-time set, trains
with two gloo ranks, exports and checks ONNX, registers in MLflow (SQLite) and runs the gate. Publishing
is off (no broker needed). Prints the command's wall time and its steps; asserts nothing about time.
Run: scripts/bench -k train_pipeline
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.cli import run_rtml
from tests.support.services import isolated_settings, settings_env

TRANSACTIONS = 100_000


@pytest.mark.benchmark
def test_time_to_registered_version(tmp_path: Path) -> None:
    env = settings_env(isolated_settings(tmp_path))
    began = time.monotonic()
    seed = run_rtml(env, "offline", "seed", "--transactions", str(TRANSACTIONS), "--rate", "10", timeout=900)
    seeded = time.monotonic() - began
    assert seed.returncode == 0, seed.stderr
    began = time.monotonic()
    train = run_rtml(env, "train", "--nproc", "2", "--no-publish", timeout=900)
    took = time.monotonic() - began
    assert train.returncode == 0, train.stdout + train.stderr
    steps = next((line.strip() for line in train.stdout.splitlines() if "training_set" in line), "")
    result = next((line.strip() for line in train.stdout.splitlines() if "version 1 is the" in line), "")
    print(
        f"\nrtml train --nproc 2 on {TRANSACTIONS:,} labelled transactions (24 features, 8 epochs):\n"
        f"  {took:.1f} s from the command to a registered version (seeding + backfill before it: {seeded:.1f} s)\n"
        f"  {result}\n  {steps}"
    )
