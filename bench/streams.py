"""Benchmark: WebRTC live view of one pipeline, as viewers experience it.

    .venv/bin/python bench/streams.py [--video PATH] [--seconds S] [--viewers 1,5,10]

The control plane (in-process services, a real pipeline worker in threads, the ingress on a
loopback port) runs in this process; the aiortc viewers run in a child process, so this
process's CPU time is the server's own. Prints:

1. time to first frame: offer made → first decoded video frame at the viewer;
2. frame delay capture → viewer, p50/p95: each video frame is matched to its capture time
   (sent on the data channel with the frame's pts). aiortc's receiver releases a frame only
   when the next one starts arriving, so this includes one frame interval a browser does
   not add; the results delay (capture → result message on the data channel) does not;
3. fps delivered to 1, 5 and 10 viewers of one pipeline, server CPU per viewer, and the
   viewers' own CPU (both ends share this machine's cores);
4. where the server's per-frame time goes: one JPEG decode per frame per replica against
   one video encode per frame per viewer (whether the WebRTC track belongs in the worker).

The default source is a synthetic 640x480, 30 fps clip written with PyAV (vtest is 10 fps).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import httpx  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

WARMUP_SECONDS = 2.0
FIRST_FRAME_ROUNDS = 5
PTS_WRAP = 1 << 32


def synthetic_clip(path: Path, seconds: int = 10, fps: int = 30) -> Path:
    """A moving gradient with a bouncing square: cheap to make, never black, 640x480."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        across = np.linspace(0, 255, 640, dtype=np.uint8)[None, :].repeat(480, 0)
        down = np.linspace(0, 255, 480, dtype=np.uint8)[:, None].repeat(640, 1)
        for index in range(seconds * fps):
            image = np.dstack([np.roll(across, index * 4, axis=1), down, 255 - across])
            x = (index * 9) % 560
            image[200:280, x : x + 80] = 255
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# -- the viewer process ------------------------------------------------------------------


def capture_delays(viewer: Any) -> list[float]:
    """Seconds from capture to arrival of each video frame, matched through the pts.

    The viewer's pts is the RTP timestamp: the sender's pts plus a random origin, found as
    the most common difference between received pts and pts announced on the data channel.
    """
    announced = {r["pts"]: r["timestamp"] for r in viewer.results}
    if not announced or not viewer.frame_pts:
        return []
    offsets = Counter(
        (received - sent) % PTS_WRAP for received in viewer.frame_pts[:50] for sent in announced
    )
    offset = offsets.most_common(1)[0][0]
    delays = []
    for received, arrived in zip(viewer.frame_pts, viewer.frame_times, strict=True):
        captured = announced.get((received - offset) % PTS_WRAP)
        if captured is not None:
            delays.append(arrived - captured)
    return delays


async def run_viewers(url: str, pipeline_id: str, count: int, seconds: float) -> dict[str, Any]:
    from coral_serve.streams.webrtc import pin_host_addresses
    from tests.unit.streams.viewer import Viewer

    pin_host_addresses(["127.0.0.1"])
    viewers = [Viewer() for _ in range(count)]
    first_frame = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def connect(viewer: Viewer) -> None:
            began = time.time()
            offer = await viewer.offer()
            answer = await client.post(f"/api/v1/streams/{pipeline_id}/webrtc", json=offer)
            answer.raise_for_status()
            await viewer.accept(answer.json())
            await viewer.wait_frames(1, timeout=60)
            first_frame.append(viewer.frame_times[0] - began)

        await asyncio.gather(*(connect(viewer) for viewer in viewers))
        await asyncio.sleep(WARMUP_SECONDS)
        before = [len(v.frame_times) for v in viewers]
        print("measuring", flush=True)  # the server process starts its CPU window here
        began = time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - began
        fps = [(len(v.frame_times) - n) / elapsed for v, n in zip(viewers, before, strict=True)]
        delays = [d for v in viewers for d in capture_delays(v)]
        results = [
            arrived - result["timestamp"]
            for v in viewers
            for arrived, result in zip(v.result_times, v.results, strict=True)
        ]
    for viewer in viewers:
        await viewer.close()
    return {"first_frame": first_frame, "fps": fps, "delays": delays, "results": results}


# -- the server process -------------------------------------------------------------------


def viewers_in_child(
    url: str, pipeline_id: str, count: int, seconds: float
) -> tuple[dict, float, float]:
    """Run `count` viewers in a child process; (their figures, server and viewer-process CPU
    seconds per second meanwhile)."""
    command = [sys.executable, __file__, "--viewer-process", url, pipeline_id, str(count)]
    child = subprocess.Popen([*command, str(seconds)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None
    processes = (psutil.Process(), psutil.Process(child.pid))
    assert child.stdout.readline().strip() == "measuring"
    before, began = [sum(p.cpu_times()[:2]) for p in processes], time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - began
    server, viewers = (
        (sum(p.cpu_times()[:2]) - b) / elapsed for p, b in zip(processes, before, strict=True)
    )
    figures = json.loads(child.stdout.read())
    child.wait()
    return figures, server, viewers


def idle_cpu(seconds: float) -> float:
    server = psutil.Process()
    before = sum(server.cpu_times()[:2])
    time.sleep(seconds)
    return (sum(server.cpu_times()[:2]) - before) / seconds


def per_frame_costs(jpeg: bytes, rounds: int = 60) -> tuple[float, float, float]:
    """Milliseconds per frame: JPEG → I420 decode; VP8 and H.264 encodes as aiortc does."""
    from aiortc.codecs import get_encoder
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from coral_serve.streams.pictures import decode_i420

    began = time.perf_counter()
    for _ in range(rounds):
        i420 = decode_i420(jpeg)
    decode = (time.perf_counter() - began) / rounds * 1000
    encodes = []
    for mime, parameters in (("video/VP8", {}), ("video/H264", {"packetization-mode": "1"})):
        codec = RTCRtpCodecParameters(
            mimeType=mime, clockRate=90000, payloadType=96, parameters=parameters
        )
        encoder = get_encoder(codec)
        began = time.perf_counter()
        for index in range(rounds):
            frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
            frame.pts, frame.time_base = index * 3000, Fraction(1, 90000)
            encoder.encode(frame, force_keyframe=index == 0)
        encodes.append((time.perf_counter() - began) / rounds * 1000)
    return decode, encodes[0], encodes[1]


def spread(seconds: list[float]) -> str:
    """p50 / p95 in milliseconds."""
    if not seconds:
        return "  n/a /   n/a"
    ordered = sorted(seconds)
    p50, p95 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.95))
    return f"{p50 * 1000:5.0f} / {p95 * 1000:5.0f}"


async def serve_and_measure(video: Path, data: Path, seconds: float, counts: list[int]) -> None:
    from coral_serve.config import ConfigSources, load_config
    from tests.unit.webapp import running_app, served_on_loopback

    config = load_config(
        ConfigSources(
            sets=[
                f"pipelines.data_dir={data}",
                f"pipelines.sources.file_roots=[{video.parent}]",
                "streams.webrtc.host_addresses=[127.0.0.1]",
                "streams.webrtc.max_viewers_per_pipeline=100",
                "monitoring.enabled=false",
            ],
            environ={},
        )
    )
    async with (
        running_app(config) as (client, services),
        served_on_loopback(services["app"]) as url,  # type: ignore[arg-type]
    ):
        spec = {
            "name": "bench",
            "source": {"uri": str(video), "loop": True},
            "model": {"backend": "none"},
        }
        pipeline_id = (await client.post("/api/v1/pipelines", json=spec)).json()["id"]
        while (await client.get(f"/api/v1/streams/{pipeline_id}/snapshot.jpg")).status_code != 200:
            await asyncio.sleep(0.2)
        jpeg = (await client.get(f"/api/v1/streams/{pipeline_id}/snapshot.jpg")).content

        print(f"source: {video.name}; {os.cpu_count()} CPUs; window {seconds:g}s per figure")
        first = []
        for _ in range(FIRST_FRAME_ROUNDS):
            figures, *_ = await asyncio.to_thread(viewers_in_child, url, pipeline_id, 1, 1.0)
            first += figures["first_frame"]
        print(
            f"time to first frame (offer made → first decoded frame), {FIRST_FRAME_ROUNDS} "
            f"connects: median {statistics.median(first) * 1000:.0f} ms, "
            f"max {max(first) * 1000:.0f} ms"
        )
        baseline = await asyncio.to_thread(idle_cpu, seconds)
        source_fps = (await client.get(f"/api/v1/pipelines/{pipeline_id}/status")).json()["fps"]
        print(f"pipeline alone: {source_fps:.1f} fps, server CPU {baseline * 100:.0f}% of a core")
        print(
            "viewers | fps per viewer mean / min | video delay p50 / p95 ms | results delay "
            "p50 / p95 ms | server CPU | per viewer | viewer process CPU"
        )
        for count in counts:
            figures, cpu, client_cpu = await asyncio.to_thread(
                viewers_in_child, url, pipeline_id, count, seconds
            )
            fps = figures["fps"]
            print(
                f"{count:7d} | {statistics.mean(fps):11.1f} / {min(fps):5.1f}   | "
                f"{spread(figures['delays'])}      | {spread(figures['results'])}        | "
                f"{cpu * 100:9.0f}% | {(cpu - baseline) / count * 100:9.1f}% "
                f"| {client_cpu * 100:17.0f}%"
            )
        decode, vp8, h264 = per_frame_costs(jpeg)
        print(
            f"per frame: JPEG decode to I420 {decode:.2f} ms once per replica; encode per viewer "
            f"VP8 {vp8:.2f} ms, H.264 {h264:.2f} ms"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--viewer-process":
        url, pipeline_id, count, seconds = sys.argv[2:6]
        figures = asyncio.run(run_viewers(url, pipeline_id, int(count), float(seconds)))
        print(json.dumps(figures))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, help="Source clip (default: synthetic 30 fps).")
    parser.add_argument("--seconds", type=float, default=5.0, help="Window per figure.")
    parser.add_argument("--viewers", default="1,5,10", help="Viewer counts to measure.")
    args = parser.parse_args()
    counts = [int(n) for n in args.viewers.split(",")]
    with tempfile.TemporaryDirectory(prefix="coral-bench-") as scratch:
        video = args.video or synthetic_clip(Path(scratch) / "synthetic-640x480-30fps.mp4")
        asyncio.run(serve_and_measure(video.resolve(), Path(scratch), args.seconds, counts))


if __name__ == "__main__":
    main()
