"""Under CI=true an unlisted skip fails the run; listed ones and local runs stay skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.skip_policy import POSE_MODEL_ABSENT

TESTS = f"""
import pytest

def test_needs_a_camera():
    pytest.skip("no camera on this machine")

def test_needs_the_pose_model():
    pytest.skip("test data models/yolo11n-pose-320.onnx {POSE_MODEL_ABSENT}")

def test_runs():
    assert True
"""


def run_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_generated.py").write_text(TESTS)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rfs",
            "-p",
            "tests.skip_policy",
            "-p",
            "no:cacheprovider",
            "test_generated.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unlisted_skip_fails_the_run_under_ci(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "FAILED test_generated.py::test_needs_a_camera" in result.stdout
    assert "'no camera on this machine' is not an allowed skip" in result.stdout
    assert "1 failed, 1 passed, 1 skipped" in result.stdout
    assert "SKIPPED [1] test_generated.py" in result.stdout  # -rs names the allowed one


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_a_skip_stays_a_skip(tmp_path: Path, ci: str | None) -> None:
    result = run_pytest(tmp_path, ci)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped" in result.stdout
    assert "no camera on this machine" in result.stdout  # -rs prints the reason
