"""Pre- and post-processing per model family, chosen by `model.decoder`."""

from __future__ import annotations

from collections.abc import Sequence

from coral_serve.engine.decoders.base import (
    Decoder,
    DecoderMismatchError,
    Detection,
    Transform,
    letterbox,
    stretch,
)
from coral_serve.engine.decoders.nanodet import NanoDetDecoder
from coral_serve.engine.decoders.nms import nms
from coral_serve.engine.decoders.yolo import YoloDecoder, YoloNmsDecoder

__all__ = [
    "DECODERS",
    "Decoder",
    "DecoderMismatchError",
    "Detection",
    "NanoDetDecoder",
    "Transform",
    "YoloDecoder",
    "YoloNmsDecoder",
    "letterbox",
    "make_decoder",
    "nms",
    "stretch",
]

DECODERS: dict[str, type[Decoder]] = {
    cls.name: cls for cls in (YoloDecoder, YoloNmsDecoder, NanoDetDecoder)
}


def make_decoder(
    name: str,
    classes: Sequence[str],
    input_size: tuple[int, int],
    confidence: float = 0.35,
    iou: float = 0.45,
    max_detections: int = 100,
) -> Decoder:
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}; known: {', '.join(sorted(DECODERS))}")
    return DECODERS[name](classes, input_size, confidence, iou, max_detections)
