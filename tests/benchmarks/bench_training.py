"""DDP training throughput on the CPU: samples/s with 1 and 2 torchrun ranks (gloo) on one synthetic set.

Both runs use the same ~100k-row set, epochs, per-rank batch size and one thread per rank; the figure is
``run.json``'s ``samples_per_s`` (samples processed on all ranks / training wall time, process start-up and
evaluation excluded). The 2-rank run takes twice the global batch per step. Prints figures, asserts nothing
about time. Run either way:

    python -m pytest tests/benchmarks/bench_training.py -s
    python tests/benchmarks/bench_training.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from tests.support.synthetic_training import write_synthetic  # noqa: E402
from training.pipeline import torchrun_env  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ROWS = 100_000
EPOCHS = 3
BATCH_SIZE = 512


def train(data: Path, out: Path, ranks: int) -> dict[str, object]:
    """One torchrun training run; returns its run.json."""
    env = {**torchrun_env(out.parent / f"tmp-{out.name}"), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
        "-m", "training.train", "--data", str(data), "--out", str(out), "--epochs", str(EPOCHS),
        "--batch-size", str(BATCH_SIZE), "--threads", "1", "--device", "cpu", "--seed", "1",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"torchrun with {ranks} ranks failed:\n{result.stderr[-3000:]}")
    record: dict[str, object] = json.loads((out / "run.json").read_text())
    return record


def report(rows: int = ROWS) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        data = write_synthetic(Path(tmp) / "train.parquet", n_rows=rows, seed=5)
        runs = {ranks: train(data, Path(tmp) / f"run{ranks}", ranks) for ranks in (1, 2)}
    figures: dict[str, float] = {}
    lines = [f"DDP training on the CPU, {rows:,} rows, {EPOCHS} epochs, batch {BATCH_SIZE} per rank, 1 thread/rank:"]
    for ranks, run in runs.items():
        rate = float(run["samples_per_s"])  # type: ignore[arg-type]
        per_rank = ", ".join(f"{float(r):,.0f}" for r in run["per_rank_samples_per_s"])  # type: ignore[attr-defined]
        figures[f"samples_per_s_{ranks}"] = rate
        lines.append(
            f"  {ranks} rank{'s' if ranks > 1 else ' '} ({run['backend']})  {rate:>10,.0f} samples/s"
            f"  (per rank: {per_rank}; {run['training_seconds']:.2f} s training)"
        )
    figures["scaling"] = figures["samples_per_s_2"] / figures["samples_per_s_1"]
    lines.append(f"  scaling 2 ranks / 1 rank  {figures['scaling']:>8.2f}x  (CPUs here: {os.cpu_count()})")
    print("\n".join(lines))
    return figures


def test_training_throughput() -> None:
    figures = report()
    assert figures["samples_per_s_1"] > 0 and figures["samples_per_s_2"] > 0  # figures only; no timing threshold


if __name__ == "__main__":
    report()
