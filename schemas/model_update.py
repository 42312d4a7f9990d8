"""A model registry change on ``models.updates`` (compacted), keyed by model."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.errors import RuleViolation
from schemas.fields import EpochMs, Name, Sha256, require_finite

Action = Literal["registered", "promoted", "rolled_back", "archived"]
Uri = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class ModelUpdate(msgspec.Struct, forbid_unknown_fields=False):
    """``model`` at ``version`` got ``alias`` (``champion``, ``challenger`` ...) by ``action``.

    The scorer loads ``artifact_uri`` (ONNX only) and checks its ``sha256`` (64 lowercase hex,
    rule ``pattern``) before swapping it in. ``previous_version`` is the version that held the alias
    before; it must differ from ``version`` (rule ``differs_from_version``). ``metrics`` values must
    be finite (rule ``finite``).
    """

    model: Name
    version: Name
    alias: Name
    artifact_uri: Uri
    sha256: Sha256
    ts: EpochMs
    action: Action = "promoted"
    previous_version: Name | None = None
    metrics: dict[Name, float] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.previous_version is not None and self.previous_version == self.version:
            raise RuleViolation(
                "previous_version",
                "differs_from_version",
                f"previous_version {self.previous_version!r} is the same as version",
            )
        for name, value in self.metrics.items():
            require_finite(f"metrics.{name}", value)
