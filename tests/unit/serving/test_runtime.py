from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from feature_pipelines.repository import get_service
from serving import tensorrt_runtime
from serving.runtime import (
    ModelRuntime,
    OnnxRuntimeModel,
    RuntimeConfig,
    RuntimeUnavailable,
    choose_providers,
    load_runtime,
)
from serving.testing import write_linear_onnx

NAMES = get_service("fraud").feature_names
WEIGHTS = np.linspace(-0.5, 0.5, len(NAMES))
HAS_CUDA_EP = "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_linear_onnx(tmp_path_factory.mktemp("model") / "model.onnx", NAMES, WEIGHTS, bias=-1.0)


def expected(x: np.ndarray) -> np.ndarray:
    z = np.nan_to_num(x.astype(np.float64), nan=0.0) @ WEIGHTS - 1.0
    return 1 / (1 + np.exp(-z))


def test_providers_keep_the_configured_order_of_those_present_and_end_with_cpu() -> None:
    cpu, cuda, trt = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
    assert choose_providers(["tensorrt", "cuda", "cpu"], [cpu]) == [cpu]
    assert choose_providers(["tensorrt", "cuda", "cpu"], [cuda, cpu]) == [cuda, cpu]
    assert choose_providers(["cuda", "tensorrt"], [trt, cuda, cpu]) == [cuda, trt, cpu]
    assert choose_providers(["cpu"], [trt, cuda, cpu]) == [cpu]


def test_cpu_session_scores_batches_and_reads_the_feature_signature(model_path: Path) -> None:
    model = load_runtime(model_path, RuntimeConfig(threads=1))
    assert isinstance(model, OnnxRuntimeModel) and isinstance(model, ModelRuntime)
    assert model.provider == "cpu" and model.feature_names == NAMES
    rng = np.random.default_rng(0)
    for n in (1, 256):
        x = rng.normal(size=(n, len(NAMES))).astype(np.float32)
        x[0, 3] = np.nan  # imputed in the graph
        scores = model.predict(x)
        assert scores.shape == (n,) and scores.dtype == np.float32
        np.testing.assert_allclose(scores, expected(x), rtol=1e-5)
    assert model.predict(np.zeros((0, len(NAMES)), np.float32)).shape == (0,)


def test_a_gpu_provider_that_does_not_start_falls_back_to_cpu_and_says_so(
    model_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if HAS_CUDA_EP:
        pytest.skip("this build has CUDA: the fallback is not exercised")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING, logger="serving.runtime"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # onnxruntime's own note that the provider is not there
        model = OnnxRuntimeModel(model_path, providers=["cuda", "cpu"])
    assert model.requested[0] == "CUDAExecutionProvider" and model.provider == "cpu"
    assert "running on CPUExecutionProvider" in caplog.text


def test_the_native_tensorrt_runtime_says_what_to_install(model_path: Path) -> None:
    if tensorrt_runtime.available():
        pytest.skip("TensorRT and a GPU are present")
    with pytest.raises(RuntimeUnavailable, match=r"rtml\[gpu\]"):
        load_runtime(model_path, RuntimeConfig(runtime="tensorrt"))


def test_a_model_without_the_features_input_is_refused(tmp_path: Path) -> None:
    import onnx

    path = write_linear_onnx(tmp_path / "m.onnx", NAMES, WEIGHTS)
    proto = onnx.load(str(path))
    proto.graph.input[0].name = "inputs"
    for node in proto.graph.node:
        node.input[:] = ["inputs" if i == "features" else i for i in node.input]
    onnx.save(proto, str(path))
    with pytest.raises(ValueError, match="expected 'features'"):
        OnnxRuntimeModel(path)


@pytest.mark.skipif(not HAS_CUDA_EP, reason="needs onnxruntime-gpu and a CUDA GPU")
def test_cuda_provider_scores_like_cpu(model_path: Path) -> None:
    gpu = OnnxRuntimeModel(model_path, providers=["cuda", "cpu"])
    assert gpu.provider == "cuda"
    x = np.random.default_rng(1).normal(size=(256, len(NAMES))).astype(np.float32)
    np.testing.assert_allclose(gpu.predict(x), OnnxRuntimeModel(model_path).predict(x), rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not tensorrt_runtime.available(), reason="needs the tensorrt package and a CUDA GPU")
def test_native_tensorrt_engine_scores_like_onnx_runtime(model_path: Path, tmp_path: Path) -> None:
    engine = tensorrt_runtime.TensorRTModel(model_path, max_batch=64, cache_dir=tmp_path)
    assert engine.provider == "tensorrt" and engine.feature_names == NAMES
    x = np.random.default_rng(2).normal(size=(100, len(NAMES))).astype(np.float32)  # two chunks of <= 64
    x[5, 0] = np.nan
    np.testing.assert_allclose(engine.predict(x), OnnxRuntimeModel(model_path).predict(x), rtol=1e-3, atol=1e-5)
    assert list(tmp_path.glob("*.plan"))  # cached for the next start


def test_a_threshold_that_is_not_a_score_is_refused_at_load(tmp_path: Path) -> None:
    import onnx

    path = write_linear_onnx(tmp_path / "m.onnx", NAMES, WEIGHTS, threshold=0.2)
    assert load_runtime(path, RuntimeConfig()).threshold == pytest.approx(0.2)
    proto = onnx.load(str(path))
    for prop in proto.metadata_props:
        if prop.key == "rtml.threshold":
            prop.value = "high"
    onnx.save(proto, str(path))
    with pytest.raises(ValueError, match="rtml.threshold is 'high', not a score"):
        load_runtime(path, RuntimeConfig())
