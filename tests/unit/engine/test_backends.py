"""Backends: ONNX Runtime on real files, RKNN against a fake RKNNLite, entry-point plugins."""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from coral_serve.engine.backends import available_backends, create_backend, get_backend
from coral_serve.engine.backends.onnx import select_providers
from coral_serve.engine.errors import InferenceError, ModelLoadError
from coral_serve.engine.model import load_model, validate_model
from coral_serve.engine.sessions import SharedSessions
from coral_serve.errors import InvalidRequestError
from coral_serve.schema.spec import ModelSpec


def test_missing_model_file_is_a_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"model\.path .* does not exist") as info:
        validate_model(ModelSpec(path=str(tmp_path / "absent.onnx")))
    assert isinstance(info.value, InvalidRequestError) and info.value.status == 422


def test_garbage_model_file_is_a_model_load_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.onnx"
    path.write_bytes(b"this is not a protobuf" * 50)
    with pytest.raises(ModelLoadError, match="not a loadable ONNX model"):
        validate_model(ModelSpec(path=str(path)))


def test_model_that_does_not_fit_its_decoder(pose_model: Path) -> None:
    with pytest.raises(ModelLoadError, match="nanodet"):
        validate_model(ModelSpec(path=str(pose_model), decoder="nanodet"))


def test_unknown_backend() -> None:
    with pytest.raises(ModelLoadError, match=r"unknown backend 'tpu'.*onnxruntime"):
        validate_model(ModelSpec(backend="tpu", path="m"))


def test_onnxruntime_backend_details(pose_model: Path, tmp_path: Path) -> None:
    backend = create_backend(ModelSpec(path=str(pose_model), providers=["cuda", "cpu"]))
    try:
        assert backend.input_shape == (1, 3, 320, 320)
        assert backend.providers == ["CPUExecutionProvider"]  # type: ignore[attr-defined]
        options = backend._session.get_session_options()  # type: ignore[attr-defined]
        assert options.intra_op_num_threads == 1
        (out,) = backend.infer(np.zeros((1, 3, 320, 320), np.float32))
        assert out.shape == (1, 56, 2100)
    finally:
        backend.close()
    # class names come from the model's own metadata when the spec names none
    model = load_model(ModelSpec(path=str(pose_model)))
    assert model.decoder is not None and model.decoder.classes == ["person"]
    model.close()
    names = tmp_path / "names.txt"
    names.write_text("# one per line\nhuman\n\n")
    model = load_model(ModelSpec(path=str(pose_model), classes=str(names)))
    assert model.decoder is not None and model.decoder.classes == ["human"]
    model.close()


def test_select_providers_only_uses_what_exists() -> None:
    available = ["CPUExecutionProvider", "CUDAExecutionProvider"]
    assert select_providers(["TensorrtExecutionProvider", "cuda"], available) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert select_providers([], available) == ["CPUExecutionProvider"]


# -- RKNN through a fake RKNNLite with the real API shape -------------------------------


class FakeRKNNLite:
    """rknn-toolkit-lite2's API: failures come back as -1 / None, nothing is raised."""

    NPU_CORE_AUTO = 0
    NPU_CORE_0 = 1
    NPU_CORE_1 = 2
    load_result = 0
    init_result = 0
    outputs: list[np.ndarray] | None = None
    calls: list[tuple] = []

    def load_rknn(self, path: str) -> int:
        self.calls.append(("load_rknn", path))
        return self.load_result

    def init_runtime(self, core_mask: int = 0) -> int:
        self.calls.append(("init_runtime", core_mask))
        return self.init_result

    def inference(self, inputs: list[np.ndarray]) -> list[np.ndarray] | None:
        self.calls.append(("inference", inputs[0].shape, inputs[0].dtype))
        return self.outputs

    def release(self) -> None:
        self.calls.append(("release",))


@pytest.fixture
def fake_rknn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[type[FakeRKNNLite]]:
    fake = type("RKNNLite", (FakeRKNNLite,), {"calls": []})
    package = types.ModuleType("rknnlite")
    api = types.ModuleType("rknnlite.api")
    api.RKNNLite = fake  # type: ignore[attr-defined]
    package.api = api  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rknnlite", package)
    monkeypatch.setitem(sys.modules, "rknnlite.api", api)
    fake.outputs = [np.array([[[8, 24, 24, 40, 0.9, 1]]], np.float32)]
    (tmp_path / "model.rknn").write_bytes(b"RKNN")
    yield fake


def rknn_spec(tmp_path: Path, **extra: object) -> ModelSpec:
    data = {
        "backend": "rknn",
        "path": str(tmp_path / "model.rknn"),
        "decoder": "yolo-nms",
        "classes": ["a", "b"],
        "input_size": [64, 64],
    }
    return ModelSpec.model_validate({**data, **extra})


def test_rknn_runs_uint8_nhwc(fake_rknn: type[FakeRKNNLite], tmp_path: Path) -> None:
    model = load_model(rknn_spec(tmp_path, providers=["NPU_CORE_0", "NPU_CORE_1"]))
    (det,) = model.detect(np.zeros((64, 128, 3), np.uint8))
    model.close()
    model.close()
    assert (det.class_name, det.box) == ("b", (16.0, 16.0, 48.0, 48.0))
    assert ("init_runtime", 3) in fake_rknn.calls
    assert ("inference", (1, 64, 64, 3), np.dtype(np.uint8)) in fake_rknn.calls
    assert fake_rknn.calls.count(("release",)) == 1


@pytest.mark.parametrize(
    ("attribute", "message"), [("load_result", "load_rknn"), ("init_result", "init_runtime")]
)
def test_rknn_failure_codes_become_errors(
    fake_rknn: type[FakeRKNNLite], tmp_path: Path, attribute: str, message: str
) -> None:
    setattr(fake_rknn, attribute, -1)
    with pytest.raises(ModelLoadError, match=message):
        validate_model(rknn_spec(tmp_path))
    assert fake_rknn.calls[-1] == ("release",)


def test_rknn_inference_none_and_missing_size(
    fake_rknn: type[FakeRKNNLite], tmp_path: Path
) -> None:
    backend = create_backend(rknn_spec(tmp_path))
    fake_rknn.outputs = None
    with pytest.raises(InferenceError, match="no outputs"):
        backend.infer(np.zeros((1, 64, 64, 3), np.uint8))
    backend.close()
    with pytest.raises(ModelLoadError, match="input_size"):
        validate_model(rknn_spec(tmp_path, input_size=None))


def test_rknn_without_the_toolkit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "rknnlite", None)
    monkeypatch.delitem(sys.modules, "rknnlite.api", raising=False)
    (tmp_path / "model.rknn").write_bytes(b"RKNN")
    with pytest.raises(ModelLoadError, match="rknn-toolkit-lite2"):
        validate_model(rknn_spec(tmp_path))


# -- entry-point plugins, installed for real as a dist-info on sys.path ------------------


def install_plugin(root: Path) -> None:
    (root / "coral_fake_backend.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from coral_serve.engine.backends import BackendSpec

            class Echo:
                layout = "nchw-float32"
                def load(self, spec): self.path = spec.path
                @property
                def input_shape(self): return (1, 3, 32, 32)
                def infer(self, batch): return [np.zeros((1, 5, 6), np.float32)]
                def close(self): pass

            SPEC = BackendSpec("echo", Echo, "test plugin")
            SHADOW = BackendSpec("onnxruntime", Echo, "may not replace a built-in")
            """
        )
    )
    (root / "coral_fake_broken.py").write_text("raise RuntimeError('plugin bug')\n")
    dist = root / "coral_fake_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: coral-fake-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[coral_serve.backends]\n"
        "echo = coral_fake_backend:SPEC\n"
        "shadow = coral_fake_backend:SHADOW\n"
        "broken = coral_fake_broken:SPEC\n"
    )


def test_backends_from_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    install_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        backends = available_backends(reload=True)
        assert {"onnxruntime", "rknn", "none", "echo"} <= set(backends)
        assert "broken" not in backends
        assert get_backend("onnxruntime").description.startswith("ONNX Runtime")
        model = load_model(ModelSpec(backend="echo", path="x", decoder="yolo-nms"))
        assert model.detect(np.zeros((32, 32, 3), np.uint8)) == []
        model.close()
    finally:
        monkeypatch.undo()
        for name in ("coral_fake_backend", "coral_fake_broken"):
            sys.modules.pop(name, None)
        assert "echo" not in available_backends(reload=True)


def test_passthrough_backend_loads_nothing(constant_model: Callable[..., Path]) -> None:
    model = load_model(ModelSpec(backend="none"))
    assert model.passthrough and model.detect(np.zeros((8, 8, 3), np.uint8)) == []
    model.close()


def test_pipelines_of_one_process_share_one_session_per_model(nanodet_model: Path) -> None:
    """`pipelines.isolation: shared`: one ONNX session per model file, threads and providers,
    each pipeline with its own decoder thresholds; the last pipeline to close frees it."""
    sessions = SharedSessions()
    spec = ModelSpec(path=str(nanodet_model), decoder="nanodet", threads=1)
    first = load_model(spec, sessions=sessions)
    second = load_model(spec.model_copy(update={"confidence": 0.9}), sessions=sessions)
    other_threads = load_model(spec.model_copy(update={"threads": 2}), sessions=sessions)
    assert sessions.sessions() == 2
    assert first.decoder is not second.decoder
    assert (first.decoder.confidence, second.decoder.confidence) == (spec.confidence, 0.9)
    blank = np.full((416, 416, 3), 114, np.uint8)
    assert first.detect(blank) == second.detect(blank) == []
    first.close()
    first.close()  # a second close gives nothing back twice
    assert sessions.sessions() == 2 and second.detect(blank) == []
    second.close()
    other_threads.close()
    assert sessions.sessions() == 0
    # A backend that does not declare its infer thread-safe is loaded per pipeline.
    none_a = load_model(ModelSpec(backend="none"), sessions=sessions)
    none_b = load_model(ModelSpec(backend="none"), sessions=sessions)
    assert none_a.backend is not none_b.backend and sessions.sessions() == 0
