"""Event media in the worker: best-frame snapshots and clips cut from one encoder's packets."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from coral_serve.engine.encoding import PacketEncoder
from coral_serve.engine.event_media import EventMediaWriter
from coral_serve.engine.event_media_files import event_media_path
from coral_serve.schema.analytics import EventsSpec
from coral_serve.schema.events import ClipState, EventPhase, ObjectEvent

T0 = 1_700_000_000.0
FPS = 10
EVENT_ID = "ab" * 16


def _frame(index: int) -> np.ndarray:
    """A grey scene with a white square moving right, 4 px a frame."""
    image = np.full((240, 320, 3), 60, np.uint8)
    x = 10 + 4 * index
    image[100:140, x : x + 40] = 255
    return image


def _revision(
    phase: EventPhase, revision: int, score: float, end: float | None = None, x: float = 130.0
) -> ObjectEvent:
    return ObjectEvent(
        id=EVENT_ID,
        pipeline_id="cam-1",
        track_id=7,
        label="person",
        phase=phase,
        revision=revision,
        start=T0 + 3.0,
        end=end,
        best_score=score,
        best_frame_id=30,
        box=[x, 100.0, x + 40, 140.0],
    )


class _Outputs:
    """What the engine calls for each published frame: the encoder, then the event media."""

    def __init__(self, tmp_path: Path) -> None:
        spec = EventsSpec(snapshot=True, clip=True, pre_capture=1.0, post_capture=1.0)
        self.encoder = PacketEncoder(name="test")
        self.media = EventMediaWriter(tmp_path / "events" / "cam-1", spec, self.encoder)

    def on_frame(self, image: np.ndarray, timestamp: float, revisions: list[ObjectEvent]):
        self.encoder(image, timestamp)
        return self.media.on_frame(image, timestamp, revisions)

    def on_stop(self, revisions: list[ObjectEvent]) -> list[ObjectEvent]:
        return self.media.on_stop(revisions)

    def flush(self) -> None:
        self.encoder.flush()
        self.media.flush()

    def status(self) -> dict[str, int]:
        return self.media.status()


def _play(writer: _Outputs, frames: int, script: dict[int, ObjectEvent]):
    reported: list[ObjectEvent] = []
    for index in range(frames):
        reported += writer.on_frame(
            _frame(index), T0 + index / FPS, [script[index]] if index in script else []
        )
        writer.flush()  # the threads keep up: no frame is dropped in this test
    return reported


@pytest.fixture
def writer(tmp_path: Path):
    outputs = _Outputs(tmp_path)
    yield outputs
    outputs.encoder.close()
    outputs.media.close()


def test_clip_spans_pre_capture_to_post_capture_and_plays(writer, tmp_path: Path) -> None:
    script = {
        30: _revision(EventPhase.start, 1, 0.6),
        40: _revision(EventPhase.update, 2, 0.8),
        50: _revision(EventPhase.end, 3, 0.8, end=T0 + 5.0),
    }
    reported = _play(writer, 75, script)

    assert [r.revision for r in reported] == [1, 2, 3, 4]
    assert [r.clip for r in reported] == [ClipState.pending] * 3 + [ClipState.ready]
    assert all(r.has_snapshot for r in reported)
    clip = event_media_path(tmp_path, "cam-1", EVENT_ID, "clip")
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        duration = float(container.duration) / av.time_base
        decoded = list(container.decode(video=0))
    # 2.0 s before start (a keyframe each second) to 1.0 s after end: 4 s, 40 frames.
    assert duration == pytest.approx(4.0, abs=0.15)
    assert len(decoded) == pytest.approx(40, abs=1)
    keyframes = [i for i, frame in enumerate(decoded) if frame.key_frame]
    assert keyframes == list(range(0, len(decoded), 10))  # from a keyframe, one a second
    assert writer.status()["errors"] == 0


def test_snapshot_is_the_best_frame_with_its_box_and_crop(writer, tmp_path: Path) -> None:
    script = {
        30: _revision(EventPhase.start, 1, 0.6),
        40: _revision(EventPhase.update, 2, 0.9, x=170.0),
    }
    _play(writer, 45, script)

    snapshot = cv2.imread(str(event_media_path(tmp_path, "cam-1", EVENT_ID, "snapshot")))
    crop = cv2.imread(str(event_media_path(tmp_path, "cam-1", EVENT_ID, "crop")))
    assert snapshot.shape == (240, 320, 3)
    # The box is drawn in amber on the frame of the best score (frame 40: square at x=170).
    blue, green, red = (int(c) for c in snapshot[100, 190])
    assert red > 200 and green > 150 and blue < 80
    assert crop.shape[:2] == (48, 48)  # the 40 px box with 10 % around it
    assert crop[24, 24].min() > 200  # the white square as it was at frame 40


def test_a_worse_score_keeps_the_earlier_snapshot(writer, tmp_path: Path) -> None:
    _play(writer, 35, {30: _revision(EventPhase.start, 1, 0.9)})
    path = event_media_path(tmp_path, "cam-1", EVENT_ID, "snapshot")
    first = path.read_bytes()
    _play(writer, 10, {5: _revision(EventPhase.update, 2, 0.5)})
    assert path.read_bytes() == first


@pytest.mark.parametrize(
    ("pipeline_id", "event_id"),
    [("../etc", EVENT_ID), ("cam-1", "../../passwd"), ("cam-1", EVENT_ID.upper())],
)
def test_media_paths_refuse_ids_that_could_leave_the_root(pipeline_id, event_id) -> None:
    with pytest.raises(ValueError):
        event_media_path("/data", pipeline_id, event_id, "clip")


def test_a_stop_ends_open_clips_with_the_video_there_is(writer, tmp_path: Path) -> None:
    reported = _play(writer, 40, {30: _revision(EventPhase.start, 1, 0.6)})
    ended = writer.on_stop([_revision(EventPhase.end, 2, 0.6, end=T0 + 3.9)])

    assert [r.clip for r in reported + ended] == [ClipState.pending] * 2 + [ClipState.ready]
    assert ended[-1].revision == 3
    with av.open(str(event_media_path(tmp_path, "cam-1", EVENT_ID, "clip"))) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == pytest.approx(20, abs=1)  # from the keyframe at 2.0 s to the last frame
