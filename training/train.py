"""``python -m training.train``: train a ``FraudMLP`` on a training set, data-parallel, and write a run directory.

One process:    python -m training.train --data train.parquet --out runs/r1
Several ranks:  python -m torch.distributed.run --standalone --nproc-per-node 2 -m training.train --data ... --out ...

Every rank reads the file, splits it by time and trains on its ``DistributedSampler`` share of the train slice
(``--batch-size`` is per rank). Rank 0 validates each epoch (PR-AUC, optional early stopping), then fits Platt
scaling on the validation logits (``--calibration``; the ``pos_weight`` loss skews raw probabilities towards
fraud), chooses the threshold on the calibrated validation scores, evaluates on the test slice and writes
``model.onnx`` (calibration in the graph, parity-checked), ``metrics.json`` and ``run.json`` to ``--out``.
The calibration is fitted after training, on rank 0 only: it is not part of the weights the ranks share.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import TensorDataset
from torch.utils.data.distributed import DistributedSampler

from training import evaluate
from training.calibration import fit_platt
from training.dataset import TrainingSet, load_training_set, require_both_classes, time_range, time_split
from training.distributed import (
    Distributed,
    all_gather,
    all_sum,
    autocast,
    broadcast_flags,
    init_distributed,
    leave,
    rank_from_env,
    seed_everything,
    shutdown,
    weights_sha256,
)
from training.export import OPSET, ParityError, export_onnx
from training.model import FraudMLP, ModelConfig, ScoreModel, fraud_model_from_config

log = logging.getLogger("rtml.training")
RUN_FILES = ("model.onnx", "metrics.json", "run.json")


@dataclass
class Fit:
    """What the training loop leaves behind on each rank."""

    epochs_run: int
    best_epoch: int
    samples: int
    seconds: float


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="training set Parquet (training.dataset)")
    parser.add_argument("--out", required=True, type=Path, help="run directory to write (rank 0)")
    parser.add_argument("--epochs", type=int, default=10, help="(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=512, help="per rank (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    parser.add_argument("--hidden", default="64,32", help="hidden layer widths (default: %(default)s)")
    parser.add_argument("--dropout", type=float, default=0.0, help="(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seeds torch, numpy, random, sampler (default: 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per rank (default: torch's)")
    parser.add_argument("--patience", type=int, default=0, help="epochs without val PR-AUC gain; 0 = off")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="(default: auto)")
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    parser.add_argument(
        "--calibration", choices=("platt", "none"), default="platt", help="fitted on validation (default: platt)"
    )
    parser.add_argument("--dump-weights-hash", action="store_true", help="each rank writes weights_hash_rank{r}.txt")
    args = parser.parse_args(argv)
    try:
        args.hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
    except ValueError:
        parser.error(f"--hidden {args.hidden!r}: give comma-separated integers such as 64,32")
    if not args.hidden or min(args.hidden) < 1 or not 0 <= args.dropout < 1:
        parser.error("--hidden needs positive widths such as 64,32 and --dropout a value in [0, 1)")
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.patience < 0:
        parser.error("--epochs and --batch-size must be >= 1, --lr > 0, --patience >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        data = load_training_set(args.data)  # before joining the group: bad input fails every rank alike
        splits = time_split(data.ts)
        require_both_classes(data.y[splits[0]])
        if args.calibration == "platt" and len(np.unique(data.y[splits[1]])) < 2:
            raise ValueError("the validation slice holds one class, too few to calibrate; use --calibration none")
        if any((args.out / name).exists() for name in RUN_FILES):
            raise ValueError(f"{args.out} already holds a run; give a new --out directory")
    except (ValueError, OSError, pa.ArrowException) as exc:
        if rank_from_env() == 0:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        where = init_distributed(args.device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    code = 0
    try:
        run(args, data, splits, where)
    except ParityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    finally:
        shutdown(where)
    if where.active:
        leave(code)  # a rank of a process group: no interpreter finalization, where gloo's threads could abort it
    return code


def run(args: argparse.Namespace, data: TrainingSet, splits: tuple[np.ndarray, ...], where: Distributed) -> None:
    train_idx, val_idx, test_idx = splits
    seed_everything(args.seed)
    model = fraud_model_from_config(
        ModelConfig(hidden=args.hidden, dropout=args.dropout), len(data.feature_names), data.X[train_idx]
    ).to(where.device)
    seed_everything(args.seed + where.rank)  # same initial weights everywhere, distinct dropout per rank
    if where.is_main:
        log.info(
            "training on %s: %d train / %d val / %d test rows, %d features, world size %d (%s, %s)",
            args.data, len(train_idx), len(val_idx), len(test_idx), len(data.feature_names),
            where.world_size, where.backend, where.device,
        )  # fmt: skip
    fit = fit_model(args, model, data, splits, where)
    per_rank = all_gather(where, [fit.samples, fit.seconds])
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dump_weights_hash:
        (args.out / f"weights_hash_rank{where.rank}.txt").write_text(weights_sha256(model) + "\n")
    if where.is_main:
        write_run(args, model, data, splits, where, fit, per_rank)


def fit_model(
    args: argparse.Namespace, model: FraudMLP, data: TrainingSet, splits: tuple[np.ndarray, ...], where: Distributed
) -> Fit:
    """Train in place; with ``--patience`` stop early and keep the best validation epoch's weights."""
    train_idx, val_idx, _ = splits
    X = torch.from_numpy(data.X[train_idx]).to(where.device)
    y = torch.from_numpy(data.y[train_idx]).float().to(where.device)
    positives = float(y.sum())
    criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - positives) / positives, device=where.device))
    net: nn.Module = model
    if where.active:
        net = DistributedDataParallel(model, device_ids=[where.device] if where.device.type == "cuda" else None)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    precision, precision_name = autocast(where.device, not args.no_amp)
    scaler = torch.amp.GradScaler("cuda", enabled=precision_name == "float16")
    sampler: DistributedSampler[tuple[torch.Tensor, ...]] = DistributedSampler(
        TensorDataset(X), num_replicas=where.world_size, rank=where.rank, shuffle=True, seed=args.seed
    )
    best_auc, best_epoch, best_state = -1.0, 0, None
    samples, seconds, epoch = 0, 0.0, 0
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler), dtype=torch.long, device=where.device)
        model.train()
        loss_sum = torch.zeros((), device=where.device)
        start = time.perf_counter()
        for batch in order.split(args.batch_size):
            optimizer.zero_grad(set_to_none=True)
            with precision:
                loss = criterion(net(X[batch]).float(), y[batch])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach() * len(batch)
        if where.device.type == "cuda":
            torch.cuda.synchronize(where.device)
        elapsed = time.perf_counter() - start
        samples, seconds = samples + len(order), seconds + elapsed
        total_loss, total_rows = all_sum(where, [float(loss_sum), float(len(order))])
        improved = stop = False
        if where.is_main:
            val_auc = evaluate.pr_auc(data.y[val_idx], model.predict_proba(data.X[val_idx]))
            improved = val_auc > best_auc
            best_auc, best_epoch = (val_auc, epoch) if improved else (best_auc, best_epoch)
            stop = args.patience > 0 and epoch - best_epoch >= args.patience
            log.info(
                "epoch %d/%d loss=%.4f val_pr_auc=%.4f samples/s=%.0f%s",
                epoch, args.epochs, total_loss / total_rows, val_auc, total_rows / elapsed,
                " (best)" if improved else "",
            )  # fmt: skip
        improved, stop = broadcast_flags(where, [improved, stop])
        if args.patience and improved:
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if stop:
            log.info("early stop after epoch %d: no val PR-AUC gain for %d epochs", epoch, args.patience)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return Fit(epochs_run=epoch, best_epoch=best_epoch, samples=samples, seconds=seconds)


def write_run(
    args: argparse.Namespace,
    model: FraudMLP,
    data: TrainingSet,
    splits: tuple[np.ndarray, ...],
    where: Distributed,
    fit: Fit,
    per_rank: list[list[float]],
) -> None:
    """Rank 0: calibrate on validation, evaluate on test, export and parity-check ONNX, write the run files."""
    train_idx, val_idx, test_idx = splits
    scorer, calibration = calibrate(args.calibration, model, data.X[val_idx], data.y[val_idx])
    scores_val = scorer.predict_proba(data.X[val_idx])
    scores_test = scorer.predict_proba(data.X[test_idx])
    metrics = evaluate.report(
        data.y[val_idx], scores_val, data.y[test_idx], scores_test, float(data.y[train_idx].mean())
    )
    onnx_path = args.out / "model.onnx"
    sha256 = export_onnx(scorer, onnx_path, data.feature_names, data.X[test_idx], threshold=metrics["threshold"])
    wall = max(seconds for _, seconds in per_rank)
    run_record: dict[str, Any] = {
        "feature_names": list(data.feature_names),
        "params": {
            k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
        },
        "seed": args.seed,
        "world_size": where.world_size,
        "backend": where.backend,
        "device": str(where.device),
        "precision": autocast(where.device, not args.no_amp)[1],
        "lineage": data.lineage,
        "data": str(args.data.resolve()),
        "splits": {
            name: time_range(data.ts[idx]) for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))
        },
        "epochs_run": fit.epochs_run,
        "best_epoch": fit.best_epoch,
        "training_seconds": wall,
        "samples_processed": int(sum(samples for samples, _ in per_rank)),
        "samples_per_s": sum(samples for samples, _ in per_rank) / wall,
        "per_rank_samples_per_s": [samples / seconds for samples, seconds in per_rank],
        "calibration": calibration,
        "model": {"file": onnx_path.name, "sha256": sha256, "opset": OPSET, "input": "features", "output": "score"},
        "torch_version": torch.__version__,
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (args.out / "run.json").write_text(json.dumps(run_record, indent=2) + "\n")
    test, trivial = metrics["test"], metrics["baseline"]
    log.info(
        "wrote %s: test roc_auc=%s pr_auc=%s (baseline %s) brier=%s (baseline %s), model sha256 %s",
        args.out, _fmt(test["roc_auc"]), _fmt(test["pr_auc"]), _fmt(trivial["pr_auc"]),
        _fmt(test["brier"]), _fmt(trivial["brier"]), sha256[:12],
    )  # fmt: skip


def calibrate(method: str, model: FraudMLP, X_val: np.ndarray, y_val: np.ndarray) -> tuple[ScoreModel, dict[str, Any]]:
    """The scorer to export and its ``run.json`` record: Platt ``(a, b)`` fitted on validation, or the plain sigmoid."""
    if method == "none":
        return ScoreModel(model), {"method": "none"}
    platt = fit_platt(model.predict_logits(X_val), y_val)
    scorer = ScoreModel(model, platt.a, platt.b)
    log.info("platt calibration on %d validation rows: a=%.4f b=%.4f", len(y_val), scorer.a, scorer.b)
    return scorer, {"method": "platt", "a": scorer.a, "b": scorer.b}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    sys.exit(main())
