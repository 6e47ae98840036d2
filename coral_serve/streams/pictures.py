"""The pictures encoders take: a published JPEG decoded to I420 once per replica."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np

from coral_serve.streams.fanout import FrameView

__all__ = ["decode_i420", "picture"]


def decode_i420(jpeg: bytes) -> np.ndarray:
    """The JPEG as planar I420 (what VP8 and H.264 encode), cropped to even sides."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("a published frame is not a decodable JPEG")
    height, width = image.shape[:2]
    return cv2.cvtColor(image[: height & ~1, : width & ~1], cv2.COLOR_BGR2YUV_I420)


async def picture(view: FrameView) -> np.ndarray:
    """The frame as I420, decoded off the loop once per replica whatever the viewer count."""
    if view.decoded is None:
        view.decoded = asyncio.ensure_future(asyncio.to_thread(decode_i420, view.jpeg))
    return await view.decoded
