"""Web plugins: discovery, mounting, the example line counter, broken plugins, UI modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from coral_line_counter.routes import LINE_NAME, LineBody, count_crossings

from coral_serve.cli import main
from coral_serve.schema.analytics import LineCrossings
from tests.conftest import shared_file
from tests.unit.webapp import make_config, running_app


def install_fake_plugin(
    root: Path, monkeypatch: pytest.MonkeyPatch, name: str, module_source: str
) -> None:
    """A real installed distribution (dist-info on sys.path) whose entry point is `name`."""
    module = f"{name.replace('-', '_')}_plugin"
    dist_info = root / f"{module}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        f"[coral_serve.web_plugins]\n{name} = {module}:plugin\n"
    )
    (root / f"{module}.py").write_text(module_source)
    monkeypatch.syspath_prepend(str(root))


BROKEN = "raise RuntimeError('database driver missing')\n"
TOO_NEW = (
    "from coral_serve.plugins.specs import WebPluginSpec\n"
    "plugin = WebPluginSpec(name='future', version='9.0', min_coral_version='99.0')\n"
)


def test_example_plugin_is_listed_by_the_cli() -> None:
    result = CliRunner().invoke(main, ["plugins", "list", "--json"])
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert listed["line-counter"]["loaded"] is True
    assert listed["line-counter"]["distribution"] == "coral-line-counter"


def test_broken_and_incompatible_plugins_are_reported_while_the_app_stays_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_plugin(tmp_path / "site", monkeypatch, "broken", BROKEN)
    install_fake_plugin(tmp_path / "site2", monkeypatch, "future", TOO_NEW)
    result = CliRunner().invoke(main, ["plugins", "list"])
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "import failed: RuntimeError: database driver missing" in lines["broken"]
    assert "needs coral_serve >= 99.0" in lines["future"]


async def test_api_lists_plugins_with_reasons_and_stays_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_plugin(tmp_path / "site", monkeypatch, "broken", BROKEN)
    async with running_app(make_config(tmp_path)) as (client, _):
        plugins = {p["name"]: p for p in (await client.get("/api/v1/plugins")).json()}
        assert (await client.get("/readyz")).status_code == 200
    assert plugins["line-counter"]["loaded"] is True
    assert plugins["broken"]["loaded"] is False
    assert "database driver missing" in plugins["broken"]["reason"]


async def test_denied_plugin_is_not_mounted(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path, "plugins.deny=[line-counter]")) as (client, _):
        plugins = {p["name"]: p for p in (await client.get("/api/v1/plugins")).json()}
        assert (await client.get("/plugins/line-counter/static/")).status_code == 404
        pages = (await client.get("/config.json")).json()["plugin_pages"]
    assert plugins["line-counter"]["reason"] == "listed in plugins.deny"
    assert pages == []


async def test_example_plugin_page_is_in_the_navigation_and_its_route_counts(
    tmp_path: Path,
) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    config = make_config(tmp_path, f"pipelines.sources.file_roots=[{video.parent}]")
    async with running_app(config) as (client, _):
        (page,) = (await client.get("/config.json")).json()["plugin_pages"]
        assert page == {"label": "Line counter", "path": "/plugins/line-counter/static/"}
        html = await client.get(page["path"])
        assert html.status_code == 200 and "Line counter" in html.text

        spec = {"name": "gate", "source": {"uri": str(video)}, "model": {"backend": "none"}}
        pipeline_id = (await client.post("/api/v1/pipelines", json=spec)).json()["id"]
        counts_url = f"/plugins/line-counter/counts/{pipeline_id}"
        assert (await client.get(counts_url)).status_code == 404  # no line set yet
        line = {"points": [[0, 0.6], [1, 0.6]], "classes": ["person"]}
        put = await client.put(f"/plugins/line-counter/lines/{pipeline_id}", json=line)
        assert put.status_code == 200, put.text
        assert (put.json()["crossed_in"], put.json()["crossed_out"]) == (0, 0)

        # The line is the pipeline's own, applied hot: the worker that counts it runs on.
        view = (await client.get(f"/api/v1/pipelines/{pipeline_id}")).json()
        (stored,) = view["spec"]["analytics"]["lines"]
        assert stored == {"name": LINE_NAME, **line}
        assert view["generation"] == 1
        assert (await client.get(counts_url)).json()["line"] == stored
        totals = await client.get(f"/api/v1/metrics/pipelines/{pipeline_id}/lines")
        assert totals.json() == []  # a passthrough model detects nothing to count

        # Setting the line again replaces it; nothing is read from the results.
        again = {"points": [[0.5, 0], [0.5, 1]], "classes": []}
        await client.put(f"/plugins/line-counter/lines/{pipeline_id}", json=again)
        view = (await client.get(f"/api/v1/pipelines/{pipeline_id}")).json()
        assert [item["points"] for item in view["spec"]["analytics"]["lines"]] == [again["points"]]
        bad = {"points": [[0.5, 0.5], [0.5, 0.5]]}
        refused = await client.put(f"/plugins/line-counter/lines/{pipeline_id}", json=bad)
        assert refused.status_code == 422 and "same" in refused.text
        outside = {"points": [[0, 0], [1.5, 1]]}
        refused = await client.put(f"/plugins/line-counter/lines/{pipeline_id}", json=outside)
        assert refused.status_code == 422
        missing = await client.put("/plugins/line-counter/lines/unknown", json=line)
        assert missing.status_code == 404


def test_line_counter_counts_its_own_line_by_direction_and_class() -> None:
    line = LineBody(points=((0, 0.5), (1, 0.5)))
    crossings = [
        LineCrossings(line=LINE_NAME, direction="in", label="person", count=3),
        LineCrossings(line=LINE_NAME, direction="out", label="person", count=1),
        LineCrossings(line=LINE_NAME, direction="out", label="car", count=2),
        LineCrossings(line="road", direction="in", label="car", count=9),  # another line
    ]
    counts = count_crossings("p1", line, crossings)
    assert (counts.crossed_in, counts.crossed_out) == (3, 3)
    assert counts.by_class == {"person": 4, "car": 2}


async def test_ui_mode_plugin_serves_the_plugins_page_at_root(tmp_path: Path) -> None:
    config = make_config(tmp_path, "ui.mode=plugin", "ui.plugin=line-counter")
    async with running_app(config) as (client, _):
        response = await client.get("/", follow_redirects=True)
    assert response.status_code == 200 and "<h1>Line counter</h1>" in response.text


async def test_ui_mode_plugin_without_that_plugin_is_a_clear_503(tmp_path: Path) -> None:
    config = make_config(tmp_path, "ui.mode=plugin", "ui.plugin=nowhere")
    async with running_app(config) as (client, _):
        response = await client.get("/")
        assert (await client.get("/healthz")).status_code == 200
    assert response.status_code == 503
    assert "ui.plugin 'nowhere' is not loaded" in response.json()["detail"]
