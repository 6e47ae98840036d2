"""Load benchmark: 200 concurrent API clients (`hey`) against the list and status endpoints
for 60 s while 4 NanoDet pipelines run on the real Ray graph. Prints requests/s, p50/p99
latency, errors, and the pipelines' fps under load as a ratio of their fps without load.

    .venv/bin/python bench/load.py [--seconds 60] [--clients 200] [--pipelines 4]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import shared_dir
from tests.integration.server import Server, control_plane

API = "/api/v1/pipelines"


@dataclass
class HeyResult:
    requests_per_second: float
    p50: float
    p99: float
    errors: int
    total: int


def parse_hey(output: str) -> HeyResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", output).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", output).group(1))  # type: ignore[union-attr]
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", output)}
    # Transport failures (timeouts, refused connections) are listed as `[count] Get ...`.
    failures = sum(int(n) for n in re.findall(r"^\s*\[(\d+)\]\s+Get ", output, re.MULTILINE))
    errors = sum(n for code, n in codes.items() if code >= 400) + failures
    return HeyResult(rps, p50, p99, errors, sum(codes.values()))


def processed(server: Server, ids: list[str]) -> dict[str, int]:
    return {
        pipeline_id: server.client.get(f"{API}/{pipeline_id}/status").json()["counters"][
            "frames_processed"
        ]
        for pipeline_id in ids
    }


def fps_over(server: Server, ids: list[str], seconds: float) -> float:
    """Mean fps per pipeline from frame counters, so it covers the whole interval."""
    before, started = processed(server, ids), time.monotonic()
    time.sleep(seconds)
    after, elapsed = processed(server, ids), time.monotonic() - started
    return sum(after[i] - before[i] for i in ids) / len(ids) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--pipelines", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("hey") is None:
        sys.exit("hey is not installed: scripts/apt-install.sh hey")
    video = shared_dir() / "media" / "vtest.mp4"
    model = shared_dir() / "models" / "nanodet-g-416.onnx"
    with (
        tempfile.TemporaryDirectory() as tmp,
        control_plane(
            Path(tmp),
            [f"pipelines.data_dir={tmp}/data", f"pipelines.sources.file_roots=[{video.parent}]"],
        ) as server,
    ):
        ids = []
        for n in range(args.pipelines):
            spec = {
                "name": f"cam-{n}",
                "source": {"uri": str(video), "loop": True},
                "model": {"path": str(model), "decoder": "nanodet", "threads": 1},
                "resources": {"num_cpus": 0.25},
            }
            ids.append(server.client.post(API, json=spec).json()["id"])
        deadline = time.monotonic() + 120
        while any(server.client.get(f"{API}/{i}/status").json()["state"] != "running" for i in ids):
            if time.monotonic() > deadline:
                sys.exit("pipelines did not start")
            time.sleep(1)
        time.sleep(5)
        idle_fps = fps_over(server, ids, 15)

        half = max(args.clients // 2, 1)
        commands = [
            ["hey", "-z", f"{args.seconds}s", "-c", str(half), f"{server.url}{API}"],
            [
                "hey",
                "-z",
                f"{args.seconds}s",
                "-c",
                str(half),
                f"{server.url}{API}/{ids[0]}/status",
            ],
        ]
        runs = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
        time.sleep(5)
        loaded_fps = fps_over(server, ids, max(args.seconds - 10, 5))
        results = [parse_hey(run.communicate()[0]) for run in runs]
        try:
            httpx.get(f"{server.url}/readyz", timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            print(f"readiness after load: {exc}")

    for name, result in zip(("list", "status"), results, strict=True):
        print(
            f"{name:>6}: {result.requests_per_second:8.1f} req/s  p50 {result.p50 * 1000:6.1f} ms"
            f"  p99 {result.p99 * 1000:7.1f} ms  errors {result.errors}/{result.total}"
        )
    total = sum(r.requests_per_second for r in results)
    print(f"total: {total:.1f} req/s from {args.clients} clients over {args.seconds} s")
    print(f"pipeline fps without load: {idle_fps:.2f}; under load: {loaded_fps:.2f}")
    print(f"fps ratio under load: {loaded_fps / idle_fps:.3f}")


if __name__ == "__main__":
    main()
