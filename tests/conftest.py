"""Fixtures shared by every tier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """Test models and media live beside the repository (../shared), not inside it."""
    return Path(os.environ.get("CORAL_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own CORAL_* variables must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("CORAL_") and name != "CORAL_SHARED_DIR":
            monkeypatch.delenv(name)


def shared_file(*parts: str) -> Path:
    """A file from ../shared, or a skip that says it is absent."""
    path = shared_dir().joinpath(*parts)
    if not path.is_file():
        pytest.skip(reason=f"test data {path} is absent")
    return path


def run_coral_serve(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m coral_serve ARGS` as a user types it, for what happens before Ray starts."""
    return subprocess.run(
        [sys.executable, "-m", "coral_serve", *args], capture_output=True, text=True, timeout=60
    )
