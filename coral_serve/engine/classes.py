"""Class names: the spec's list, a names file, the model's own metadata, or COCO-80."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from coral_serve.engine.errors import ModelLoadError

__all__ = ["COCO80", "names_from_metadata", "resolve_classes"]

COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip


def resolve_classes(
    classes: list[str] | str | None, metadata: Mapping[str, str] | None = None
) -> list[str]:
    """The class list a decoder uses; its length is the class count of YOLO outputs."""
    if isinstance(classes, list):
        return list(classes)
    if isinstance(classes, str):
        return _read_names_file(Path(classes))
    from_model = names_from_metadata(metadata or {})
    return from_model if from_model else list(COCO80)


def names_from_metadata(metadata: Mapping[str, str]) -> list[str]:
    """Ultralytics exports carry `names` as a dict literal such as `{0: 'person'}`."""
    raw = metadata.get("names")
    if not raw:
        return []
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return []
    if isinstance(value, dict) and all(isinstance(k, int) for k in value):
        if sorted(value) != list(range(len(value))):
            return []
        return [str(value[i]) for i in range(len(value))]
    if isinstance(value, list | tuple):
        return [str(name) for name in value]
    return []


def _read_names_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelLoadError(f"cannot read class names file {path}: {exc.strerror}") from exc
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not names:
        raise ModelLoadError(f"class names file {path} lists no names")
    return names
