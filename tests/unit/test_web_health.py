"""Health, config and UI routes through ASGI with in-process services (no Ray)."""

from __future__ import annotations

from pathlib import Path

from coral_serve.config import CoralConfig
from tests.unit.webapp import make_config, running_app


async def test_healthz_answers_without_asking_any_service(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, services):
        await services["health"].stop()
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_check(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path, "health.checks=[store, deployments, disk]")) as (
        client,
        _,
    ):
        response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert [check["name"] for check in body["checks"]] == ["store", "deployments", "disk"]
    assert body["checks"][0]["detail"] == "0 pipelines stored"


async def test_readyz_is_503_when_the_store_file_disappears(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with running_app(config) as (client, _):
        assert (await client.get("/readyz")).status_code == 200
        store = Path(str(config.pipelines.store_path))
        store.rename(store.with_suffix(".moved"))
        response = await client.get("/readyz")
        assert response.status_code == 503
        failing = [check for check in response.json()["checks"] if not check["ok"]]
        assert failing[0]["name"] == "store" and "missing" in failing[0]["detail"]
        store.with_suffix(".moved").rename(store)
        assert (await client.get("/readyz")).status_code == 200


async def test_a_failing_required_external_probe_makes_it_unready(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        "health.external=[{name: nvr, url: 'http://127.0.0.1:9/', required: true, timeout: 1}]",
    )
    async with running_app(config) as (client, _):
        response = await client.get("/readyz")
    assert response.status_code == 503
    probe = next(check for check in response.json()["checks"] if check["name"] == "nvr")
    assert probe["ok"] is False and probe["detail"]


async def test_config_json_has_branding_and_no_secrets(tmp_path: Path) -> None:
    config: CoralConfig = make_config(
        tmp_path,
        "ui.branding.title=Depot cameras",
        "http.auth.tokens=[{name: ops, role: admin, token: tok-1234567890abcdef}]",
        "streams.webrtc=turn",
    )
    async with running_app(config) as (client, _):
        response = await client.get("/config.json")
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Depot cameras"
    assert body["metric_sinks"] == ["stdout"]
    assert "tok-1234567890abcdef" not in response.text and "change-me" not in response.text


async def test_default_ui_serves_the_dashboard_page(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        page = await client.get("/")
        scripts = [await client.get(f"/ui/{name}.js") for name in ("api", "store", "app")]
    assert page.status_code == 200 and "<title>coral_serve</title>" in page.text
    assert all(script.status_code == 200 for script in scripts)
    assert "/api/v1/watch" in scripts[1].text


async def test_ui_mode_none_answers_json_links(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path, "ui.mode=none")) as (client, _):
        response = await client.get("/")
        assert (await client.get("/ui/app.js")).status_code == 404
    assert response.json()["docs"] == "/docs"


async def test_unknown_route_is_a_json_404(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}


async def test_cors_allows_only_configured_origins(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http.cors_origins=[https://ops.example]")
    async with running_app(config) as (client, _):
        allowed = await client.get("/healthz", headers={"Origin": "https://ops.example"})
        other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://ops.example"
    assert "access-control-allow-origin" not in other.headers
