"""One encoder per pipeline: recordings and event clips mux the same H.264 packets."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from coral_serve.engine import encoding
from coral_serve.engine.encoding import PacketEncoder
from coral_serve.engine.recorder import SegmentRecorder
from coral_serve.engine.recording_files import RecordingSettings, parse_segment_name
from coral_serve.schema.spec import PipelineSpec
from coral_serve.workers.worker import PipelineWorker
from tests.unit.engine.support import wait_until

FPS = 10


def _image(index: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    width, height = size
    image = np.full((height, width, 3), 40, np.uint8)
    x = (8 * index) % (width - 40)
    image[height // 3 : height // 3 + 40, x : x + 40] = 250
    return image


def _source_video(path: Path, frames: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(_image(index), format="bgr24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _decoded(path: Path) -> tuple[float, list[av.VideoFrame]]:
    with av.open(str(path)) as container:
        duration = float(container.duration) / av.time_base
        return duration, list(container.decode(video=0))


def _segments(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if parse_segment_name(p.name) is not None)


def test_a_worker_recording_and_cutting_clips_encodes_each_frame_once(tmp_path: Path) -> None:
    video = _source_video(tmp_path / "source.mp4", frames=30)
    spec = PipelineSpec.model_validate(
        {
            "name": "both",
            "source": {"uri": str(video)},  # paced at the file's 10 fps: no frame dropped
            "model": {"backend": "none"},
            "outputs": {"record": True, "segment_seconds": 1},
            "analytics": {"events": {"clip": True}},
        }
    )
    recordings = RecordingSettings(str(tmp_path / "recordings"), 60.0, data_dir=str(tmp_path))
    worker = PipelineWorker("cam-1", spec, generation=1, recordings=recordings)
    try:
        assert wait_until(lambda: worker.status()["state"] == "finished", timeout=30)
    finally:
        worker.stop()
    status = worker.status()

    published = status["counters"]["frames_processed"]
    assert published == 30
    assert status["encoding"] == {"encoders": 1, "frames": published, "dropped": 0, "errors": 0}
    assert status["recording"]["errors"] == status["event_media"]["errors"] == 0
    segments = _segments(tmp_path / "recordings" / "cam-1")
    assert len(segments) == 3  # a new segment at the first keyframe after each second
    decoded = [_decoded(path) for path in segments]
    assert sum(len(frames) for _, frames in decoded) == published
    for duration, frames in decoded:
        assert 0.5 <= duration <= 1.5  # capture timestamps: the wall clock, with its jitter
        assert [frame.key_frame for frame in frames] == [True] + [False] * (len(frames) - 1)


def test_recording_turned_off_without_clips_stops_encoding(tmp_path: Path) -> None:
    video = _source_video(tmp_path / "source.mp4", frames=30)
    spec = PipelineSpec.model_validate(
        {
            "name": "toggle",
            "source": {"uri": str(video), "loop": True},
            "model": {"backend": "none"},
            "outputs": {"record": True},
        }
    )
    recordings = RecordingSettings(str(tmp_path / "recordings"), 60.0, data_dir=str(tmp_path))
    worker = PipelineWorker("cam-1", spec, generation=1, recordings=recordings)
    off = spec.model_copy(update={"outputs": spec.outputs.model_copy(update={"record": False})})
    try:
        assert wait_until(lambda: worker.status().get("encoding", {}).get("frames", 0) >= 3)
        worker.update(off)
        assert "encoding" not in worker.status() and "recording" not in worker.status()
        assert len(_segments(tmp_path / "recordings" / "cam-1")) == 1  # kept at once
        worker.update(spec)
        assert wait_until(lambda: worker.status()["encoding"]["frames"] >= 3)
    finally:
        worker.stop()
    assert len(_segments(tmp_path / "recordings" / "cam-1")) == 2


def test_a_new_frame_size_starts_a_new_encoder_and_segment(tmp_path: Path) -> None:
    encoder = PacketEncoder(name="test")
    recorder = SegmentRecorder(tmp_path, 60.0, encoder)
    for index in range(20):
        encoder(_image(index, (320, 240) if index < 12 else (160, 120)), 1000.0 + index / FPS)
    encoder.close()
    recorder.close()

    assert encoder.status() == {"encoders": 2, "frames": 20, "dropped": 0, "errors": 0}
    assert recorder.status() == {"segments": 2, "dropped": 0, "errors": 0}
    first, second = (_decoded(path)[1] for path in _segments(tmp_path))
    assert [(f.width, f.height, len(first)) for f in first[:1]] == [(320, 240, 12)]
    assert [(f.width, f.height, len(second)) for f in second[:1]] == [(160, 120, 8)]
    assert first[0].key_frame and second[0].key_frame


def test_a_gap_in_the_video_closes_the_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoding, "IDLE_SECONDS", 0.2)
    encoder = PacketEncoder(name="test")
    recorder = SegmentRecorder(tmp_path, 60.0, encoder)
    try:
        for index in range(5):
            encoder(_image(index), 1000.0 + index / FPS)
        assert wait_until(lambda: len(_segments(tmp_path)) == 1, timeout=5)
        encoder(_image(5), 1010.0)  # the next frame after the gap is a keyframe: recorded
        encoder.flush()
    finally:
        encoder.close()
        recorder.close()
    later = _decoded(_segments(tmp_path)[1])[1]
    assert len(later) == 1 and later[0].key_frame


def test_an_encoder_runs_no_thread_until_an_output_subscribes(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "recordings"
    not_a_dir.write_text("a file where the recordings directory should be")
    encoder = PacketEncoder(name="unused")
    with pytest.raises(OSError):
        SegmentRecorder(not_a_dir, 60.0, encoder)
    encoder(_image(0), 1000.0)
    assert not any(t.name == "unused-encoder" for t in threading.enumerate())
    assert encoder.status()["frames"] == 0
    encoder.close()
