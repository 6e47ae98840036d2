"""Startup benchmark: seconds from `python -m coral_serve` to `/readyz` 200, and the total
RSS of every process of the run once idle. Prints the median of N runs.

    .venv/bin/python bench/startup.py [--runs 3] [--idle 10]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.processes import (
    free_port,
    process_tree,
    start,
    terminate_and_collect_survivors,
    wait_ready,
)


def one_run(idle_seconds: float) -> tuple[float, float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        port = free_port()
        started = time.perf_counter()
        process = start(
            [sys.executable, "-m", "coral_serve", f"http.port={port}", f"pipelines.data_dir={cwd}"],
            cwd=cwd,
        )
        try:
            wait_ready(process, f"http://127.0.0.1:{port}/readyz", cwd)
            ready_after = time.perf_counter() - started
            time.sleep(idle_seconds)
            tree = process_tree(process.pid)
            rss = pss = 0
            for proc in tree:
                try:
                    memory = proc.memory_full_info()
                except psutil.NoSuchProcess:
                    continue
                rss += memory.rss
                pss += memory.pss

        finally:
            terminate_and_collect_survivors(process, signal.SIGTERM)
        return ready_after, rss / 2**20, pss / 2**20, len(tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before RSS")
    args = parser.parse_args()
    results = [one_run(args.idle) for _ in range(args.runs)]
    for index, (ready, rss, pss, count) in enumerate(results, 1):
        print(
            f"run {index}: ready in {ready:.1f} s, {rss:.0f} MiB RSS "
            f"({pss:.0f} MiB PSS) over {count} processes"
        )
    print(f"median seconds to /readyz 200: {statistics.median(r[0] for r in results):.1f}")
    print(f"median idle RSS of the run:    {statistics.median(r[1] for r in results):.0f} MiB")
    print(f"median idle PSS of the run:    {statistics.median(r[2] for r in results):.0f} MiB")


if __name__ == "__main__":
    main()
