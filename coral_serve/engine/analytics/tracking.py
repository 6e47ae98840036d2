"""Track ids for detections: ByteTrack from Roboflow's `trackers`, or none."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from coral_serve.engine.decoders.base import Detection
from coral_serve.schema.analytics import TrackerSpec, TrackerType

__all__ = ["ObjectTracker"]

# `trackers` counts its lost-track buffer in frames of a 30 fps video, whatever the real rate.
_BUFFER_FPS = 30.0


class ObjectTracker:
    """One tracker for all classes of a pipeline, fed capture timestamps so that a dropped or
    late frame of a live source ages the tracks by the time that really passed."""

    def __init__(self, spec: TrackerSpec) -> None:
        self._tracker: ByteTrackTracker | None = None
        if spec.type is TrackerType.bytetrack:
            self._tracker = ByteTrackTracker(
                lost_track_buffer=round(spec.lost_seconds * _BUFFER_FPS),
                track_activation_threshold=spec.activation_threshold,
                minimum_consecutive_frames=spec.confirm_frames,
                minimum_iou_threshold=spec.min_iou,
                high_conf_det_threshold=spec.high_threshold,
            )

    @property
    def enabled(self) -> bool:
        return self._tracker is not None

    def assign(self, detections: Sequence[Detection], timestamp: float) -> list[int | None]:
        """The track id of each detection, in their order; None while a track is not yet
        confirmed, and for every detection when tracking is off."""
        ids: list[int | None] = [None] * len(detections)
        if self._tracker is None:
            return ids
        if detections:
            given = sv.Detections(
                xyxy=np.array([d.box for d in detections], dtype=np.float32),
                confidence=np.array([d.score for d in detections], dtype=np.float32),
                class_id=np.array([d.class_id for d in detections], dtype=int),
                data={"index": np.arange(len(detections))},
            )
        else:
            given = sv.Detections.empty()
            given.data["index"] = np.empty(0, dtype=int)
        tracked = self._tracker.update(given, timestamp=timestamp)
        for index, track_id in zip(tracked.data.get("index", ()), tracked.tracker_id, strict=True):
            if track_id >= 0:
                ids[int(index)] = int(track_id)
        return ids
