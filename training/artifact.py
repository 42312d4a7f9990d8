"""What a run's ONNX file says about itself, without torch: its sha256 and the feature order written at export.

The registration step (``training.pipeline.check_artifact``) and the gate read these in the trigger's process,
where importing torch (``training.export``) would cost seconds for two small reads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FEATURE_NAMES_PROP = "rtml.feature_names"  # metadata key of the feature order; serving.runtime reads the same


def onnx_feature_names(path: str | Path) -> list[str]:
    """The feature order written into the model's metadata at export."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return list(json.loads(props[FEATURE_NAMES_PROP]))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
