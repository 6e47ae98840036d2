"""Benchmark: the CPU the analytics stage adds to every frame of a NanoDet pipeline.

    .venv/bin/python bench/analytics.py [--frames N] [--json]

NanoDet (one ONNX thread) on media/vtest.mp4, the 10 fps street clip, frame by frame in one
process: the work the engine does without analytics (OpenCV decode, preprocess, inference,
decode, annotation, JPEG encoding) and, on the same detections, the analytics stage with
ByteTrack, 3 zones and 2 lines. CPU is the process's, per frame; the ratio is
(work + analytics) / work, measured in one run, interleaved frame by frame so that load on
the machine weighs on both alike. Goal: <= 1.05.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("CORAL_SHARED_DIR", ROOT.parent / "shared"))
MODEL = SHARED / "models" / "nanodet-g-416.onnx"
VIDEO = SHARED / "media" / "vtest.mp4"
GOAL = 1.05

ANALYTICS = {
    "zones": [
        {"name": "plaza", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]},
        {"name": "left", "polygon": [[0, 0], [0.4, 0], [0.4, 1], [0, 1]], "min_frames": 3},
        {"name": "door", "polygon": [[0.6, 0.1], [0.9, 0.1], [0.8, 0.4]], "loiter_seconds": 2},
    ],
    "lines": [
        {"name": "middle", "points": [[0.5, 1], [0.5, 0]]},
        {"name": "crosswalk", "points": [[0, 0.6], [1, 0.6]], "classes": ["person"]},
    ],
}


def run(frames: int) -> dict[str, float | int]:
    from coral_serve.engine.analytics.stage import AnalyticsStage
    from coral_serve.engine.annotate import annotate
    from coral_serve.engine.model import load_model
    from coral_serve.schema.analytics import AnalyticsSpec
    from coral_serve.schema.spec import ModelSpec

    model = load_model(ModelSpec(path=str(MODEL), decoder="nanodet", threads=1))
    spec = AnalyticsSpec.model_validate(ANALYTICS)
    stage = AnalyticsStage("bench", spec)
    capture = cv2.VideoCapture(str(VIDEO))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    work: list[float] = []
    analytics: list[float] = []
    crossings = revisions = 0
    try:
        for index in range(frames):
            began = time.process_time()
            ok, image = capture.read()
            if not ok:
                break
            detections = model.detect(image)
            annotate(image, detections)
            cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
            middle = time.process_time()
            out = stage.process(detections, index, index / fps, image.shape[1::-1], spec)
            stage.keep(out.revisions)
            ended = time.process_time()
            work.append(middle - began)
            analytics.append(ended - middle)
            crossings += len(out.crossings)
            revisions += len(out.revisions)
    finally:
        capture.release()
        model.close()
    base, extra = statistics.fmean(work), statistics.fmean(analytics)
    return {
        "frames": len(work),
        "work_cpu_ms_per_frame": round(base * 1e3, 3),
        "analytics_cpu_ms_per_frame": round(extra * 1e3, 3),
        "ratio": round((base + extra) / base, 4),
        "goal": GOAL,
        "crossings": crossings,
        "event_revisions": revisions,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=795, help="frames of the clip (all: 795)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(args.frames)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:28} {value}")
    return 0 if figures["ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
