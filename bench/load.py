"""Load benchmark: a fixed number of keep-alive API clients (`wrk`, a separate process) for a
fixed time against a real `python -m coral_serve`, first with no pipeline, then with
NanoDet pipelines on the bundled vtest clip. Prints req/s, p50/p99, errors and 429s for each
phase, each pipeline's fps before and during the load, and the ratios against the first
phase of the same run (the baseline).

    .venv/bin/python bench/load.py [--seconds 30] [--clients 50] [--pipelines 2] [--fps 10]
        [--set runtime.control_plane_nice=5 ...]

`wrk` is a Debian package; a missing one is installed with scripts/apt-install.sh. On a small
box the generator shares the CPUs: `--wrk-nice` (default 10) keeps it from starving the
server, and the figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.server import Server, control_plane, wait_until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
API = "/api/v1/pipelines"

# wrk runs this per thread: requests go round the paths in WRK_PATHS (comma-separated), and
# `done` prints one JSON line with the figures this script reads.
_LUA = r"""
local paths, index = {}, 0
statuses = {}  -- a global: `done` reads each thread's copy with thread:get
for path in string.gmatch(os.getenv("WRK_PATHS"), "[^,]+") do paths[#paths + 1] = path end
local counters = {}
function setup(thread) table.insert(counters, thread) end
function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(counters) do
    for status, n in pairs(thread:get("statuses")) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + n
    end
  end
  local e = summary.errors
  local parts = {}
  for status, n in pairs(merged) do parts[#parts + 1] = string.format('"%s": %d', status, n) end
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "statuses": {%s}, ' ..
    '"errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, table.concat(parts, ", "),
    e.connect + e.read + e.write, e.timeout))
end
"""


@dataclass
class LoadResult:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    errors: int
    timeouts: int

    def line(self, baseline: LoadResult | None) -> str:
        ratio = (
            f"  x{self.requests_per_second / baseline.requests_per_second:.2f}"
            if (baseline and baseline.requests_per_second)
            else ""
        )
        rejected = self.statuses.get("429", 0)
        failed = sum(n for code, n in self.statuses.items() if code >= "400" and code != "429")
        return (
            f"{self.name:<28} {self.requests_per_second:8.1f} req/s{ratio:<7}  "
            f"p50 {self.p50_ms:7.1f} ms  p99 {self.p99_ms:7.1f} ms  429s {rejected}  "
            f"other 4xx/5xx {failed}  socket errors {self.errors}  timeouts {self.timeouts}"
        )


def run_wrk(
    server: Server, name: str, paths: list[str], args: argparse.Namespace, script: Path
) -> LoadResult:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.clients}",
        f"-d{args.seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        server.url,
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "WRK_PATHS": ",".join(paths)},
        preexec_fn=lambda: os.nice(args.wrk_nice),
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult(
        name,
        figures["requests"] / figures["seconds"],
        figures["p50"],
        figures["p99"],
        figures["statuses"],
        figures["errors"],
        figures["timeouts"],
    )


def frames(server: Server, ids: list[str]) -> dict[str, int]:
    counters = {}
    for pipeline_id in ids:
        status = admitted(functools.partial(server.client.get, f"{API}/{pipeline_id}/status"))
        status = status.json()
        counters[pipeline_id] = status["counters"]["frames_processed"]
    return counters


def fps_while(server: Server, ids: list[str], action) -> tuple[dict[str, float], object]:
    """Each pipeline's fps from its frame counter over the time `action()` runs."""
    before, started = frames(server, ids), time.monotonic()
    result = action()
    after, elapsed = frames(server, ids), time.monotonic() - started
    return {i: (after[i] - before[i]) / elapsed for i in ids}, result


def admitted(send: Callable[[], httpx.Response], attempts: int = 30) -> httpx.Response:
    """`send()` again after each 429's Retry-After: the load phase just before used up this
    address's admission budget (http.admission is per client, and wrk shares the address)."""
    for _ in range(attempts):
        response = send()
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response


def create_pipelines(server: Server, count: int, fps: float) -> list[str]:
    ids = []
    for n in range(count):
        spec = {
            "name": f"cam-{n}",
            "source": {"uri": str(EXAMPLES / "media" / "vtest.mp4"), "loop": True, "max_fps": fps},
            "model": {
                "path": str(EXAMPLES / "models" / "nanodet-g-416.onnx"),
                "decoder": "nanodet",
                "threads": 1,
            },
        }
        response = admitted(functools.partial(server.client.post, API, json=spec))
        response.raise_for_status()
        ids.append(response.json()["id"])

    def running() -> list[str]:
        statuses = [
            admitted(functools.partial(server.client.get, f"{API}/{i}/status")) for i in ids
        ]
        return [status.json()["state"] for status in statuses]

    wait_until(running, lambda states: all(s == "running" for s in states), timeout=180)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--pipelines", type=int, default=2)
    parser.add_argument("--fps", type=float, default=10.0, help="max_fps of each pipeline")
    parser.add_argument("--wrk-nice", type=int, default=10, help="niceness of the generator")
    parser.add_argument("--set", action="append", default=[], help="descriptor override")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run([str(ROOT / "scripts" / "apt-install.sh"), "wrk"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "mix.lua"
        script.write_text(_LUA, encoding="utf-8")
        overrides = [
            "demo=none",
            f"pipelines.data_dir={tmp}/data",
            f"pipelines.sources.file_roots=[{EXAMPLES / 'media'}]",
            *args.set,
        ]
        with control_plane(Path(tmp), overrides) as server:
            health = run_wrk(server, "0 pipelines: /healthz", ["/healthz"], args, script)
            listing = run_wrk(server, "0 pipelines: list", [API], args, script)
            ids = create_pipelines(server, args.pipelines, args.fps)
            statuses = [f"{API}/{i}/status" for i in ids]
            idle_fps, _ = fps_while(server, ids, lambda: time.sleep(args.seconds / 2))
            loaded_fps, mixed = fps_while(
                server,
                ids,
                lambda: run_wrk(
                    server, f"{len(ids)} pipelines: list+status", [API, *statuses], args, script
                ),
            )
            loaded_health = run_wrk(
                server, f"{len(ids)} pipelines: /healthz", ["/healthz"], args, script
            )
    print(
        f"{args.clients} clients, {args.seconds} s per phase, wrk nice {args.wrk_nice}, "
        f"overrides {args.set or 'none'}"
    )
    print(health.line(None))
    print(listing.line(None))
    print(mixed.line(listing))
    print(loaded_health.line(health))
    for pipeline_id in ids:
        idle, loaded = idle_fps[pipeline_id], loaded_fps[pipeline_id]
        ratio = loaded / idle if idle else 0.0
        print(
            f"pipeline {pipeline_id[:8]}: {idle:5.2f} fps idle, {loaded:5.2f} loaded ({ratio:.0%})"
        )


if __name__ == "__main__":
    main()
