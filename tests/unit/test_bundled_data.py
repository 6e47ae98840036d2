"""The data bundled in examples/ is exactly what examples/NOTICE.md describes."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import EXAMPLES_DIR

BUNDLED = {
    "models/nanodet-g-416.onnx": "b13fe40b55fb3048c7b352235f823db7c495f03803c827062eed1294056974a5",
    "media/vtest.mp4": "38cd6336637a08eb91a50754ee621e3a79cc372826649288f358d5f1b0c27096",
    "media/vtest-10s.mp4": "b9bfa9359bb2b183cd8de40a29a264e114487e6be6bc3226bd9c28ff7fdc07ea",
    "kuberay/ray.io_rayservices.yaml": (
        "0a8fc325e6e22b9231c1f282b309555e2ecf94227ca20a03df3d1d9a403907ab"
    ),
}


@pytest.mark.parametrize(("name", "sha256"), BUNDLED.items())
def test_bundled_file_matches_its_notice(name: str, sha256: str) -> None:
    path = EXAMPLES_DIR / name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    notice = (EXAMPLES_DIR / "NOTICE.md").read_text()
    assert path.name in notice and sha256 in notice


def test_nothing_else_is_bundled_without_a_notice() -> None:
    data = {
        path.relative_to(EXAMPLES_DIR).as_posix()
        for folder in ("models", "media", "kuberay")
        for path in (EXAMPLES_DIR / folder).iterdir()
    }
    assert data == set(BUNDLED)
