"""`POST /api/v1/config/reload` and `coral-runtime config reload`: the descriptor read again
while the app runs; declared pipelines and templates applied, other changes reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from coral_serve.config import ConfigSources, load_config
from tests.conftest import shared_file
from tests.unit.test_cli_pipelines import cli
from tests.unit.webapp import running_app, served_on_loopback

API = "/api/v1/pipelines"


@pytest.fixture
def video() -> Path:
    return shared_file("media", "vtest-10s.mp4")


def descriptor(video: Path, site: str, declared: list[str], port: int) -> dict[str, Any]:
    specs = {
        "a": {"name": "a", "template": "cam", "source": {"uri": str(video), "loop": True}},
        "b": {
            "name": "b",
            "source": {"uri": str(video), "loop": True},
            "model": {"backend": "none"},
        },
        "c": {"name": "c", "template": "cam", "source": {"uri": str(video), "max_fps": 5}},
    }
    return {
        "http": {"port": port},
        "pipelines": {
            "templates": {"cam": {"model": {"backend": "none"}, "labels": {"site": site}}},
            "declared": [specs[name] for name in declared],
        },
    }


async def test_reload_applies_declared_changes_and_reports_what_needs_a_redeploy(
    tmp_path: Path, video: Path
) -> None:
    path = tmp_path / "runtime.yaml"
    path.write_text(yaml.safe_dump(descriptor(video, "north", ["a", "b"], 9001)))
    sets = [
        f"pipelines.data_dir={tmp_path}",
        "demo=none",
        f"pipelines.sources.file_roots=[{video.parent}]",
    ]
    config = load_config(ConfigSources(file=path, sets=sets, environ={}))
    async with (
        running_app(config) as (client, services),
        served_on_loopback(services["app"]) as url,
    ):
        api_made = {"name": "lobby", "template": "cam", "source": {"uri": str(video)}}
        applied = await client.post(f"{API}/apply", json={"pipelines": [api_made]})
        assert applied.json()["added"] == ["lobby"]
        before = {view["name"]: view for view in (await client.get(API)).json()}

        path.write_text(yaml.safe_dump(descriptor(video, "south", ["a", "c"], 9100)))
        answer = await client.post("/api/v1/config/reload")
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        assert (plan["added"], plan["removed"]) == (["c"], ["b"])
        assert {(c["name"], c["applied"], tuple(c["changed"])) for c in plan["changed"]} == {
            ("a", "hot", ("labels",)),  # its template changed
            ("lobby", "hot", ("labels",)),  # made from that template through the API
        }
        assert plan["needs_redeploy"] == ["http.port"]

        after = {view["name"]: view for view in (await client.get(API)).json()}
        assert set(after) == {"a", "c", "lobby"}
        for name in ("a", "lobby"):
            assert after[name]["spec"]["labels"] == {"site": "south"}
            assert after[name]["id"] == before[name]["id"]
            assert after[name]["generation"] == before[name]["generation"]  # applied in place
        assert after["c"]["origin"] == "config" and after["c"]["template"] == "cam"

        code, out, err = await cli(url, "config", "reload")  # again: nothing left to do
        assert code == 0, err
        assert out.splitlines() == ["= a", "= c", "0 created, 0 changed, 0 removed"]
        assert "needs a redeploy (not applied): http.port" in err

        path.write_text("pipelines: {declared: [{name: d}]}")
        refused = await client.post("/api/v1/config/reload")
        assert refused.status_code == 422
        assert "pipelines.declared" in refused.json()["detail"]
        assert {view["name"] for view in (await client.get(API)).json()} == {"a", "c", "lobby"}
