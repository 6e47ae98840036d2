"""Chaos benchmark: SIGKILL the whole serving process group N times and check what comes back.

Three pipelines on the bundled clip (backend `none`, `loop: true`), one of them paused, and a
create in flight at every kill. After each restart every acknowledged pipeline must be back,
once, in its desired state, and the paused one must not have processed a frame. Loopback
only; every cycle is bounded by a timeout.

    .venv/bin/python bench/chaos.py [--cycles 20] [--settle-timeout 180] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.integration.processes import (  # noqa: E402
    free_port,
    process_tree,
    read_log,
    start,
    wait_ready,
)

API = "/api/v1/pipelines"
STEADY = {"cam-a": "running", "cam-b": "running", "cam-paused": "paused"}


@dataclass
class Figures:
    cycles: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong_state: int = 0
    restore_seconds: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        times = self.restore_seconds
        return {
            **{k: v for k, v in asdict(self).items() if k != "restore_seconds"},
            "restore_median_s": round(statistics.median(times), 2) if times else None,
            "restore_max_s": round(max(times), 2) if times else None,
        }


def find_clip() -> Path:
    for root in (
        REPO / "examples",
        Path(os.environ.get("CORAL_SHARED_DIR", REPO.parent / "shared")),
    ):
        clip = root / "media" / "vtest-10s.mp4"
        if clip.is_file():
            return clip
    raise SystemExit("vtest-10s.mp4 is neither in examples/media nor in ../shared/media")


def spec(name: str, clip: Path) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"uri": str(clip), "loop": True},
        "model": {"backend": "none"},
        "resources": {"num_cpus": 0.1},
    }


def overrides(workdir: Path, port: int, clip: Path) -> list[str]:
    settings = [
        f"http.port={port}",
        f"pipelines.data_dir={workdir / 'data'}",
        f"pipelines.sources.file_roots=[{clip.parent}]",
        "pipelines.reconcile_interval=0.5",
        # One process per pipeline: the duplicate check counts them (a shared host holds
        # several; restore in `shared` is tested in tests/integration/test_pipelines_on_ray.py).
        "pipelines.isolation=process",
    ]
    if (REPO / "conf" / "demo" / "none.yaml").is_file():
        settings.append("demo=none")
    return settings


def worker_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if " ".join(proc.info["cmdline"] or []).startswith("ray::PipelineWorker"):
                found.append(proc)
    return found


def wait_for(probe: Any, condition: Any, timeout: float) -> Any:
    """Poll every 0.3 s; the last value (condition unmet) once `timeout` passes."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not condition(value) and time.monotonic() < deadline:
        time.sleep(0.3)
        value = probe()
    return value


class Cluster:
    """One `python -m coral_serve` with its own Ray, in its own process group."""

    def __init__(self, workdir: Path, settings: list[str], port: int) -> None:
        self.workdir = workdir
        self.settings = settings
        self.url = f"http://127.0.0.1:{port}"
        self.process: Popen | None = None
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def start(self) -> None:
        self.process = start([sys.executable, "-m", "coral_serve", *self.settings], self.workdir)
        wait_ready(self.process, f"{self.url}/readyz", self.workdir)

    def kill(self) -> None:
        """SIGKILL every process of the group, then wait until no worker is left."""
        assert self.process is not None
        tree = process_tree(self.process.pid)  # Ray may have moved some into other groups
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self.process.wait(30)
        for proc in wait_for(worker_processes, lambda procs: not procs, timeout=60):
            with contextlib.suppress(psutil.Error):
                proc.kill()

    def views(self) -> list[dict[str, Any]]:
        try:
            return self.client.get(API).json()
        except (httpx.HTTPError, ValueError):
            return []

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        self.client.close()


def settled(views: list[dict[str, Any]], expected: dict[str, str]) -> bool:
    states = {v["name"]: v["status"]["state"] for v in views}
    return all(states.get(name) == state for name, state in expected.items())


def setup(cluster: Cluster, clip: Path) -> dict[str, str]:
    ids = {}
    for name in STEADY:
        created = cluster.client.post(API, json=spec(name, clip))
        created.raise_for_status()
        ids[name] = created.json()["id"]
    cluster.client.post(f"{API}/{ids['cam-paused']}/pause").raise_for_status()
    return ids


def check(
    cluster: Cluster, figures: Figures, expected: dict[str, str], timeout: float, started: float
) -> None:
    """Compare what came back with what was acknowledged; count each kind of problem.
    `started`: when the restart began (restore time counts the server's start-up)."""
    seen_states: dict[str, set[str]] = {name: set() for name in expected}

    def probe() -> list[dict[str, Any]]:
        views = cluster.views()
        for view in views:
            seen_states.setdefault(view["name"], set()).add(view["status"]["state"])
        return views

    views = wait_for(probe, lambda v: settled(v, expected), timeout)
    cycle = figures.cycles
    names = [v["name"] for v in views]
    for name in expected:
        if name not in names:
            figures.lost += 1
            figures.problems.append(f"cycle {cycle}: {name} lost")
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates or len(worker_processes()) > len(views):
        figures.duplicated += 1
        figures.problems.append(f"cycle {cycle}: duplicated {duplicates or 'workers'}")
    if not settled(views, expected):
        figures.wrong_state += 1
        states = {v["name"]: v["status"]["state"] for v in views}
        figures.problems.append(f"cycle {cycle}: not settled: {states}")
    else:
        figures.restore_seconds.append(time.monotonic() - started)
    paused = next((v for v in views if v["name"] == "cam-paused"), None)
    if paused is not None and (
        paused["status"]["counters"]["frames_processed"] or "running" in seen_states["cam-paused"]
    ):
        figures.wrong_state += 1
        figures.problems.append(f"cycle {cycle}: the paused pipeline ran after the restore")


def run(cycles: int, settle_timeout: float, seed: int = 7) -> Figures:
    rng = random.Random(seed)
    clip = find_clip()
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="coral-chaos-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        cluster = Cluster(workdir, overrides(workdir, port, clip), port)
        try:
            cluster.start()
            setup(cluster, clip)
            expected = dict(STEADY)
            wait_for(cluster.views, lambda v: settled(v, expected), settle_timeout)
            for cycle in range(cycles):
                figures.cycles = cycle + 1
                late = f"late-{cycle}"
                acknowledged = threading.Event()

                def create_late(name: str = late, done: threading.Event = acknowledged) -> None:
                    with contextlib.suppress(httpx.HTTPError):
                        if cluster.client.post(API, json=spec(name, clip)).status_code == 201:
                            done.set()

                creating = threading.Thread(target=create_late, daemon=True)
                creating.start()
                time.sleep(rng.uniform(0.0, 0.2))
                cluster.kill()
                creating.join(30)
                restarted = time.monotonic()
                cluster.start()
                wanted = {**expected, **({late: "running"} if acknowledged.is_set() else {})}
                check(cluster, figures, wanted, settle_timeout, restarted)
                for view in cluster.views():  # keep the load bounded: three pipelines
                    if view["name"].startswith("late-"):
                        cluster.client.delete(f"{API}/{view['id']}")
        except AssertionError as exc:  # the server did not come up: say why, keep figures
            figures.problems.append(f"cycle {figures.cycles}: {exc}"[:2000])
        finally:
            cluster.close()
            if figures.problems:
                print(read_log(workdir)[-3000:], file=sys.stderr)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--settle-timeout", type=float, default=180.0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(args.cycles, args.settle_timeout)
    summary = figures.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>18}: {value}")
    broken = figures.lost or figures.duplicated or figures.wrong_state or figures.problems
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
