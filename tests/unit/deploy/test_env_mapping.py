"""Each row of the README's environment ↔ YAML table composes the same descriptor both ways,
so operators moving a setting from a file into a container's environment can trust it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coral_serve.config import ConfigSources, load_config
from tests.conftest import REPO_ROOT

START, END = "<!-- env-mapping:start -->", "<!-- env-mapping:end -->"


def table_rows() -> list[tuple[str, str]]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split(START, 1)[1].split(END, 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        yaml_cell, env_cell = re.findall(r"`([^`]*)`", line)
        rows.append((yaml_cell, env_cell))
    return rows


@pytest.mark.parametrize(("yaml_text", "variables"), table_rows())
def test_yaml_and_environment_compose_the_same_descriptor(
    yaml_text: str, variables: str, tmp_path: Path
) -> None:
    descriptor = tmp_path / "runtime.yaml"
    descriptor.write_text(yaml_text + "\n")
    environ = dict(pair.split("=", 1) for pair in re.split(r"\s+(?=CORAL_)", variables))
    from_file = load_config(ConfigSources(file=descriptor, use_env=False))
    from_env = load_config(ConfigSources(environ=environ))
    assert from_file.model_dump() == from_env.model_dump()
    assert from_env.model_dump() != load_config(ConfigSources(use_env=False)).model_dump()
