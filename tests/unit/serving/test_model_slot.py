from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from serving.model_slot import LoadedModel, ModelSlot, ModelSource, SwapRejected, prepare
from serving.testing import ConstantRuntime

NAMES = ("amount", "view__count")


class Models:
    """Artifacts on disk, runtimes by file name: ``score`` and ``names`` per version are configurable."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loaded: dict[str, ConstantRuntime] = {}
        self.scores: dict[str, float] = {}
        self.names: dict[str, tuple[str, ...]] = {}

    def source(self, version: str, *, sha256: str | None = None) -> ModelSource:
        path = self.root / f"v{version}.onnx"
        path.write_bytes(f"model {version}".encode())
        digest = sha256 or hashlib.sha256(path.read_bytes()).hexdigest()
        return ModelSource("fraud", version, "champion", str(path), digest)

    def load(self, path: Path) -> ConstantRuntime:
        version = path.stem[1:]
        if version == "broken":
            raise RuntimeError("not an ONNX file")
        runtime = ConstantRuntime(self.scores.get(version, 0.25), self.names.get(version, NAMES))
        self.loaded[version] = runtime
        return runtime

    def prepare(self, source: ModelSource) -> LoadedModel:
        return prepare(
            source,
            resolve=lambda s: Path(s.artifact),
            sha256=lambda p: hashlib.sha256(p.read_bytes()).hexdigest(),
            load=self.load,
            feature_names=NAMES,
            warmup=np.zeros((4, len(NAMES)), np.float32),
        )


@pytest.fixture
def models(tmp_path: Path) -> Models:
    return Models(tmp_path)


def slot(models: Models, events: list[str], background: bool = False) -> ModelSlot:
    return ModelSlot(
        "champion",
        models.prepare,
        background=background,
        on_swap=lambda role, old, new: events.append(f"swap {old.version if old else None}->{new.version}"),
        on_reject=lambda role, error: events.append(f"reject {error.source.version} at {error.step}"),
    )


def test_a_new_version_serves_only_from_the_next_batch_boundary(models: Models) -> None:
    events: list[str] = []
    s = slot(models, events)
    assert s.load_now(models.source("1")).version == "1"
    assert models.loaded["1"].calls == [4]  # warmed up before serving
    s.offer(models.source("2"))
    assert s.current is not None and s.current.version == "1"  # prepared beside it, not swapped
    assert s.swap_if_ready() is not None and s.current.version == "2"
    assert models.loaded["1"].closed and not models.loaded["2"].closed
    assert s.swap_if_ready() is None
    assert events == ["swap None->1", "swap 1->2"]


@pytest.mark.parametrize(
    ("version", "change", "step"),
    [
        ("2", {"sha256": "0" * 64}, "sha256"),
        ("2", {"names": ("view__count", "amount")}, "signature"),
        ("2", {"names": ("amount",)}, "signature"),
        ("2", {"score": float("nan")}, "warmup"),
        ("broken", {}, "load"),
    ],
)
def test_a_bad_candidate_is_rejected_and_the_old_model_keeps_serving(
    models: Models, version: str, change: dict, step: str
) -> None:
    events: list[str] = []
    s = slot(models, events)
    s.load_now(models.source("1"))
    if "names" in change:
        models.names[version] = change["names"]
    if "score" in change:
        models.scores[version] = change["score"]
    s.offer(models.source(version, sha256=change.get("sha256")))
    assert s.swap_if_ready() is None
    assert s.current is not None and s.current.version == "1" and not models.loaded["1"].closed
    assert events[-1] == f"reject {version} at {step}"
    if step == "sha256":
        assert version not in models.loaded  # never loaded what does not match the registry
    elif version in models.loaded:
        assert models.loaded[version].closed


def test_start_up_raises_when_the_first_model_is_bad(models: Models) -> None:
    with pytest.raises(SwapRejected, match="rejected at sha256"):
        slot(models, []).load_now(models.source("1", sha256="f" * 64))


def test_the_newest_of_several_ready_candidates_wins(models: Models) -> None:
    events: list[str] = []
    s = slot(models, events)
    s.load_now(models.source("1"))
    s.offer(models.source("2"))
    s.offer(models.source("3"))
    s.offer(models.source("3"))  # repeated update: ignored
    s.swap_if_ready()
    assert s.current is not None and s.current.version == "3"
    assert models.loaded["2"].closed and events == ["swap None->1", "swap 1->3"]
    s.offer(models.source("3"))  # already serving
    assert not s.loading


def test_candidates_load_on_a_background_thread(models: Models) -> None:
    s = slot(models, [], background=True)
    s.load_now(models.source("1"))
    s.offer(models.source("2"))
    s.wait_ready(10)
    assert s.loading and s.current is not None and s.current.version == "1"
    s.swap_if_ready()
    assert s.current.version == "2" and not s.loading
    s.close()
    assert models.loaded["2"].closed


def test_an_unexpected_error_while_preparing_is_a_rejection_too(models: Models) -> None:
    events: list[str] = []

    def explode(source: ModelSource) -> LoadedModel:
        raise OSError("disk gone")

    s = ModelSlot("champion", explode, background=False, on_reject=lambda r, e: events.append(e.step))
    s.offer(models.source("1"))
    assert s.swap_if_ready() is None and s.current is None and events == ["prepare"]


def test_prepare_explains_a_signature_mismatch(models: Models) -> None:
    models.names["2"] = ("other",)
    with pytest.raises(SwapRejected, match="features the model lacks") as info:
        models.prepare(models.source("2"))
    assert info.value.step == "signature"
