"""Benchmark: PipelineEngine's overlapping stages against a bare sequential loop, and the
two `pipelines.isolation` modes on a real local Ray.

    .venv/bin/python bench/engine.py [--quick] [--rounds N] [--max-pipelines N]
                                     [--only isolation] [--isolated N]

1. One NanoDet pipeline, unpaced, on media/vtest.mp4: frames/s and CPU seconds per frame of
   the engine and of a bare loop doing the same work (OpenCV decode, the same ONNX session
   with one thread, the same decoder, annotation and JPEG encoding) with no threads.
2. How many pipelines paced at the file's 10 fps run at once at >= 95 % of their rate; each
   pipeline is its own process, as each is its own Ray actor in production.
3. `process` against `shared` isolation through the real worker pools on a local Ray: the
   memory of the first pipeline on the node and of each additional one (RSS and PSS of the
   processes the pipelines run in), and the frames per second that N paced pipelines of the
   same model process together, shared / process.

Measurements 1 and 2 run in fresh subprocesses so CPU time and peak RSS are their own.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CORAL_SHARED_DIR", ROOT.parent / "shared"))
MODEL = SHARED / "models" / "nanodet-g-416.onnx"
VIDEO = SHARED / "media" / "vtest.mp4"
QUICK_VIDEO = SHARED / "media" / "vtest-10s.mp4"
PACED_FPS = 10.0
PASS_RATIO = 0.95


def _spec(video: Path, pacing: str, loop: bool = False, name: str = "bench") -> Any:
    from coral_serve.schema.spec import PipelineSpec

    return PipelineSpec.model_validate(
        {
            "name": name,
            "source": {"uri": str(video), "pacing": pacing, "loop": loop},
            "model": {"path": str(MODEL), "decoder": "nanodet", "threads": 1},
        }
    )


def _usage() -> tuple[float, float]:
    """(CPU seconds of this process, all threads; peak RSS in MiB)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class _Clock:
    """Wall and CPU time at the first and last published frame: steady state only."""

    def __init__(self) -> None:
        self.frames = 0
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def tick(self, *_: object) -> None:
        now = (time.perf_counter(), _usage()[0])
        self.frames += 1
        if self.first is None:
            self.first = now
        self.last = now

    def result(self) -> dict[str, float]:
        if self.first is None or self.last is None or self.frames < 2:
            raise RuntimeError("fewer than two frames were processed")
        wall = self.last[0] - self.first[0]
        cpu = self.last[1] - self.first[1]
        intervals = self.frames - 1
        return {
            "frames": self.frames,
            "fps": intervals / wall,
            "cpu_per_frame": cpu / intervals,
            "peak_rss_mib": _usage()[1],
        }


def run_bare(video: Path) -> dict[str, float]:
    """Decode, prepare, infer, decode, annotate, encode: one frame at a time, one thread."""
    import cv2

    from coral_serve.engine.annotate import annotate
    from coral_serve.engine.model import load_model

    spec = _spec(video, "unpaced")
    model = load_model(spec.model)
    capture = cv2.VideoCapture(str(video))
    clock = _Clock()
    jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, spec.outputs.jpeg_quality]
    frame_id = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        tensor, transform = model.prepare(image)
        detections = model.decode(model.infer(tensor), transform)
        _record = {"frame_id": frame_id, "detections": [d.as_dict() for d in detections]}
        annotate(image, detections)
        cv2.imencode(".jpg", image, jpeg_params)
        frame_id += 1
        clock.tick()
    capture.release()
    model.close()
    return clock.result()


def run_engine(video: Path) -> dict[str, float]:
    """The same work through PipelineEngine's four overlapping threads."""
    from coral_serve.engine.engine import PipelineEngine

    clock = _Clock()
    engine = PipelineEngine(_spec(video, "unpaced"), recorder=clock.tick)
    engine.start()
    while engine.state not in ("finished", "failed"):
        time.sleep(0.05)
    if engine.state == "failed":
        raise RuntimeError(engine.reason)
    engine.consume_results(max_items=10_000)
    engine.stop()
    return clock.result()


def run_paced(video: Path, warmup: float, window: float, name: str) -> dict[str, float]:
    """One pipeline at the file's own 10 fps: the rate it holds over `window` seconds."""
    from coral_serve.engine.engine import PipelineEngine

    engine = PipelineEngine(_spec(video, "auto", loop=True, name=name))
    engine.start()
    deadline = time.monotonic() + 30
    while engine.status()["counters"]["frames_processed"] < 1:
        if engine.state == "failed" or time.monotonic() > deadline:
            raise RuntimeError(engine.reason or "no frame within 30 s")
        time.sleep(0.05)
    time.sleep(warmup)
    drain = threading.Event()

    def consume() -> None:  # a consumer drains results, as the service does
        while not drain.wait(0.5):
            engine.consume_results(max_items=1000)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    count0, wall0, cpu0 = _processed(engine), time.perf_counter(), _usage()[0]
    time.sleep(window)
    count1, wall1, cpu1 = _processed(engine), time.perf_counter(), _usage()[0]
    drain.set()
    status = engine.status()
    engine.stop()
    return {
        "fps": (count1 - count0) / (wall1 - wall0),
        "cpu_share": (cpu1 - cpu0) / (wall1 - wall0),
        "p95_latency": status["latency"]["end_to_end"]["p95"] or 0.0,
        "peak_rss_mib": _usage()[1],
    }


def _processed(engine: Any) -> int:
    return int(engine.status()["counters"]["frames_processed"])


# -- driver -----------------------------------------------------------------------------


def _child(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _collect(process: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"benchmark worker failed (exit {process.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def compare(video: Path, rounds: int) -> None:
    print(f"\n== one pipeline, unpaced, {video.name}: engine vs bare loop ({rounds} round(s)) ==")
    results: dict[str, list[dict[str, float]]] = {"bare": [], "engine": []}
    for _ in range(rounds):
        for kind in ("bare", "engine"):
            result = _collect(_child(kind, str(video)))
            results[kind].append(result)
            print(
                f"  {kind:6s}  {result['fps']:6.2f} frames/s  "
                f"{result['cpu_per_frame'] * 1000:6.2f} ms CPU/frame  "
                f"peak RSS {result['peak_rss_mib']:6.1f} MiB  ({result['frames']:.0f} frames)"
            )

    def best(kind: str, key: str) -> float:
        values = [r[key] for r in results[kind]]
        return max(values) if key == "fps" else min(values)

    fps_ratio = best("engine", "fps") / best("bare", "fps")
    cpu_ratio = best("engine", "cpu_per_frame") / best("bare", "cpu_per_frame")
    print(
        f"  engine/bare: throughput x{fps_ratio:.3f} (goal >= 1.03), CPU per frame x{cpu_ratio:.3f}"
    )


def capacity(video: Path, warmup: float, window: float, most: int) -> None:
    print(
        f"\n== pipelines paced at {PACED_FPS:g} fps, each its own process "
        f"(pass: every one >= {PASS_RATIO:.0%} of its rate over {window:g} s) =="
    )
    passed = 0
    for count in range(1, most + 1):
        workers = [
            _child("paced", str(video), str(warmup), str(window), f"p{i}") for i in range(count)
        ]
        results = [_collect(worker) for worker in workers]
        fps = [r["fps"] for r in results]
        ok = min(fps) >= PASS_RATIO * PACED_FPS
        cpu = sum(r["cpu_share"] for r in results)
        p95 = max(r["p95_latency"] for r in results)
        print(
            f"  {count} pipeline(s): fps min {min(fps):5.2f} mean {sum(fps) / len(fps):5.2f}  "
            f"CPU {cpu * 100:5.1f} % of one core  p95 latency {p95 * 1000:5.0f} ms  "
            f"RSS/pipeline {max(r['peak_rss_mib'] for r in results):5.1f} MiB  "
            f"{'ok' if ok else 'BELOW TARGET'}"
        )
        if not ok:
            break
        passed = count
    print(f"  => {passed} paced NanoDet pipeline(s) hold >= {PASS_RATIO:.0%} of {PACED_FPS:g} fps")


# -- isolation: the real worker pools on a local Ray ------------------------------------


def _memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MiB: PSS splits the pages processes share (libraries)."""
    rss = pss = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    return rss, pss


def _pipeline_pids(namespace: str) -> set[int]:
    """The processes the namespace's pipelines run in: its named actors (workers or hosts)."""
    import ray
    from ray.util import list_named_actors

    named = list_named_actors(all_namespaces=True)
    names = [a["name"] for a in named if a["namespace"] == namespace]
    actors = [ray.get_actor(name, namespace=namespace) for name in names]
    return set(ray.get([a.__ray_call__.remote(lambda _self: os.getpid()) for a in actors]))


async def _isolation_run(isolation: str, video: Path, count: int, window: float) -> dict:
    """Start `count` paced pipelines one by one, noting the node's pipeline memory after each
    runs; then their frames per second together over `window` seconds."""
    import asyncio

    from coral_serve.workers.ray_hosts import ray_worker_pool

    namespace = f"bench-{isolation}"
    pool = ray_worker_pool(isolation, namespace)  # type: ignore[arg-type]
    memory: list[tuple[float, float]] = []
    ids = [f"{isolation}-{n}" for n in range(count)]

    async def processed(pipeline_id: str) -> int:
        """Frames it processed so far; 0 while its process is still starting."""
        try:
            status = await pool.call(pipeline_id, "status", timeout=10)
        except asyncio.TimeoutError:
            return 0
        if status["state"] == "failed":
            raise SystemExit(f"{pipeline_id} failed: {status['reason']}")
        return int(status["counters"]["frames_processed"])

    try:
        for n, pipeline_id in enumerate(ids):
            await pool.start(pipeline_id, _spec(video, "auto", loop=True, name=pipeline_id), 1)
            deadline = time.monotonic() + 300
            while await processed(pipeline_id) < 10:  # model loaded, arenas warmed
                if time.monotonic() > deadline:
                    raise SystemExit(f"{pipeline_id}: fewer than 10 frames in 300 s")
                await asyncio.sleep(0.5)
            pids = _pipeline_pids(namespace)
            sizes = [_memory_mib(pid) for pid in pids]
            memory.append((sum(r for r, _ in sizes), sum(p for _, p in sizes)))
            print(
                f"  {isolation:7s} {n + 1} pipeline(s) in {len(pids)} process(es): "
                f"RSS {memory[-1][0]:7.1f} MiB  PSS {memory[-1][1]:7.1f} MiB",
                flush=True,
            )
        await asyncio.sleep(3.0)
        before = [await processed(p) for p in ids]
        began = time.perf_counter()
        await asyncio.sleep(window)
        after = [await processed(p) for p in ids]
        fps = (sum(after) - sum(before)) / (time.perf_counter() - began)
        return {"memory": memory, "fps": fps}
    finally:
        for pipeline_id in ids:
            await pool.kill(pipeline_id)


def isolation(video: Path, count: int, window: float) -> None:
    import asyncio

    import ray

    print(
        f"\n== isolation: {count} pipelines of one NanoDet model paced at {PACED_FPS:g} fps, "
        f"process vs shared, on a local Ray ({window:g} s window) =="
    )
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by Ray's worker processes
    ray.init(
        address="local",
        num_cpus=max(8, count),  # logical: every pipeline gets its 0.25 CPU
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
    )
    try:
        runs = {mode: asyncio.run(_isolation_run(mode, video, count, window)) for mode in MODES}
    finally:
        ray.shutdown()
    for mode in MODES:
        memory = runs[mode]["memory"]
        steps = [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(memory)]
        mean = [sum(s[i] for s in steps) / len(steps) if steps else 0.0 for i in (0, 1)]
        print(
            f"  {mode:7s} first pipeline RSS {memory[0][0]:6.1f} MiB (PSS {memory[0][1]:6.1f}); "
            f"each additional RSS {mean[0]:6.1f} MiB (PSS {mean[1]:6.1f}); "
            f"{count} together {runs[mode]['fps']:5.1f} frames/s"
        )
    process, shared = runs["process"], runs["shared"]
    extra_rss = [b[0] - a[0] for a, b in itertools.pairwise(shared["memory"])]
    worst = max(extra_rss) if extra_rss else 0.0
    print(
        f"  shared/process: memory of {count} pipelines RSS "
        f"x{shared['memory'][-1][0] / process['memory'][-1][0]:.3f}, "
        f"PSS x{shared['memory'][-1][1] / process['memory'][-1][1]:.3f}; "
        f"each additional shared pipeline at most {worst:.1f} MiB RSS (goal < 60); "
        f"throughput x{shared['fps'] / process['fps']:.3f} (goal >= 1.0)"
    )


MODES = ("process", "shared")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s clip, short windows")
    parser.add_argument("--rounds", type=int, default=1, help="engine/bare repetitions")
    parser.add_argument("--max-pipelines", type=int, default=8, help="capacity search limit")
    parser.add_argument("--only", choices=["isolation"], help="run only this measurement")
    parser.add_argument("--isolated", type=int, default=8, help="pipelines per isolation run")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, video, *rest = args.worker
        if kind == "bare":
            result = run_bare(Path(video))
        elif kind == "engine":
            result = run_engine(Path(video))
        else:
            result = run_paced(Path(video), float(rest[0]), float(rest[1]), rest[2])
        print(json.dumps(result))
        return
    for path in (MODEL, VIDEO, QUICK_VIDEO):
        if not path.is_file():
            raise SystemExit(f"benchmark data {path} is absent")
    import onnxruntime

    print(
        f"python {platform.python_version()}, onnxruntime {onnxruntime.__version__}, "
        f"{os.cpu_count()} CPUs, model {MODEL.name}, 1 intra-op thread"
    )
    video = QUICK_VIDEO if args.quick else VIDEO
    if args.only is None:
        compare(video, args.rounds)
        warmup, window = (2.0, 5.0) if args.quick else (3.0, 12.0)
        capacity(VIDEO, warmup, window, args.max_pipelines)
    isolation(VIDEO, args.isolated, 10.0 if args.quick else 20.0)


if __name__ == "__main__":
    main()
