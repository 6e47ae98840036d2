"""Every decoder against ONNX graphs whose outputs are known constants, so results are exact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from coral_serve.engine.decoders import (
    DecoderMismatchError,
    NanoDetDecoder,
    YoloDecoder,
    letterbox,
    nms,
    stretch,
)
from coral_serve.engine.errors import ModelLoadError
from coral_serve.engine.model import load_model
from coral_serve.schema.spec import ModelSpec

# A 128x64 frame into a 64x64 input: letterbox gain 0.5, 16 px of padding above and below.
FRAME = np.zeros((64, 128, 3), dtype=np.uint8)


def yolo_head() -> np.ndarray:
    """[1, 4 + 2 classes + 3 extra, 5 candidates]: cx, cy, w, h, cat, dog, extra..."""
    candidates = [
        # cx, cy, w, h, cat, dog
        (20, 30, 10, 20, 0.90, 0.05),  # cat, kept
        (21, 30, 10, 20, 0.80, 0.10),  # cat, overlaps the first: suppressed
        (21, 31, 10, 20, 0.05, 0.70),  # dog at the same place: kept (class-aware NMS)
        (50, 40, 8, 8, 0.10, 0.60),  # dog, kept
        (40, 20, 8, 8, 0.20, 0.30),  # below confidence 0.35: dropped
    ]
    head = np.array(candidates, dtype=np.float32).T
    extra = np.full((3, head.shape[1]), 7.0, dtype=np.float32)  # keypoint-like values
    return np.concatenate([head, extra])[np.newaxis]


def test_letterbox_and_transform_round_trip() -> None:
    image, transform = letterbox(FRAME, (64, 64))
    assert image.shape == (64, 64, 3)
    assert (transform.scale_x, transform.pad_x, transform.pad_y) == (0.5, 0, 16)
    assert int(image[0, 0, 0]) == 114 and int(image[32, 32, 0]) == 0
    boxes = transform.to_frame(np.array([[10.0, 26.0, 30.0, 46.0], [-5.0, 0.0, 70.0, 70.0]]))
    assert boxes.tolist() == [[20.0, 20.0, 60.0, 60.0], [0.0, 0.0, 128.0, 64.0]]
    _, plain = stretch(FRAME, (32, 32))
    assert (plain.scale_x, plain.scale_y) == (0.25, 0.5)


def test_nms_is_class_aware_and_keeps_best_first() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    scores = np.array([0.5, 0.9, 0.8, 0.1])
    assert nms(boxes, scores, 0.5).tolist() == [1, 3]
    assert nms(boxes, scores, 0.5, np.array([0, 0, 1, 0])).tolist() == [1, 2, 3]
    assert nms(boxes, scores, 0.5, max_keep=1).tolist() == [1]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_yolo_decoder_on_constant_graph(constant_model: Callable[..., Path]) -> None:
    path = constant_model({"output0": yolo_head()})
    model = load_model(ModelSpec(path=str(path), decoder="yolo", classes=["cat", "dog"]))
    try:
        assert model.decoder is not None and model.decoder.input_size == (64, 64)
        detections = model.detect(FRAME)
    finally:
        model.close()
    got = [(d.class_name, d.class_id, round(d.score, 4), d.box) for d in detections]
    # input (cx, cy, w, h) -> frame: x = (cx -/+ w/2) / 0.5, y = (cy -/+ h/2 - 16) / 0.5
    assert got == [
        ("cat", 0, 0.9, (30.0, 8.0, 50.0, 48.0)),
        ("dog", 1, 0.7, (32.0, 10.0, 52.0, 50.0)),
        ("dog", 1, 0.6, (92.0, 40.0, 108.0, 56.0)),
    ]
    assert detections[0].as_dict() == {
        "class": "cat",
        "class_id": 0,
        "score": 0.9,
        "box": [30.0, 8.0, 50.0, 48.0],
    }


def test_yolo_decoder_limits_and_class_count(constant_model: Callable[..., Path]) -> None:
    path = constant_model({"output0": yolo_head()})
    spec = ModelSpec(path=str(path), classes=["cat", "dog"], max_detections=1, confidence=0.65)
    model = load_model(spec)
    try:
        assert [d.score for d in model.detect(FRAME)] == [pytest.approx(0.9)]
    finally:
        model.close()
    with pytest.raises(ModelLoadError, match="classes"):  # 80 COCO classes cannot fit 9 rows
        load_model(ModelSpec(path=str(path), decoder="yolo"))


def test_yolo_nms_decoder_on_constant_graph(constant_model: Callable[..., Path]) -> None:
    rows = np.array(
        [
            [10, 26, 30, 46, 0.95, 2],  # x1, y1, x2, y2 in input space, score, class
            [0, 16, 64, 48, 0.50, 0],
            [5, 20, 15, 30, 0.20, 1],  # below confidence
            [0, 0, 0, 0, 0.00, 0],  # padding row of an end-to-end export
        ],
        dtype=np.float32,
    )[np.newaxis]
    path = constant_model({"output0": rows})
    model = load_model(ModelSpec(path=str(path), decoder="yolo-nms", classes=["a", "b", "c"]))
    try:
        detections = model.detect(FRAME)
    finally:
        model.close()
    assert [(d.class_name, round(d.score, 4), d.box) for d in detections] == [
        ("c", 0.95, (20.0, 20.0, 60.0, 60.0)),
        ("a", 0.5, (0.0, 0.0, 128.0, 64.0)),
    ]


def nanodet_outputs(nc: int = 3, bins: int = 11) -> dict[str, np.ndarray]:
    """A 32x32 input: strides 8/16/32 give 16, 4 and 1 cells; names hide which is which."""
    tensors: dict[str, np.ndarray] = {}
    for index, cells in enumerate((16, 4, 1)):
        scores = np.zeros((1, cells, nc), dtype=np.float32)
        dists = np.full((1, cells, 4 * bins), -100.0, dtype=np.float32)
        dists[..., 0::bins] = 100.0  # every side at bin 0 unless set below
        tensors[f"Identity_{2 * index}"] = dists
        tensors[f"Identity_{2 * index + 1}"] = scores
    return tensors


def set_cell(
    tensors: dict[str, np.ndarray], cells: int, cell: int, cls: int, score: float, sides: tuple
) -> None:
    scores = next(t for t in tensors.values() if t.shape[1] == cells and t.shape[2] == 3)
    dists = next(t for t in tensors.values() if t.shape[1] == cells and t.shape[2] == 44)
    scores[0, cell, cls] = score
    dists[0, cell, :] = -100.0
    for side, bin_index in enumerate(sides):
        dists[0, cell, side * 11 + bin_index] = 100.0


def test_nanodet_decoder_on_constant_graph(constant_model: Callable[..., Path]) -> None:
    tensors = nanodet_outputs()
    # stride 8, row 1, col 2: centre (20, 12); sides 1, 1, 1, 2 bins -> box (12, 4, 28, 28)
    set_cell(tensors, 16, 1 * 4 + 2, cls=1, score=0.9, sides=(1, 1, 1, 2))
    # stride 8, row 1, col 1: centre (12, 12); sides 0, 1, 2, 2 -> the same box, lower score
    set_cell(tensors, 16, 1 * 4 + 1, cls=1, score=0.5, sides=(0, 1, 2, 2))
    # stride 16, row 1, col 0: centre (8, 24); sides 0, 1, 1, 0 bins -> box (8, 8, 24, 24)
    set_cell(tensors, 4, 2, cls=2, score=0.6, sides=(0, 1, 1, 0))
    # stride 32: a score under the confidence threshold
    set_cell(tensors, 1, 0, cls=0, score=0.3, sides=(1, 1, 1, 1))
    # shuffle the outputs: matching must go by shape, never by order or name
    shuffled = dict(reversed(list(tensors.items())))
    path = constant_model(shuffled, input_shape=(1, 3, 32, 32), input_name="input_1:0")
    frame = np.zeros((64, 128, 3), dtype=np.uint8)  # plain resize: x * 4, y * 2
    model = load_model(ModelSpec(path=str(path), decoder="nanodet", classes=["a", "b", "c"]))
    try:
        detections = model.detect(frame)
    finally:
        model.close()
    got = [(d.class_name, round(d.score, 4), d.box) for d in detections]
    assert [g[:2] for g in got] == [("b", 0.9), ("c", 0.6)]
    assert got[0][2] == pytest.approx((48.0, 8.0, 112.0, 56.0), abs=1e-4)
    assert got[1][2] == pytest.approx((32.0, 16.0, 96.0, 48.0), abs=1e-4)


def test_nanodet_softmax_expectation_between_bins() -> None:
    decoder = NanoDetDecoder(["a"], (32, 32), confidence=0.1)
    outputs = [np.zeros((1, c, 1), np.float32) for c in (16, 4, 1)]
    dists = [np.full((1, c, 44), -100.0, np.float32) for c in (16, 4, 1)]
    outputs[0][0, 5, 0] = 0.8  # stride 8, row 1, col 1: centre (12, 12)
    dists[0][0, 5, :] = -100.0
    for side in range(4):  # equal logits at bins 1 and 2: expected distance 1.5 bins = 12 px
        dists[0][0, 5, side * 11 + 1] = dists[0][0, 5, side * 11 + 2] = 5.0
    _, transform = stretch(np.zeros((32, 32, 3), np.uint8), (32, 32))
    (det,) = decoder.decode(outputs + dists, transform)
    assert det.box == pytest.approx((0.0, 0.0, 24.0, 24.0))


def test_decoders_reject_foreign_outputs() -> None:
    _, transform = letterbox(FRAME, (64, 64))
    with pytest.raises(DecoderMismatchError):
        YoloDecoder(["a"], (64, 64)).decode([np.zeros((1, 4, 10), np.float32)], transform)
    with pytest.raises(DecoderMismatchError, match="stride"):
        NanoDetDecoder(["a"], (32, 32)).decode([np.zeros((1, 16, 1), np.float32)], transform)
