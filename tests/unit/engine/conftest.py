"""Fixtures: real models and video from ../shared, tiny ONNX graphs, a live MJPEG camera."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_file
from tests.unit.engine.support import MjpegServer


@pytest.fixture
def nanodet_model() -> Path:
    return shared_file("models", "nanodet-g-416.onnx")


@pytest.fixture
def pose_model() -> Path:
    return shared_file("models", "yolo11n-pose-320.onnx")


@pytest.fixture
def short_video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


@pytest.fixture
def long_video() -> Path:
    return shared_file("media", "vtest.mp4")


@pytest.fixture
def constant_model(tmp_path: Path) -> Callable[..., Path]:
    """Build an ONNX file whose outputs are fixed tensors: decoded results are exact."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    def build(
        outputs: dict[str, np.ndarray],
        input_shape: tuple[int, ...] = (1, 3, 64, 64),
        input_name: str = "images",
        name: str = "constant.onnx",
    ) -> Path:
        nodes = [
            helper.make_node(
                "Constant", [], [key], value=numpy_helper.from_array(value.astype(np.float32))
            )
            for key, value in outputs.items()
        ]
        graph = helper.make_graph(
            nodes,
            "constant",
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
            [
                helper.make_tensor_value_info(key, TensorProto.FLOAT, list(value.shape))
                for key, value in outputs.items()
            ],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        path = tmp_path / name
        onnx.save(model, str(path))
        return path

    return build


@pytest.fixture
def mjpeg_frames(short_video: Path) -> list[bytes]:
    capture = cv2.VideoCapture(str(short_video))
    frames = []
    for _ in range(10):
        ok, image = capture.read()
        assert ok
        frames.append(cv2.imencode(".jpg", cv2.resize(image, (384, 288)))[1].tobytes())
    capture.release()
    return frames


@pytest.fixture
def mjpeg_server(mjpeg_frames: list[bytes]) -> Iterator[MjpegServer]:
    server = MjpegServer(mjpeg_frames, fps=30)
    yield server
    server.close()
