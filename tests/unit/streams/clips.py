"""Short synthetic clips in the codecs a source may have, written with PyAV's encoders."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

_SIZE = (320, 240)


def _picture(index: int) -> np.ndarray:
    """A bright frame with a square that moves, so consecutive frames differ."""
    width, height = _SIZE
    image = np.full((height, width, 3), (200, 160, 90), np.uint8)
    left = (index * 8) % (width - 40)
    image[100:140, left : left + 40] = 255
    return image


def write_clip(path: Path, codec: str, frames: int, fps: int = 20) -> Path:
    """`codec`: libx264 (constrained baseline, a keyframe every 10 frames), mjpeg or
    libvpx (VP8); the container follows `path`'s suffix (.mp4, .ts, .avi, .webm)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = _SIZE
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            stream.options = {"g": "10", "bf": "0", "preset": "ultrafast"}
            stream.profile = "Constrained Baseline"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(_picture(index), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
