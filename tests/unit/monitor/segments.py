"""Small but real H.264 MP4 segments, laid out as the recorder lays them out."""

from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_segment(path: Path, frames: int = 5, age_seconds: float = 0.0) -> Path:
    """A playable MP4 of moving synthetic frames; its mtime set `age_seconds` in the past."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for index in range(frames):
            image = np.zeros((48, 64, 3), dtype=np.uint8)
            image[:, (index * 7) % 64 :, 1] = 200
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def segment_name(age_seconds: float) -> str:
    """The recorder's `<start ms>-<end ms>.mp4` naming."""
    start = round((time.time() - age_seconds) * 1000)
    return f"{start:013d}-{start + 1000:013d}.mp4"
