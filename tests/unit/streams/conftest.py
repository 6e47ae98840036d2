from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shared_file


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")
