"""Fixtures shared by every tier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.skip_policy"]

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"


def shared_dir() -> Path:
    """Data that may not live in the repository sits beside it (../shared)."""
    return Path(os.environ.get("CORAL_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own CORAL_* variables must not change what the tests see, and the
    dev profile's demo pipeline stays off (tests that start a server count its pipelines);
    subprocesses inherit both."""
    for name in list(os.environ):
        if name.startswith("CORAL_") and name != "CORAL_SHARED_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("CORAL_DEMO", "none")


def shared_file(*parts: str) -> Path:
    """A bundled file from examples/, else one from ../shared, else a skip saying why."""
    for root in (EXAMPLES_DIR, shared_dir()):
        path = root.joinpath(*parts)
        if path.is_file():
            return path
    from tests.skip_policy import NOT_BUNDLED  # imported once pytest has loaded the plugin

    reason = NOT_BUNDLED.get(parts, "is neither in examples/ nor in ../shared")
    pytest.skip(reason=f"test data {'/'.join(parts)} {reason}")


def run_coral_serve(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m coral_serve ARGS` as a user types it, for what happens before Ray starts."""
    return subprocess.run(
        [sys.executable, "-m", "coral_serve", *args], capture_output=True, text=True, timeout=60
    )
