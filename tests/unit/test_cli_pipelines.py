"""`coral-runtime pipelines ...` as a script runs it: a subprocess against the real app on
127.0.0.1, checking what it prints and its exit codes (0 ok, 1 refused, 2 usage)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from coral_serve.schema.spec import PipelineSpec
from tests.conftest import REPO_ROOT, shared_file
from tests.unit.webapp import make_config, running_app, served_on_loopback

# The package of this checkout, whatever the environment has installed.
_ENTRY = "import sys; from coral_serve.cli import main; sys.exit(main(prog_name='coral-runtime'))"


async def cli(url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _ENTRY,
        *args,
        cwd=REPO_ROOT,
        env={"CORAL_URL": url, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


def spec(name: str, video: Path, **model: object) -> dict[str, object]:
    return {
        "name": name,
        "source": {"uri": str(video), "loop": True},
        "model": {"backend": "none", **model},
    }


@pytest.fixture
async def served(tmp_path: Path, video: Path) -> AsyncIterator[tuple[str, dict]]:
    declared = f"[{{name: gate, source: {{uri: '{video}', loop: true}}, model: {{backend: none}}}}]"
    config = make_config(
        tmp_path, f"pipelines.sources.file_roots=[{video.parent}]", f"pipelines.declared={declared}"
    )
    async with running_app(config) as (_, services), served_on_loopback(services["app"]) as url:
        yield url, services


async def test_apply_is_idempotent_plans_with_dry_run_and_prunes_only_api_pipelines(
    served, tmp_path: Path, video: Path
) -> None:
    url, services = served
    files = tmp_path / "specs"
    files.mkdir()
    (files / "a.yaml").write_text(yaml.safe_dump(spec("cam-a", video)))
    (files / "b.json").write_text(json.dumps([spec("cam-b", video)]))
    (files / "notes.txt").write_text("not a spec")
    await services["pipelines"].create(PipelineSpec.model_validate(spec("extra", video)))

    code, out, err = await cli(url, "pipelines", "apply", "-f", str(files))
    assert (code, err) == (0, ""), err
    assert out.splitlines() == ["+ cam-a", "+ cam-b", "2 created, 0 changed, 0 removed"]

    code, out, _ = await cli(url, "pipelines", "apply", "-f", str(files))
    assert code == 0
    assert out.splitlines() == ["= cam-a", "= cam-b", "0 created, 0 changed, 0 removed"]

    (files / "a.yaml").write_text(yaml.safe_dump(spec("cam-a", video, confidence=0.6)))
    code, out, _ = await cli(url, "pipelines", "apply", "-f", str(files), "--dry-run", "--prune")
    assert code == 0
    assert out.splitlines() == [
        "~ cam-a (hot: model.confidence)",
        "- extra",
        "= cam-b",
        "0 created, 1 changed, 1 removed (dry run: nothing changed)",
    ]
    names = {view.name: view for view in await services["pipelines"].list()}
    assert set(names) == {"gate", "extra", "cam-a", "cam-b"}  # the dry run changed nothing
    assert names["cam-a"].revision == 1

    code, out, _ = await cli(url, "pipelines", "apply", "-f", str(files / "a.yaml"), "--prune")
    assert code == 0
    assert out.splitlines()[:3] == ["~ cam-a (hot: model.confidence)", "- extra", "- cam-b"]
    code, out, _ = await cli(url, "pipelines", "list", "-o", "json")
    listed = {view["name"]: view for view in json.loads(out)}
    assert set(listed) == {"gate", "cam-a"}  # the declared pipeline is never pruned
    assert listed["cam-a"]["spec"]["model"]["confidence"] == 0.6


async def test_control_commands_tables_and_exit_codes(served, tmp_path: Path, video: Path) -> None:
    url, _ = served
    path = tmp_path / "door.yaml"
    path.write_text(yaml.safe_dump(spec("door", video)))
    code, out, _ = await cli(url, "pipelines", "create", "-f", str(path))
    assert (code, out) == (0, "created door\n")

    code, out, _ = await cli(url, "pipelines", "pause", "door")
    assert (code, out) == (0, "paused door\n")
    code, out, _ = await cli(url, "pipelines", "list")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "STATE", "FPS", "SOURCE", "NODE"]
    states = {row.split()[0]: row.split()[1] for row in rows}
    assert set(states) == {"gate", "door"} and states["door"] == "paused"
    code, out, _ = await cli(url, "pipelines", "logs", "door", "-o", "json")
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert code == 0 and kinds[0] == "created" and "paused" in kinds
    code, out, _ = await cli(url, "pipelines", "events", "door")  # object events: none here
    assert (code, out.split()) == (0, ["ID", "LABEL", "PHASE", "START", "ZONES"])

    code, _, err = await cli(url, "pipelines", "create", "-f", str(path))  # exists already
    assert code == 1 and "409 conflict" in err
    code, _, err = await cli(url, "pipelines", "get", "nowhere")
    assert code == 1 and "404 not_found" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec("bad", video, confidence=7)))
    code, _, err = await cli(url, "pipelines", "apply", "-f", str(bad))
    assert code == 1 and "pipelines[0].model.confidence" in err  # the server said no
    bad.write_text("name: [unclosed")
    code, _, err = await cli(url, "pipelines", "apply", "-f", str(bad))
    assert code == 2 and "not YAML or JSON" in err  # nothing was sent
    code, _, err = await cli("http://127.0.0.1:9", "pipelines", "list")
    assert code == 1 and "cannot reach the server" in err
