"""Benchmark: PipelineEngine's overlapping stages against a bare sequential loop, the two
`pipelines.isolation` modes on a real local Ray, and micro-batching across pipelines.

    .venv/bin/python bench/engine.py [--quick] [--rounds N] [--max-pipelines N]
                                     [--only isolation|batching] [--isolated N] [--arenas N]

1. One NanoDet pipeline, unpaced, on media/vtest.mp4: frames/s and CPU seconds per frame of
   the engine and of a bare loop doing the same work (OpenCV decode, the same ONNX session
   with one thread, the same decoder, annotation and JPEG encoding) with no threads.
2. How many pipelines paced at the file's 10 fps run at once at >= 95 % of their rate; each
   pipeline is its own process, as each is its own Ray actor in production.
3. `process` against `shared` isolation through the real worker pools on a local Ray: the
   memory of the first pipeline on the node and of each additional one (RSS and PSS of the
   processes the pipelines run in), and the frames per second that N paced pipelines of the
   same model process together, shared / process. `--arenas N` runs `shared` again with
   `pipelines.host_malloc_arenas: N`, in the same Ray session, against glibc's default.
4. Four pipelines' inference stages sharing one session, `model.batching.max_batch` 1 (off)
   against 4, with 1 and 2 intra-op threads: inferences per second, batched / unbatched.

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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Variant:
    """One isolation run: a `pipelines.isolation` mode and `pipelines.host_malloc_arenas`."""

    isolation: str
    arenas: int = 0

    @property
    def label(self) -> str:
        return self.isolation + (f"+arenas{self.arenas}" if self.arenas else "")


async def _isolation_run(variant: Variant, video: Path, count: int, window: float) -> dict:
    """Start `count` paced pipelines one by one, noting the node's pipeline memory after each
    runs; then their frames per second together over `window` seconds."""
    import asyncio

    from coral_serve.workers.ray_hosts import ray_worker_pool

    label = variant.label
    namespace = f"bench-{label}"
    pool = ray_worker_pool(variant.isolation, namespace, host_malloc_arenas=variant.arenas)  # type: ignore[arg-type]
    memory: list[tuple[float, float]] = []
    ids = [f"{variant.isolation}-{n}" for n in range(count)]

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
                f"  {label:15s} {n + 1} pipeline(s) in {len(pids)} process(es): "
                f"RSS {memory[-1][0]:7.1f} MiB  PSS {memory[-1][1]:7.1f} MiB",
                flush=True,
            )
        await asyncio.sleep(3.0)
        before = [await processed(p) for p in ids]
        began = time.perf_counter()
        await asyncio.sleep(window)
        after = [await processed(p) for p in ids]
        fps = (sum(after) - sum(before)) / (time.perf_counter() - began)
        return {"memory": memory, "fps": fps, "load": os.getloadavg()[0]}
    finally:
        for pipeline_id in ids:
            await pool.kill(pipeline_id)


def _per_added(memory: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Mean RSS and PSS each pipeline after the first adds, and the largest RSS step."""
    steps = [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(memory)]
    if not steps:
        return 0.0, 0.0, 0.0
    rss = [step[0] for step in steps]
    return sum(rss) / len(rss), sum(step[1] for step in steps) / len(steps), max(rss)


def isolation(video: Path, count: int, window: float, variants: list[Variant]) -> None:
    """Every variant in one Ray session, each against the first (the baseline) and an arena
    variant also against its mode with glibc's default arenas."""
    import asyncio

    import ray

    print(
        f"\n== isolation: {count} pipelines of one NanoDet model paced at {PACED_FPS:g} fps, "
        f"{', '.join(v.label for v in variants)}, on a local Ray ({window:g} s window) =="
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
        runs = {v: asyncio.run(_isolation_run(v, video, count, window)) for v in variants}
    finally:
        ray.shutdown()
    for variant, run in runs.items():
        memory = run["memory"]
        rss, pss, _ = _per_added(memory)
        print(
            f"  {variant.label:15s} first pipeline RSS {memory[0][0]:6.1f} MiB "
            f"(PSS {memory[0][1]:6.1f}); each additional RSS {rss:6.1f} MiB (PSS {pss:6.1f}); "
            f"{count} together {run['fps']:5.1f} frames/s (load {run['load']:.1f})"
        )
    baseline = variants[0]
    for variant in variants[1:]:
        _ratio(variant, runs[variant], baseline, runs[baseline], count)
        plain = Variant(variant.isolation)
        if variant.arenas and plain in runs and plain != baseline:
            _ratio(variant, runs[variant], plain, runs[plain], count)


def _ratio(variant: Variant, run: dict, baseline: Variant, base: dict, count: int) -> None:
    rss, pss, worst = _per_added(run["memory"])
    base_rss, base_pss, _ = _per_added(base["memory"])
    print(
        f"  {variant.label}/{baseline.label}: memory of {count} pipelines RSS "
        f"x{run['memory'][-1][0] / base['memory'][-1][0]:.3f}, "
        f"PSS x{run['memory'][-1][1] / base['memory'][-1][1]:.3f}; each additional RSS "
        f"x{rss / base_rss:.3f} (PSS x{pss / base_pss:.3f}, at most {worst:.1f} MiB); "
        f"throughput x{run['fps'] / base['fps']:.3f}"
    )


# -- micro-batching across the pipelines sharing one session -----------------------------


def _session_rate(spec: Any, engines: int, window: float) -> tuple[float, Any]:
    """Inferences per second of `engines` threads, each one pipeline's inference stage
    running its own inputs back to back through one shared session; the batcher's counts."""
    import numpy as np

    from coral_serve.engine.sessions import SharedSessions

    sessions = SharedSessions()
    users = [sessions.acquire(spec) for _ in range(engines)]
    size = users[0].input_shape[-1]
    stop = threading.Event()
    counts = [0] * engines

    def run(index: int) -> None:
        tensor = np.random.default_rng(index).random((1, 3, size, size), np.float32)
        while not stop.is_set():
            users[index].infer(tensor)
            counts[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(engines)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # arenas warmed
    before, began = sum(counts), time.perf_counter()
    time.sleep(window)
    rate = (sum(counts) - before) / (time.perf_counter() - began)
    stop.set()
    for thread in threads:
        thread.join()
    stats = users[0].batch_stats()
    for user in users:
        user.close()
    return rate, stats


def batching(engines: int, window: float) -> None:
    """`model.batching.max_batch` 1 against `engines` on a model with a dynamic batch (the
    shipped NanoDet's is fixed at 1, so a small convolutional model stands in)."""
    import tempfile

    import onnxruntime

    from coral_serve.schema.spec import ModelSpec
    from tests.unit.engine.batch_model import build_batch_model

    shape = onnxruntime.InferenceSession(str(MODEL)).get_inputs()[0].shape
    print(
        f"\n== micro-batching: {engines} pipelines sharing one session, inputs back to back "
        f"({window:g} s window; {MODEL.name} input {shape}: fixed batch, so a small "
        "convolutional model with a dynamic batch) =="
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = build_batch_model(Path(tmp) / "batch.onnx")
        for threads in (1, 2):  # a batch runs on one call: only intra-op threads split it
            rates = {}
            for max_batch in (1, engines):
                batching = {"max_batch": max_batch, "max_wait_ms": 5}
                spec = ModelSpec(path=str(path), threads=threads, batching=batching)
                rates[max_batch], stats = _session_rate(spec, engines, window)
                formed = (
                    f"{stats.batches} batches of {stats.batched_inputs} inputs" if stats else "off"
                )
                print(
                    f"  threads {threads}, max_batch {max_batch}: "
                    f"{rates[max_batch]:7.1f} inferences/s ({formed})"
                )
            ratio = rates[engines] / rates[1]
            print(f"  threads {threads}: batched/unbatched throughput x{ratio:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s clip, short windows")
    parser.add_argument("--rounds", type=int, default=1, help="engine/bare repetitions")
    parser.add_argument("--max-pipelines", type=int, default=8, help="capacity search limit")
    parser.add_argument(
        "--only", choices=["isolation", "batching"], help="run only this measurement"
    )
    parser.add_argument("--isolated", type=int, default=8, help="pipelines per isolation run")
    parser.add_argument(
        "--arenas",
        type=int,
        default=0,
        help="also run shared with pipelines.host_malloc_arenas N (MALLOC_ARENA_MAX)",
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.isolated < 2:
        parser.error("--isolated: at least 2 pipelines (it measures each additional one)")
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
    window = 10.0 if args.quick else 20.0
    if args.only in (None, "isolation"):
        variants = [Variant(mode) for mode in ("process", "shared")]
        if args.arenas:
            variants.append(Variant("shared", args.arenas))
        isolation(VIDEO, args.isolated, window, variants)
    if args.only in (None, "batching"):
        batching(4, window)


if __name__ == "__main__":
    main()
