"""Startup benchmark: seconds from `python -m coral_serve` to `/readyz` 200, and the PSS of
every process of the run once idle, per process group (the runner, Ray's own processes,
Serve's controller and proxy, each replica, the workers), with the second each group's
first process appeared, so the table also says where the start-up seconds go.

`--baseline REV` runs the same command from a git worktree of REV too (or from a copy of a
source tree, `--baseline DIR`), alternating runs on the same box, and prints both with their
ratio; `--baseline-set KEY=VALUE` instead runs this tree with extra overrides as the baseline
(a switch measured in one run); `--env KEY=VALUE` sets a variable for this tree's runs only
(against the same tree without it, unless another baseline is given). `--create` also times
one pipeline create once idle.

    .venv/bin/python bench/startup.py [--runs 3] [--idle 10] [--create] [--baseline HEAD~3]
    .venv/bin/python bench/startup.py --set demo=none --baseline-set runtime.warm_workers=null
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT))
from tests.integration.processes import (  # noqa: E402
    free_port,
    process_tree,
    read_log,
    start,
    terminate_and_collect_survivors,
    wait_ready,
)

# Substrings of a command line that name Ray's processes which are not `ray::` workers.
_MARKERS = (
    ("-m coral_serve", "runner (driver)"),
    ("gcs_server", "Ray GCS"),
    ("raylet/raylet", "Ray raylet"),
    ("dashboard/dashboard.py", "Ray API server (dashboard)"),
    ("log_monitor.py", "Ray log monitor"),
    ("autoscaler/_private/monitor.py", "Ray autoscaler monitor"),
)


@dataclass
class Run:
    ready: float
    pss: dict[str, float] = field(default_factory=dict)  # MiB per group
    count: dict[str, int] = field(default_factory=dict)
    appeared: dict[str, float] = field(default_factory=dict)  # s after the start
    create: float | None = None  # s for a pipeline create's 201, once idle

    @property
    def total(self) -> float:
        return sum(self.pss.values())


def group_of(proc: psutil.Process) -> str:
    """The process group a process of the run belongs to."""
    command = proc.cmdline()
    if command and command[0].startswith("ray::"):
        name = command[0].removeprefix("ray::").split()[0].split(".")[0]
        if name.startswith("ServeReplica:"):
            return "replica " + name.rsplit(":", 1)[-1]
        return {"IDLE": "idle Ray workers"}.get(name, name)
    joined = " ".join(command)
    for marker, name in _MARKERS:
        if marker in joined:
            return name
    return proc.name()


def time_create(url: str, examples: Path) -> float:
    """Seconds for `POST /api/v1/pipelines` of a NanoDet pipeline on the bundled clip."""
    spec = {
        "name": "bench-create",
        "source": {"uri": str(examples / "media" / "vtest.mp4"), "loop": True, "max_fps": 5},
        "model": {"path": str(examples / "models" / "nanodet-g-416.onnx"), "decoder": "nanodet"},
    }
    started = time.perf_counter()
    response = httpx.post(f"{url}/api/v1/pipelines", json=spec, timeout=60)
    if response.status_code != 201:
        raise AssertionError(f"create answered {response.status_code}: {response.text}")
    return time.perf_counter() - started


def one_run(command: Sequence[str], env: dict[str, str], idle_seconds: float, create: bool) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        port = free_port()
        started_wall = time.time()
        started = time.perf_counter()
        overrides = [f"http.port={port}", f"pipelines.data_dir={cwd}"]
        if create:
            overrides.append(f"pipelines.sources.file_roots=[{create / 'media'}]")
        process = start([*command, *overrides], cwd=cwd, env=env)
        try:
            wait_ready(process, f"http://127.0.0.1:{port}/readyz", cwd)
            run = Run(ready=time.perf_counter() - started)
            time.sleep(idle_seconds)
            if process.poll() is not None:
                raise AssertionError(f"exited with {process.returncode}:\n{read_log(cwd)}")
            pss: dict[str, float] = defaultdict(float)
            count: dict[str, int] = defaultdict(int)
            appeared: dict[str, float] = {}
            for proc in process_tree(process.pid):
                try:
                    group = group_of(proc)
                    memory = proc.memory_full_info()
                    born = proc.create_time() - started_wall
                except psutil.NoSuchProcess:
                    continue
                pss[group] += memory.pss / 2**20
                count[group] += 1
                appeared[group] = min(appeared.get(group, born), born)
            run.pss, run.count, run.appeared = dict(pss), dict(count), appeared
            if create:
                run.create = time_create(f"http://127.0.0.1:{port}", create)
        finally:
            if process.poll() is None:
                terminate_and_collect_survivors(process, signal.SIGTERM)
        return run


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A throwaway checkout of `rev`, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
            check=True,
            capture_output=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                check=False,
                capture_output=True,
            )


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def report(label: str, runs: list[Run]) -> None:
    for index, run in enumerate(runs, 1):
        created = f", create answered in {run.create:.1f} s" if run.create is not None else ""
        print(
            f"{label} run {index}: ready in {run.ready:.1f} s, {run.total:.0f} MiB PSS "
            f"over {sum(run.count.values())} processes{created}"
        )


def _cell(runs: list[Run], group: str) -> str:
    present = [r for r in runs if group in r.pss]
    if not present:
        return f"{'-':>24}{'':>7}"
    pss = _median(r.pss.get(group, 0.0) for r in runs)
    count = max(r.count[group] for r in present)
    at = _median(r.appeared[group] for r in present)
    return f"{f'{pss:.0f} ({count})':>24}{at:>7.1f}"


def table(columns: dict[str, list[Run]]) -> None:
    first = next(iter(columns.values()))
    groups = sorted(
        {g for runs in columns.values() for r in runs for g in r.pss},
        key=lambda g: _median(r.appeared.get(g, 1e9) for r in first),
    )
    head = "".join(f"{label + ' MiB PSS (n)':>24}{'at s':>7}" for label in columns)
    print(f"\n{'process group':<34}{head}")
    for group in groups:
        print(f"{group:<34}" + "".join(_cell(runs, group) for runs in columns.values()))
    rows = {
        "total idle PSS (median)": lambda r: r.total,
        "seconds to /readyz 200 (median)": lambda r: r.ready,
    }
    if all(r.create is not None for runs in columns.values() for r in runs):
        rows["seconds to a create's 201"] = lambda r: r.create
    for title, pick in rows.items():
        cells = "".join(f"{_median(map(pick, runs)):>24.1f}{'':>7}" for runs in columns.values())
        print(f"{title:<34}{cells}")
    if len(columns) == 2:
        before, after = columns.values()
        ratios = ", ".join(
            f"{title.split(' (')[0]} {_median(map(pick, after)) / _median(map(pick, before)):.2f}x"
            for title, pick in rows.items()
        )
        print(f"\n{' / '.join(reversed(columns))}: {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before PSS")
    parser.add_argument("--set", action="append", default=[], help="an override for every run")
    parser.add_argument(
        "--create", action="store_true", help="once idle, time one pipeline create's 201"
    )
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for this tree's runs only"
    )
    baseline = parser.add_mutually_exclusive_group()
    baseline.add_argument(
        "--baseline", metavar="REV|DIR", help="also run this git revision, or this source tree"
    )
    baseline.add_argument(
        "--baseline-set", action="append", default=[], help="an override of the baseline only"
    )
    args = parser.parse_args()
    command = [sys.executable, "-m", "coral_serve", *args.set]
    columns: dict[str, list[Run]] = {}
    with contextlib.ExitStack() as stack:
        variants: dict[str, tuple[list[str], dict[str, str], Path]] = {}
        if args.baseline:
            given = Path(args.baseline)
            tree = given if given.is_dir() else stack.enter_context(worktree(args.baseline))
            path = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
            variants["baseline"] = (command, {"PYTHONPATH": path}, tree / "examples")
        elif args.baseline_set:
            variants["baseline"] = ([*command, *args.baseline_set], {}, EXAMPLES)
        if args.env and not variants:
            variants["baseline"] = (command, {}, EXAMPLES)
        env = dict(item.split("=", 1) for item in args.env)
        variants["this tree" if variants else "run"] = (command, env, EXAMPLES)
        for _ in range(args.runs):
            for label, (cmd, env, examples) in variants.items():
                run = one_run(cmd, env, args.idle, examples if args.create else None)
                columns.setdefault(label, []).append(run)
    for label, runs in columns.items():
        report(label, runs)
    table(columns)


if __name__ == "__main__":
    main()
