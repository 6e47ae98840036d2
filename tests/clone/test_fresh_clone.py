"""A fresh clone carries what its tests need: the Ray-free tier, run there under CI=true
with no ../shared beside it, passes with no skip outside tests/skip_policy.py's list.

Slow (the whole unit tier once more), so it has its own step: `make test-clone`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.skip_policy import skip_allowed


def fresh_clone(tmp_path: Path) -> Path:
    """The committed HEAD, cloned into a folder that has nothing beside it."""
    clone = tmp_path / "work" / "coral_serve"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True, timeout=300)
    assert not (clone.parent / "shared").exists()
    return clone


def clone_environment(clone: Path) -> dict[str, str]:
    """This venv's Python, but the clone's code first (the venv's install is editable and
    points at the original checkout), and none of the developer's CORAL_* settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CORAL_")}
    return {**env, "PYTHONPATH": str(clone), "CI": "true"}


def test_the_unit_tier_of_a_fresh_clone_skips_only_listed_tests(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path)
    env = clone_environment(clone)
    located = subprocess.run(
        [sys.executable, "-c", "import coral_serve.config as c; print(c.conf_dir())"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(located.stdout.strip()) == clone / "conf"

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/unit"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    summary = result.stdout[-6000:]
    skips = re.findall(r"^SKIPPED \[\d+\] (.*)$", result.stdout, flags=re.MULTILINE)
    assert [skip for skip in skips if not skip_allowed(skip)] == [], summary
    # Under CI=true an unlisted skip is a failure too; any other failure is a real one.
    assert result.returncode == 0, summary
    assert re.search(r"\d+ passed", summary), summary
