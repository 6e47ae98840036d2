"""Bearer tokens, roles, signed media URLs, body limits and the production start check."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from coral_serve.config.http import Role
from tests.conftest import run_coral_serve, shared_file
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

ADMIN = "admin-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
TOKENS = (
    f"http.auth.tokens=[{{name: ops, role: admin, token: {ADMIN}}},"
    f" {{name: wall, role: viewer, token_sha256: {hashlib.sha256(VIEWER.encode()).hexdigest()}}}]"
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def secured(tmp_path: Path):
    return make_config(tmp_path, "http.auth.mode=token", TOKENS)


async def test_without_auth_everyone_is_admin(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        me = (await client.get("/api/v1/auth/whoami")).json()
    assert me == {"name": "anonymous", "role": "admin", "auth_enabled": False}


async def test_api_needs_a_valid_token(secured) -> None:
    async with running_app(secured) as (client, _):
        missing = await client.get("/api/v1/pipelines")
        wrong = await client.get("/api/v1/pipelines", headers=bearer("not-the-token-at-all"))
        basic = await client.get("/api/v1/pipelines", headers={"Authorization": f"Basic {ADMIN}"})
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"


async def test_probes_and_the_dashboard_shell_stay_open(secured) -> None:
    async with running_app(secured) as (client, _):
        for path in ("/healthz", "/readyz", "/config.json", "/", "/ui/app.js", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_viewer_reads_but_cannot_change(secured) -> None:
    async with running_app(secured) as (client, _):
        me = (await client.get("/api/v1/auth/whoami", headers=bearer(VIEWER))).json()
        listed = await client.get("/api/v1/pipelines", headers=bearer(VIEWER))
        create = await client.post("/api/v1/pipelines", json={}, headers=bearer(VIEWER))
        delete = await client.delete("/api/v1/pipelines/abc", headers=bearer(VIEWER))
        admin_create = await client.post("/api/v1/pipelines", json={}, headers=bearer(ADMIN))
    assert me["role"] == "viewer" and me["name"] == "wall"
    assert listed.status_code == 200
    assert create.status_code == 403 and delete.status_code == 403
    assert admin_create.status_code == 422  # past auth: the empty spec is what is wrong


async def test_metrics_can_be_protected(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        "http.auth.mode=token",
        TOKENS,
        "http.auth.protect_metrics=true",
        "monitoring=prometheus",
    )
    async with running_app(config) as (client, _):
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=bearer(VIEWER))).status_code == 200


async def test_signed_urls_open_exactly_one_path_until_they_expire(secured) -> None:
    path = "/api/v1/recordings/abc/segment.mp4"
    async with running_app(secured) as (client, services):
        signed = await client.post(
            "/api/v1/auth/signed-url", json={"path": path}, headers=bearer(VIEWER)
        )
        assert signed.status_code == 200
        url = signed.json()["url"]
        allowed = await client.get(url)
        assert allowed.status_code not in (401, 403)

        query = parse_qs(urlsplit(url).query)
        other = await client.get(f"/api/v1/recordings/abc/other.mp4?{urlsplit(url).query}")
        tampered = await client.get(f"{path}?exp={query['exp'][0]}&sig={'0' * 64}")
        auth = services["app"].state.authenticator
        expired = await client.get(await auth.sign(path, Role.viewer, now=time.time() - 10_000))
        not_media = await client.post(
            "/api/v1/auth/signed-url", json={"path": "/api/v1/pipelines"}, headers=bearer(VIEWER)
        )
    assert other.status_code == 401 and tampered.status_code == 401
    assert expired.status_code == 401
    assert not_media.status_code == 422


async def test_oversized_bodies_are_refused_with_413(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path, "http.max_body_bytes=2048")) as (client, _):
        response = await client.post("/api/v1/pipelines", content=b"x" * 4096)

        async def chunks():
            for _ in range(4):
                yield b"y" * 1024

        chunked = await client.post("/api/v1/pipelines", content=chunks())
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert chunked.status_code == 413


async def test_wildcard_cors_never_allows_credentials(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path, "http.cors_origins=['*']")) as (client, _):
        response = await client.get("/healthz", headers={"Origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


def test_prod_refuses_to_start_without_an_admin_token() -> None:
    result = run_coral_serve("web=prod")
    assert result.returncode == 2
    assert "http.auth.tokens: token authentication needs at least one admin token" in result.stderr


def test_short_tokens_are_a_config_error(tmp_path: Path) -> None:
    from coral_serve.config import ConfigError

    with pytest.raises(ConfigError, match="at least 16 characters"):
        make_config(tmp_path, "http.auth.tokens=[{name: x, role: admin, token: short}]")


async def test_a_viewer_reads_results_without_draining_them(tmp_path: Path) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    config = make_config(
        tmp_path, "http.auth.mode=token", TOKENS, f"pipelines.sources.file_roots=[{video.parent}]"
    )
    spec = {
        "name": "wall",
        "source": {"uri": str(video), "loop": True},
        "model": {"backend": "none"},
        "outputs": {"results_buffer": 10_000},
    }
    async with running_app(config) as (client, _):
        created = await client.post("/api/v1/pipelines", json=spec, headers=bearer(ADMIN))
        results = f"/api/v1/pipelines/{created.json()['id']}/results"

        async def read(token: str, **params: int) -> list[dict]:
            return (await client.get(results, params=params, headers=bearer(token))).json()

        seen = await eventually(lambda: read(VIEWER, max=3), lambda records: len(records) == 3)
        seqs = [record["seq"] for record in seen]
        assert seqs == sorted(seqs)
        # Reading again gives the same records: nothing was taken away.
        assert [r["seq"] for r in await read(VIEWER, max=3)] == seqs
        newer = await eventually(lambda: read(VIEWER, after=seqs[-1]), bool)
        assert all(record["seq"] > seqs[-1] for record in newer)

        refused = await client.post(f"{results}/consume", headers=bearer(VIEWER))
        consumed = await client.post(f"{results}/consume?max=3", headers=bearer(ADMIN))
        left = await read(VIEWER, max=1)
    assert refused.status_code == 403
    assert [record["seq"] for record in consumed.json()] == seqs
    assert left[0]["seq"] > seqs[-1]  # consuming is what removes records, for every reader


async def test_a_websocket_without_a_token_is_not_an_admin(secured) -> None:
    """Only HTTP carried identities once: any other scope was waved through as the anonymous
    admin even with tokens on."""
    from coral_serve.web.auth import Authenticator, AuthMiddleware

    async def no_key() -> bytes:
        raise AssertionError("no signed URL is checked here")

    seen: dict[str, object] = {}

    async def app(scope, receive, send) -> None:
        seen[scope["type"]] = scope.get("state", {}).get("identity")

    middleware = AuthMiddleware(app, Authenticator(secured.http.auth, no_key))
    for headers in ([], [(b"authorization", f"Bearer {VIEWER}".encode())]):
        scope = {"type": "websocket", "path": "/ws", "headers": headers, "query_string": b""}
        await middleware(scope, None, None)
        if headers:
            assert seen["websocket"].role is Role.viewer
        else:
            assert seen["websocket"] is None
