"""Benchmark: WebRTC live view of one 640x480, 30 fps pipeline: encoder per viewer, shared
encoder, raw passthrough.

    .venv/bin/python bench/streams.py [--video PATH] [--seconds S] [--viewers 1,10,50]

The control plane (in-process services, a real pipeline worker in threads, the ingress on a
loopback port) runs in this process three times: first with an encoder per viewer
(`streams.webrtc.shared_encoder=false`, how every viewer was served before), then with one
H.264 encoder per pipeline whose packets every viewer is sent (the default), then with the
raw view (`view: raw`: the clip's own H.264 relayed, no decode or encode). The viewers
are aiortc peers in a child process, so this process's CPU time is the server's own; they
count the frames they receive without decoding them (decoding 50 streams would take more
cores than the server), except the viewers that join mid-stream to time their first frame,
which decode, in a process of their own. Prints, per mode and viewer count:

1. fps per viewer (mean / min) and the frame delay capture → viewer p50/p95 (each video
   frame matched to its capture time through the pts announced on the data channel;
   aiortc's receiver releases a frame only when the next one starts arriving, so this
   includes one frame interval a browser does not add; n/a for the raw view, whose pts
   are the source's own);
2. server CPU, per viewer over the pipeline alone, and per additional viewer (over the
   first viewer's figure); the viewer process's own CPU (both share this machine's cores);
3. first frame of a viewer joining mid-stream: offer made → first decoded frame;

then the ratios of each mode to the one before, and where a frame's server time goes (one
JPEG decode and one shared encode per replica against one encode per viewer, against one
demux per replica for the raw view).

The default source is a synthetic 640x480, 30 fps H.264 clip written with PyAV, a keyframe
every 2 s and no B-frames, as cameras send (vtest is 10 fps).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
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
JOINS = 3
PTS_WRAP = 1 << 32
# (label, streams.webrtc.shared_encoder, the offer's view)
MODES = (
    ("encoder per viewer", False, "annotated"),
    ("shared encoder", True, "annotated"),
    ("raw passthrough", True, "raw"),
)


def synthetic_clip(path: Path, seconds: int = 10, fps: int = 30) -> Path:
    """A moving gradient with a bouncing square: cheap to make, never black, 640x480."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.options = {"g": str(2 * fps), "bf": "0"}
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


# -- the viewer processes -----------------------------------------------------------------


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


def count_without_decoding() -> None:
    """Viewers in this process hand on a tiny picture per received frame, undecoded."""
    import aiortc.rtcrtpreceiver
    from aiortc.mediastreams import VIDEO_TIME_BASE

    class Counting:
        def decode(self, encoded: Any) -> list[av.VideoFrame]:
            frame = av.VideoFrame(16, 16, "yuv420p")
            frame.pts, frame.time_base = encoded.timestamp, VIDEO_TIME_BASE
            return [frame]

    aiortc.rtcrtpreceiver.get_decoder = lambda codec: Counting()


async def connect(client: httpx.AsyncClient, pipeline_id: str, viewer: Any, view: str) -> None:
    offer = {**await viewer.offer(), "view": view}
    answer = await client.post(f"/api/v1/streams/{pipeline_id}/webrtc", json=offer)
    answer.raise_for_status()
    await viewer.accept(answer.json())


async def run_viewers(url: str, pipeline_id: str, view: str, count: int, seconds: float) -> None:
    """Watch with `count` counting viewers; print "measuring", then the figures, then stay
    connected until stdin closes (while the joining viewers are timed)."""
    from coral_serve.streams.webrtc import pin_host_addresses
    from tests.unit.streams.viewer import Viewer

    count_without_decoding()
    pin_host_addresses(["127.0.0.1"])
    viewers = [Viewer() for _ in range(count)]
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(connect(client, pipeline_id, v, view) for v in viewers))
        await asyncio.gather(*(viewer.wait_frames(1, timeout=60) for viewer in viewers))
    await asyncio.sleep(WARMUP_SECONDS)
    before = [len(v.frame_times) for v in viewers]
    print("measuring", flush=True)  # the server process starts its CPU window here
    began = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - began
    fps = [(len(v.frame_times) - n) / elapsed for v, n in zip(viewers, before, strict=True)]
    delays = [] if view == "raw" else [d for v in viewers for d in capture_delays(v)]
    print(json.dumps({"fps": fps, "delays": delays}), flush=True)
    await asyncio.to_thread(sys.stdin.read)
    for viewer in viewers:
        await viewer.close()


async def run_joins(url: str, pipeline_id: str, view: str, rounds: int) -> None:
    """Join `rounds` times, one decoding viewer at a time; print each first-frame time."""
    from coral_serve.streams.webrtc import pin_host_addresses
    from tests.unit.streams.viewer import Viewer

    pin_host_addresses(["127.0.0.1"])
    first = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for _ in range(rounds):
            viewer = Viewer()
            began = time.time()
            await connect(client, pipeline_id, viewer, view)
            await viewer.wait_frames(1, timeout=60)
            first.append(viewer.frame_times[0] - began)
            await viewer.close()
            await asyncio.sleep(0.5)
    print(json.dumps(first))


# -- the server process -------------------------------------------------------------------


@dataclass
class Row:
    viewers: int
    fps: list[float]
    delays: list[float]
    server: float  # CPU seconds per second
    client: float
    first_frame: list[float]
    source_fps: float  # frames the pipeline published per second meanwhile


def watch_in_children(
    url: str,
    pipeline_id: str,
    view: str,
    count: int,
    seconds: float,
    published: Callable[[], int],
) -> Row:
    """`count` viewers in one child process, then viewers joining mid-stream in another;
    `published` counts the pipeline's frames so far."""
    command = [sys.executable, __file__, "--viewer-process", url, pipeline_id, view, str(count)]
    child = subprocess.Popen(
        [*command, str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    processes = (psutil.Process(), psutil.Process(child.pid))
    assert child.stdout.readline().strip() == "measuring"
    frames, began = published(), time.monotonic()
    before = [sum(p.cpu_times()[:2]) for p in processes]
    time.sleep(seconds)
    elapsed = time.monotonic() - began
    server, viewers = (
        (sum(p.cpu_times()[:2]) - b) / elapsed for p, b in zip(processes, before, strict=True)
    )
    source_fps = (published() - frames) / elapsed
    figures = json.loads(child.stdout.readline())
    joins = subprocess.run(
        [sys.executable, __file__, "--join-process", url, pipeline_id, view, str(JOINS)],
        capture_output=True,
        text=True,
        check=True,
    )
    child.stdin.close()
    child.wait()
    first = json.loads(joins.stdout.strip().splitlines()[-1])
    return Row(count, figures["fps"], figures["delays"], server, viewers, first, source_fps)


def idle_cpu(seconds: float) -> float:
    server = psutil.Process()
    before = sum(server.cpu_times()[:2])
    time.sleep(seconds)
    return (sum(server.cpu_times()[:2]) - before) / seconds


def per_frame_costs(jpeg: bytes, video: Path, rounds: int = 60) -> dict[str, float]:
    """Milliseconds per frame: JPEG → I420; aiortc's own VP8 and H.264 encodes (one per
    viewer); the shared H.264 encoder's (one per pipeline per replica); the raw view's
    demux to Annex B (one per pipeline per replica)."""
    from aiortc.codecs import get_encoder
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from coral_serve.streams.demux import H264Demuxer
    from coral_serve.streams.encoder import _H264
    from coral_serve.streams.pictures import decode_i420

    began = time.perf_counter()
    for _ in range(rounds):
        i420 = decode_i420(jpeg)
    costs = {"JPEG decode": (time.perf_counter() - began) / rounds * 1000}
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
        costs[f"{mime[6:]} per viewer"] = (time.perf_counter() - began) / rounds * 1000
    shared = _H264()
    began = time.perf_counter()
    for index in range(rounds):
        shared.encode(i420, index * 3000, index == 0)
    costs["H264 shared"] = (time.perf_counter() - began) / rounds * 1000
    demuxer, read = H264Demuxer(str(video), timeout=5.0), 0
    began = time.perf_counter()
    while read < rounds and (packets := demuxer.read()) is not None:
        read += len(packets)
    costs["raw demux"] = (time.perf_counter() - began) / max(read, 1) * 1000
    demuxer.close()
    return costs


def spread(seconds: list[float]) -> str:
    """p50 / p95 in milliseconds."""
    if not seconds:
        return "  n/a /   n/a"
    ordered = sorted(seconds)
    p50, p95 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.95))
    return f"{p50 * 1000:5.0f} / {p95 * 1000:5.0f}"


def print_row(row: Row, idle: float, first: Row) -> None:
    over_idle = (row.server - idle) / row.viewers
    added = (
        (row.server - first.server) / (row.viewers - first.viewers)
        if row.viewers > first.viewers
        else row.server - idle
    )
    print(
        f"{row.viewers:7d} | {row.source_fps:6.1f} | "
        f"{statistics.mean(row.fps):6.1f} / {min(row.fps):5.1f} | "
        f"{spread(row.delays)}      | {row.server * 100:6.0f}% | {over_idle * 100:9.1f}% | "
        f"{added * 100:9.1f}% | {row.client * 100:7.0f}% | "
        f"{statistics.median(row.first_frame) * 1000:5.0f} / {max(row.first_frame) * 1000:5.0f}"
    )


async def measure(
    shared: bool, view: str, video: Path, data: Path, seconds: float, counts: list[int]
) -> tuple[float, list[Row], bytes]:
    """(server CPU with the pipeline alone, a row per viewer count, a published JPEG)."""
    from coral_serve.config import ConfigSources, load_config
    from tests.unit.streams.support import processed
    from tests.unit.webapp import running_app, served_on_loopback

    config = load_config(
        ConfigSources(
            sets=[
                f"pipelines.data_dir={data}",
                f"pipelines.sources.file_roots=[{video.parent}]",
                "streams.webrtc.host_addresses=[127.0.0.1]",
                "streams.webrtc.max_viewers_per_pipeline=1000",
                "streams.webrtc.max_sessions_per_replica=1000",
                f"streams.webrtc.shared_encoder={str(shared).lower()}",
                "monitoring.enabled=false",
                "demo=none",
                "http.admission.enabled=false",  # every viewer offers from one address
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
        loop = asyncio.get_running_loop()

        def published() -> int:
            reading = processed(client, pipeline_id)
            return asyncio.run_coroutine_threadsafe(reading, loop).result()

        frames, began = await processed(client, pipeline_id), time.monotonic()
        idle = await asyncio.to_thread(idle_cpu, seconds)
        fps = (await processed(client, pipeline_id) - frames) / (time.monotonic() - began)
        print(f"pipeline alone: {fps:.1f} fps, server CPU {idle * 100:.0f}% of a core")
        print(
            "viewers | source fps | fps mean / min | video delay p50 / p95 ms | server | "
            "per viewer | per added | viewers | join: first frame median / max ms"
        )
        rows: list[Row] = []
        for count in counts:
            rows.append(
                await asyncio.to_thread(
                    watch_in_children, url, pipeline_id, view, count, seconds, published
                )
            )
            print_row(rows[-1], idle, rows[0])
    return idle, rows, jpeg


def ratios(before: list[Row], after: list[Row]) -> None:
    """Each viewer count of `after` against the same count of `before`."""
    first_before, first_after = before[0], after[0]
    for old, new in zip(before[1:], after[1:], strict=True):
        span = new.viewers - first_after.viewers
        added_old = (old.server - first_before.server) / span
        added_new = (new.server - first_after.server) / span
        print(
            f"{new.viewers:3d} viewers: server CPU {old.server * 100:.0f}% → "
            f"{new.server * 100:.0f}% ({old.server / new.server:.1f}x less); per added viewer "
            f"{added_old * 100:.1f}% → {added_new * 100:.2f}% of a core "
            f"({added_old / max(added_new, 1e-4):.0f}x less); fps per viewer "
            f"{statistics.mean(old.fps):.1f} → {statistics.mean(new.fps):.1f} "
            f"({statistics.mean(new.fps) / statistics.mean(old.fps):.2f}x)"
        )
    joins_old = statistics.median([t for row in before for t in row.first_frame])
    joins_new = statistics.median([t for row in after for t in row.first_frame])
    print(
        f"first frame joining mid-stream, median of every join: {joins_old * 1000:.0f} ms → "
        f"{joins_new * 1000:.0f} ms ({joins_new / joins_old:.2f}x)"
    )


async def serve_and_measure(
    video: Path, scratch: Path, seconds: float, counts: list[int], modes: list[str]
) -> None:
    print(
        f"source: {video.name}; {os.cpu_count()} CPUs; window {seconds:g}s per figure; "
        f"load average {load()}"
    )
    results = {}
    for label, shared, view in MODES:
        if label in modes:
            print(f"\n== {label} ==")
            data = scratch / label.replace(" ", "-")
            results[label] = await measure(shared, view, video, data, seconds, counts)
    measured = list(results)
    for before, after in itertools.pairwise(measured):
        print(f"\n== {before} → {after} ==")
        ratios(results[before][1], results[after][1])
    costs = per_frame_costs(next(iter(results.values()))[2], video)
    print("per frame, ms: " + ", ".join(f"{name} {ms:.2f}" for name, ms in costs.items()))
    print(f"load average at the end {load()} (other work on the box starves both ends)")


def load() -> str:
    return " ".join(f"{figure:.1f}" for figure in os.getloadavg())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--viewer-process":
        url, pipeline_id, view, count, seconds = sys.argv[2:7]
        asyncio.run(run_viewers(url, pipeline_id, view, int(count), float(seconds)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--join-process":
        url, pipeline_id, view, rounds = sys.argv[2:6]
        asyncio.run(run_joins(url, pipeline_id, view, int(rounds)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, help="Source clip (default: synthetic 30 fps).")
    parser.add_argument("--seconds", type=float, default=5.0, help="Window per figure.")
    parser.add_argument("--viewers", default="1,10,50", help="Viewer counts to measure.")
    parser.add_argument(
        "--modes", default=",".join(label for label, *_ in MODES), help="Modes to measure."
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.viewers.split(",")]
    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory(prefix="coral-bench-") as scratch:
        video = args.video or synthetic_clip(Path(scratch) / "synthetic-640x480-30fps.mp4")
        asyncio.run(serve_and_measure(video.resolve(), Path(scratch), args.seconds, counts, modes))


if __name__ == "__main__":
    main()
