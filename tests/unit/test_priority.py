"""A pipeline worker and a Serve replica run at the niceness the runner exported, all of
their threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# In a child process: a niceness raised is never lowered again without privilege.
_PROBE = """
import json, os, sys, threading
from coral_serve.workers import priority

started = threading.Event()
ray_like = threading.Thread(target=started.wait, daemon=True)  # a thread Ray started first
ray_like.start()
runs_at = getattr(priority, sys.argv[2])(json.loads(sys.argv[1]))
engine_nice = []
engine = threading.Thread(target=lambda: engine_nice.append(os.getpriority(os.PRIO_PROCESS, 0)))
engine.start()
engine.join()
threads = set()
for t in os.listdir("/proc/self/task"):
    try:  # a joined thread may still be listed for a moment after it ended
        threads.add(os.getpriority(os.PRIO_PROCESS, int(t)))
    except ProcessLookupError:
        pass
started.set()
print(json.dumps({"runs_at": runs_at, "engine": engine_nice[0], "threads": sorted(threads)}))
"""
INHERITED = os.getpriority(os.PRIO_PROCESS, 0)


def _worker_start(
    environ: dict[str, str], apply: str = "apply_worker_priority"
) -> tuple[dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(environ), apply],
        capture_output=True,
        text=True,
        # The test's own setting is no descriptor key for the process under test.
        env={k: v for k, v in os.environ.items() if k != "CORAL_SHARED_DIR"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_every_thread_of_the_worker_runs_at_the_exported_niceness() -> None:
    wanted = min(INHERITED + 7, 19)
    seen, _ = _worker_start({"CORAL_WORKER_NICE": str(wanted)})
    assert seen == {"runs_at": wanted, "engine": wanted, "threads": [wanted]}


def test_without_the_variable_the_worker_keeps_what_it_inherited() -> None:
    seen, _ = _worker_start({})
    assert seen == {"runs_at": INHERITED, "engine": INHERITED, "threads": [INHERITED]}


def test_a_bad_value_is_reported_and_the_worker_runs_on() -> None:
    seen, log = _worker_start({"CORAL_WORKER_NICE": "fast"})
    assert seen["runs_at"] == INHERITED
    assert "cannot set niceness CORAL_WORKER_NICE='fast'" in log


def test_a_replica_reads_the_control_planes_niceness_not_the_workers() -> None:
    wanted = min(INHERITED + 3, 19)
    environ = {"CORAL_CONTROLPLANE_NICE": str(wanted), "CORAL_WORKER_NICE": "19"}
    seen, _ = _worker_start(environ, "apply_control_plane_priority")
    assert seen == {"runs_at": wanted, "engine": wanted, "threads": [wanted]}
