"""Templates: partial specs in the descriptor that declared and applied specs build on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from coral_serve.config import ConfigError, ConfigSources, load_config
from tests.conftest import shared_file
from tests.unit.test_cli_pipelines import cli
from tests.unit.webapp import make_config, running_app, served_on_loopback

# Light on the 2 cores: no model, and a live JPEG once a second rather than every frame.
TEMPLATE = (
    "pipelines.templates={cam: {model: {backend: none}, outputs: {stream_fps: 1},"
    " labels: {site: north}}}"
)


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


def test_a_declared_spec_is_its_template_merged_with_its_own_fields(video: Path) -> None:
    declared = (
        f"pipelines.declared=[{{name: gate, template: cam, source: {{uri: '{video}'}},"
        " labels: {door: '1'}}]"
    )
    config = load_config(ConfigSources(sets=[TEMPLATE, declared, "demo=none"], environ={}))
    (gate,) = config.pipelines.declared
    assert gate.model.passthrough
    assert gate.labels == {"site": "north", "door": "1"}  # objects merge key by key
    assert config.pipelines.template_of("gate") == "cam"


def test_a_template_source_credential_is_never_shown() -> None:
    camera = "pipelines.templates={cam: {source: {uri: 'rtsp://ops:s3cr3t-pw@10.0.0.9/live'}}}"
    config = load_config(ConfigSources(sets=[camera, "demo=none"], environ={}))
    shown = config.public_dump()["pipelines"]["templates"]["cam"]["source"]["uri"]
    assert "s3cr3t-pw" not in shown and shown.endswith("@10.0.0.9/live")
    assert "s3cr3t-pw" in config.pipelines.templates["cam"]["source"]["uri"]  # still usable


@pytest.mark.parametrize(
    ("sets", "key", "words"),
    [
        (
            ["pipelines.declared=[{name: g, template: nope, source: {uri: x}}]"],
            "pipelines",
            "declared[0].template: no template 'nope'",
        ),
        (["pipelines.templates={cam: {name: x}}"], "pipelines.templates", "cannot be set"),
    ],
)
def test_template_mistakes_name_the_key(sets: list[str], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ConfigSources(sets=[*sets, "demo=none"], environ={}))
    (problem,) = caught.value.problems
    assert problem.key == key and words in problem.message


async def test_fifty_cameras_from_one_template_through_one_apply(
    tmp_path: Path, video: Path
) -> None:
    config = make_config(tmp_path, TEMPLATE, f"pipelines.sources.file_roots=[{video.parent}]")
    specs = [
        {"name": f"cam-{n:02}", "template": "cam", "source": {"uri": str(video)}} for n in range(50)
    ]
    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump({"pipelines": specs}))
    async with running_app(config) as (_, services), served_on_loopback(services["app"]) as url:
        code, out, err = await cli(url, "pipelines", "apply", "-f", str(path))
        assert code == 0, err
        assert out.splitlines()[-1] == "50 created, 0 changed, 0 removed"
        views = await services["pipelines"].list()
    assert sorted(view.name for view in views) == [spec["name"] for spec in specs]
    for view in views:
        assert view.template == "cam"
        assert view.spec["model"]["backend"] == "none"
        assert view.spec["labels"] == {"site": "north"}


async def test_an_unknown_template_is_a_422_and_nothing_is_created(
    tmp_path: Path, video: Path
) -> None:
    config = make_config(tmp_path, TEMPLATE, f"pipelines.sources.file_roots=[{video.parent}]")
    good = {"name": "a", "template": "cam", "source": {"uri": str(video)}}
    bad = {"name": "b", "template": "south", "source": {"uri": str(video)}}
    async with running_app(config) as (client, _):
        answer = await client.post("/api/v1/pipelines/apply", json={"pipelines": [good, bad]})
        assert answer.status_code == 422
        assert answer.json()["detail"].startswith("pipelines[1].template: no template 'south'")
        assert (await client.get("/api/v1/pipelines")).json() == []
