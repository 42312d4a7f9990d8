"""Process-group set-up for training: one process (plain ``python``) or DDP ranks started by torchrun.

The device is chosen at run time: CUDA (NCCL, one GPU per local rank, autocast) when available, else the CPU
(gloo, full precision). Without torchrun's environment the run is world size 1 with no process group.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import sys
from dataclasses import dataclass
from typing import Literal, NoReturn

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)
DeviceChoice = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class Distributed:
    """Where this process stands: its rank, the world, the backend (``"none"`` for a single process), the device."""

    rank: int
    local_rank: int
    world_size: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.backend != "none"


def rank_from_env() -> int:
    """This process's rank before any process group exists (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def choose_device(choice: DeviceChoice, local_rank: int) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but CUDA is not available here; use --device auto or cpu")
    if choice != "cpu" and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def init_distributed(choice: DeviceChoice = "auto") -> Distributed:
    """Join the process group torchrun described in the environment, or stand alone as world size 1."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(choice, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if "MASTER_ADDR" not in os.environ:
        if world_size != 1:
            raise ValueError(f"WORLD_SIZE={world_size} without MASTER_ADDR; start several ranks with torchrun")
        return Distributed(0, 0, 1, "none", device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
    return Distributed(dist.get_rank(), local_rank, dist.get_world_size(), backend, device)


def shutdown(where: Distributed) -> None:
    """Leave the process group together: a rank that tears gloo down while a peer still works (rank 0 exporting
    the model) could abort in the teardown ("terminate called without an active exception", exit -6 in CI)."""
    if where.active and dist.is_initialized():
        try:
            dist.barrier()
        except RuntimeError as exc:  # a peer is gone already: nothing to wait for
            log.warning("rank %d: no barrier before leaving the process group: %s", where.rank, exc)
        dist.destroy_process_group()


def leave(code: int) -> NoReturn:
    """End a rank under torchrun without the interpreter's finalization. The DDP model keeps its own reference
    to the process group, so gloo's worker threads outlive ``destroy_process_group``; when finalization then
    freed them, a rank could abort ("terminate called without an active exception", exit -6) after its work
    was written, and torchrun failed the run (seen in CI even with the barrier of ``shutdown``). Logs and
    standard streams are flushed first; the run's files are closed already."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a broken pipe: nothing more to save
            stream.flush()
    os._exit(code)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one number."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast(device: torch.device, enabled: bool) -> tuple[contextlib.AbstractContextManager[object], str]:
    """Mixed precision on CUDA only: bf16 where supported, else fp16 (which needs a GradScaler)."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext(), "float32"
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype), str(dtype).removeprefix("torch.")


def all_sum(where: Distributed, values: list[float]) -> list[float]:
    """Element-wise sum over ranks (identity for a single process)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=where.device)
    if where.active:
        dist.all_reduce(tensor)
    return tensor.tolist()


def all_gather(where: Distributed, values: list[float]) -> list[list[float]]:
    """One list per rank, in rank order."""
    tensor = torch.tensor(values, dtype=torch.float64, device=where.device)
    if not where.active:
        return [tensor.tolist()]
    gathered = [torch.zeros_like(tensor) for _ in range(where.world_size)]
    dist.all_gather(gathered, tensor)
    return [t.tolist() for t in gathered]


def broadcast_flags(where: Distributed, flags: list[bool]) -> list[bool]:
    """Rank 0's flags, on every rank."""
    tensor = torch.tensor([int(f) for f in flags], dtype=torch.int64, device=where.device)
    if where.active:
        dist.broadcast(tensor, src=0)
    return [bool(v) for v in tensor.tolist()]


def weights_sha256(module: nn.Module) -> str:
    """sha256 over the bytes of every parameter and buffer, in ``state_dict`` order."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return digest.hexdigest()
