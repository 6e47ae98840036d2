"""Three SIGKILL cycles of the whole serving process group (bench/chaos.py): nothing lost,
nothing duplicated, everything back in its desired state, the paused pipeline never ran."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT, shared_file


def test_three_sigkill_cycles_lose_and_duplicate_nothing() -> None:
    shared_file("media", "vtest-10s.mp4")  # the bench plays it; skip with the reason if absent
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "chaos.py"), "--cycles", "3", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=1800,
    )
    assert run.stdout.strip(), run.stderr[-4000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["problems"] == [], (figures, run.stderr[-4000:])
    assert figures["cycles"] == 3
    assert (figures["lost"], figures["duplicated"], figures["wrong_state"]) == (0, 0, 0)
    assert figures["restore_max_s"] is not None
    assert run.returncode == 0
