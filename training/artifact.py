"""What a run's ONNX file says about itself, without torch: the feature order and the decision threshold written at
export (its sha256 is ``training.versions.sha256_file``).

The registration step (``training.pipeline.check_artifact``) and the gate read these in the trigger's process,
where importing torch (``training.export``) would cost seconds for two small reads.
"""

from __future__ import annotations

import json
from pathlib import Path

FEATURE_NAMES_PROP = "rtml.feature_names"  # metadata key of the feature order; serving.runtime reads the same
THRESHOLD_PROP = "rtml.threshold"  # the score at which the model calls a positive (chosen on validation)


def onnx_feature_names(path: str | Path) -> list[str]:
    """The feature order written into the model's metadata at export."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return list(json.loads(props[FEATURE_NAMES_PROP]))
