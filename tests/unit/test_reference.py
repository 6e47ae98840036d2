"""The README's configuration reference is generated from the schema and kept current."""

from __future__ import annotations

from coral_serve.config.descriptor import CoralConfig
from coral_serve.config.reference import render_reference, splice_reference
from tests.conftest import REPO_ROOT


def test_committed_reference_matches_the_schema() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert splice_reference(readme) == readme, "run `make docs` to regenerate the reference"


def test_reference_lists_every_section_with_descriptions() -> None:
    text = render_reference()
    for section in CoralConfig.model_fields:
        assert f"| `{section}." in text
    assert "CORAL_HTTP__PORT" in text
    assert "| `http.port` | int | `9001` | TCP port of the ingress." in text
