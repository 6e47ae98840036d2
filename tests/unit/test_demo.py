"""The dev profile's demo: a pipeline on the bundled clip and model that finds people."""

from __future__ import annotations

from pathlib import Path

import pytest

from coral_serve.config import ConfigSources, load_config, loader
from coral_serve.config.loader import examples_dir
from coral_serve.services.pipeline import declared_id
from tests.conftest import EXAMPLES_DIR
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app


def declared(*overrides: str, environ: dict[str, str] | None = None) -> list[str]:
    config = load_config(ConfigSources(overrides=overrides, environ=environ or {}))
    return [spec.name for spec in config.pipelines.declared]


def test_the_dev_defaults_declare_the_demo_on_the_bundled_files() -> None:
    config = load_config(ConfigSources(environ={}))
    (demo,) = config.pipelines.declared
    assert (demo.name, demo.source.loop, demo.model.decoder.value) == ("demo", True, "nanodet")
    # Absolute, so Ray workers running in other directories find them.
    assert Path(demo.source.uri) == EXAMPLES_DIR / "media" / "vtest.mp4"
    assert Path(str(demo.model.path)) == EXAMPLES_DIR / "models" / "nanodet-g-416.onnx"
    assert Path(demo.source.uri).is_file() and Path(str(demo.model.path)).is_file()
    assert examples_dir() == EXAMPLES_DIR
    assert config.pipelines.sources.file_roots == [str(EXAMPLES_DIR / "media")]
    assert config.pipelines.models.roots == [str(EXAMPLES_DIR / "models")]


@pytest.mark.parametrize(
    ("overrides", "environ", "names"),
    [
        (["demo=none"], {}, []),
        ([], {"CORAL_DEMO": "none"}, []),
        (["web=prod"], {}, []),
        (["web=prod", "demo=vtest"], {}, ["demo"]),
    ],
)
def test_demo_group_choices(overrides: list[str], environ: dict[str, str], names: list[str]):
    assert declared(*overrides, environ=environ) == names


def test_prod_allows_no_bundled_files() -> None:
    pipelines = load_config(ConfigSources(overrides=["web=prod"], environ={})).pipelines
    assert pipelines.sources.file_roots == [] and pipelines.models.roots == []


async def test_the_demo_pipeline_finds_people(tmp_path: Path) -> None:
    config = make_config(tmp_path, "demo=vtest", "pipelines.reconcile_interval=0.2")
    async with running_app(config) as (client, _):
        pipeline_id = declared_id("demo")
        url = f"/api/v1/pipelines/{pipeline_id}/results"
        results = await eventually(
            lambda: client.get(url), lambda r: r.status_code == 200 and r.json(), timeout=60
        )
        classes = {d["class"] for record in results.json() for d in record["detections"]}
        assert "person" in classes
        # The ingress' view follows the worker's status within a refresh of its snapshot.
        view = await eventually(
            lambda: client.get(f"/api/v1/pipelines/{pipeline_id}"),
            lambda r: r.json()["status"]["state"] == "running",
        )
        assert view.json()["origin"] == "config"


async def test_without_the_bundled_files_the_demo_fails_visibly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed wheel ships no examples/: the server still comes up, and the demo says
    which file is missing."""
    monkeypatch.setattr(loader, "examples_dir", lambda: tmp_path / "no-examples")
    config = make_config(tmp_path, "demo=vtest", "pipelines.reconcile_interval=0.2")
    async with running_app(config) as (client, _):
        url = f"/api/v1/pipelines/{declared_id('demo')}/status"
        status = await eventually(lambda: client.get(url), lambda r: r.json()["state"] == "failed")
        # Its model is checked first, where it would run, and the reason names the file.
        assert "no-examples/models/nanodet-g-416.onnx" in status.json()["reason"]
        assert (await client.get("/readyz")).status_code == 200
