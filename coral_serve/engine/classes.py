"""Class names: the spec's list, a names file, the model's own metadata, or COCO-80."""

from __future__ import annotations

import ast
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from coral_serve.engine.errors import ModelLoadError

__all__ = ["COCO80", "MAX_NAMES_FILE_BYTES", "names_from_metadata", "resolve_classes"]

# Far above any real label list; a request naming /dev/zero must not exhaust memory.
MAX_NAMES_FILE_BYTES = 1 << 20

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
    """Only a regular file, and at most MAX_NAMES_FILE_BYTES of it: the path comes from a
    request, so it may name a device, a FIFO or a huge file."""
    try:
        # Non-blocking, so opening a FIFO returns at once and fstat can refuse it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ModelLoadError(f"class names file {path} is not a regular file")
            data = handle.read(MAX_NAMES_FILE_BYTES + 1)
    except OSError as exc:
        raise ModelLoadError(f"cannot read class names file {path}: {exc.strerror}") from exc
    if len(data) > MAX_NAMES_FILE_BYTES:
        raise ModelLoadError(f"class names file {path} is larger than {MAX_NAMES_FILE_BYTES} bytes")
    lines = data.decode("utf-8", errors="replace").splitlines()
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not names:
        raise ModelLoadError(f"class names file {path} lists no names")
    return names
