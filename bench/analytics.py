"""Benchmark: the CPU the analytics stage adds to every frame of a NanoDet pipeline, and
what recording with event clips costs per frame.

    .venv/bin/python bench/analytics.py [--frames N] [--json] [--only encoding]
                                        [--before REV] [--rounds N]

NanoDet (one ONNX thread) on media/vtest.mp4, the 10 fps street clip, frame by frame in one
process: the work the engine does without analytics (OpenCV decode, preprocess, inference,
decode, annotation, JPEG encoding) and, on the same detections, the analytics stage with
ByteTrack, 3 zones and 2 lines. CPU is the process's, per frame; the ratio is
(work + analytics) / work, measured in one run, interleaved frame by frame so that load on
the machine weighs on both alike. Goal: <= 1.05.

`--only encoding`: a pipeline's recording (10 s segments) and event clips on the clip's
frames, decoded beforehand and fed as the engine does, unpaced but never more than a frame
ahead (nothing is dropped). CPU is the whole process's, encoder and media threads included,
per frame; each run is a process of its own, before (`--before`, default: the revision
before coral_serve/engine/encoding.py, whose recorder and clips each ran an encoder) and
after (one encoder), interleaved `--rounds` times; the best of each is kept. Goal: after /
before <= 0.65.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("CORAL_SHARED_DIR", ROOT.parent / "shared"))
MODEL = SHARED / "models" / "nanodet-g-416.onnx"
VIDEO = SHARED / "media" / "vtest.mp4"
GOAL = 1.05
ENCODING_GOAL = 0.65
ENCODING_FRAMES = 100  # decoded once, then looped: 768x576 BGR, 1.3 MB each
Outputs = tuple[Callable[[np.ndarray, float], None], Callable[[], None], Callable[[], None]]

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


def _outputs(directory: Path) -> Outputs:
    """(feed, wait, close) of recording plus clips, built as the imported coral_serve
    builds them."""
    from coral_serve.schema.analytics import EventsSpec

    spec = EventsSpec(snapshot=False, clip=True)
    try:
        from coral_serve.engine.encoding import PacketEncoder
    except ImportError:  # the revision before
        return _two_encoders(directory, spec)
    from coral_serve.engine.event_media import EventMediaWriter
    from coral_serve.engine.recorder import SegmentRecorder

    encoder = PacketEncoder(name="bench")
    recorder = SegmentRecorder(directory / "recordings", 10.0, encoder)
    media = EventMediaWriter(directory / "events", spec, encoder)

    def feed(image: np.ndarray, timestamp: float) -> None:
        encoder(image, timestamp)
        media.on_frame(image, timestamp, [])

    def close() -> None:
        encoder.close()
        recorder.close()
        media.close()
        assert encoder.dropped == 0

    return feed, encoder.flush, close


def _two_encoders(directory: Path, spec: Any) -> Outputs:
    """The recorder and the clips each encoding every frame with an encoder of its own."""
    from coral_serve.engine.event_media import EventMediaWriter
    from coral_serve.engine.recorder import SegmentRecorder

    recorder = SegmentRecorder(directory / "recordings", 10.0, name="bench")
    media = EventMediaWriter(directory / "events", spec, name="bench")

    def feed(image: np.ndarray, timestamp: float) -> None:
        recorder(image, timestamp)
        media.on_frame(image, timestamp, [])

    def wait() -> None:
        media.flush()
        while recorder._queue.qsize():  # the old recorder has no flush
            time.sleep(0.0005)

    def close() -> None:
        recorder.close()
        media.close()
        assert recorder.dropped == media.dropped == 0

    return feed, wait, close


def run_encoding(frames: int) -> dict[str, float]:
    """One process's CPU per frame recording and keeping clips of `frames` frames."""
    capture = cv2.VideoCapture(str(VIDEO))
    images = [capture.read()[1] for _ in range(ENCODING_FRAMES)]
    capture.release()
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        feed, wait, close = _outputs(directory)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        began = usage.ru_utime + usage.ru_stime
        for index in range(frames):
            feed(images[index % len(images)], 1_700_000_000.0 + index / 10)
            wait()
        close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - began
        recorded = sum(p.stat().st_size for p in (directory / "recordings").glob("*.mp4"))
    return {"cpu_ms_per_frame": cpu / frames * 1e3, "recording_bytes_per_frame": recorded / frames}


def _before_revision() -> str:
    """The parent of the commit that added the one encoder; HEAD while it is uncommitted."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "coral_serve/engine/encoding.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def _encoding_child(frames: int, *tree: str) -> dict[str, float]:
    """`run_encoding` in a process of its own, with the coral_serve under `tree` if given."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(Path(__file__).resolve()), "--encoding-worker", str(frames)]
    out = subprocess.run([*command, *tree], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_encoding(frames: int, rounds: int, before: str) -> dict[str, float | int | str]:
    """Before against after, interleaved, each in its own process; the best of each."""
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(
            ["git", "archive", before, "coral_serve"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(old, filter="data")
        for _ in range(rounds):
            runs["before"].append(_encoding_child(frames, old))
            runs["after"].append(_encoding_child(frames))
    best = {kind: min(r["cpu_ms_per_frame"] for r in found) for kind, found in runs.items()}
    size = {kind: found[0]["recording_bytes_per_frame"] for kind, found in runs.items()}
    return {
        "before_revision": before,
        "frames": frames,
        "rounds": rounds,
        "before_cpu_ms_per_frame": round(best["before"], 3),
        "after_cpu_ms_per_frame": round(best["after"], 3),
        "ratio": round(best["after"] / best["before"], 4),
        "goal": ENCODING_GOAL,
        "before_recording_bytes_per_frame": round(size["before"]),
        "after_recording_bytes_per_frame": round(size["after"]),
        "recording_bytes_ratio": round(size["after"] / size["before"], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=795, help="frames of the clip (all: 795)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--only", choices=["encoding"], help="run only this measurement")
    parser.add_argument("--before", help="revision of the two-encoder path (see above)")
    parser.add_argument("--rounds", type=int, default=3, help="before/after repetitions")
    parser.add_argument("--encoding-worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.encoding_worker:
        frames, *tree = args.encoding_worker
        sys.path[:0] = tree  # the revision before: its coral_serve, not this one
        print(json.dumps(run_encoding(int(frames))))
        return 0
    if args.only == "encoding":
        figures = compare_encoding(args.frames, args.rounds, args.before or _before_revision())
        goal = ENCODING_GOAL
    else:
        figures = run(args.frames)
        goal = GOAL
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:32} {value}")
    return 0 if figures["ratio"] <= goal else 1


if __name__ == "__main__":
    sys.exit(main())
