"""Signed media URLs cannot be forged from anything the API or the CLI shows, expire no
later than `signed_url_ttl` from now, and open one path with the rights of who asked."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import stat
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from click.testing import CliRunner

from coral_serve.cli import main
from coral_serve.config import ConfigSources, load_config
from coral_serve.config.http import Role
from coral_serve.services.secret_file import URL_SIGNING_SECRET_FILE, read_or_create_secret
from coral_serve.web import create_web_app
from tests.unit.security.test_auth import ADMIN, TOKENS, VIEWER, bearer
from tests.unit.webapp import make_config, running_app

MEDIA = "/api/v1/recordings/abc/segment.mp4"
YEAR_2100 = 4_102_444_800


def _old_recipe(digests: list[str], path: str, expires: int) -> str:
    """How a signature was computed from the token digests the config dump showed."""
    key = hashlib.sha256(b"coral-signed-url|" + "|".join(sorted(digests)).encode()).digest()
    return hmac.new(key, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()


async def test_the_config_dump_gives_nothing_to_forge_a_signature_with(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http.auth.mode=token", TOKENS)
    async with running_app(config) as (client, _):
        dump = (await client.get("/api/v1/config", headers=bearer(VIEWER))).json()
        shown = [token.get("token_sha256") for token in dump["http"]["auth"]["tokens"]]
        # Even an attacker who knows every digest (the old dump printed them) cannot sign.
        digests = [token.digest for token in config.http.auth.tokens]
        forged = []
        for role in ("", "&role=viewer", "&role=admin"):
            expires = int(time.time()) + 60
            signature = _old_recipe(digests, MEDIA, expires)
            forged.append(await client.get(f"{MEDIA}?exp={expires}{role}&sig={signature}"))
    assert not any(re.fullmatch(r"[0-9a-f]{64}", str(value)) for value in shown)
    assert hashlib.sha256(VIEWER.encode()).hexdigest() not in str(dump)
    assert [response.status_code for response in forged] == [401, 401, 401]


def test_config_show_masks_token_digests() -> None:
    digest = hashlib.sha256(VIEWER.encode()).hexdigest()
    tokens = f"http.auth.tokens=[{{name: wall, role: viewer, token_sha256: {digest}}}]"
    result = CliRunner().invoke(main, ["config", "show", "--no-env", "--set", tokens])
    assert result.exit_code == 0, result.output
    assert "token_sha256" in result.output and digest not in result.output


async def test_a_far_future_expiry_is_refused_even_when_signed(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http.auth.mode=token", TOKENS)
    async with running_app(config) as (client, services):
        auth = services["app"].state.authenticator
        ttl = config.http.auth.signed_url_ttl
        far = await client.get(await auth.sign(MEDIA, Role.viewer, now=YEAR_2100 - ttl))
        fresh = await client.get(await auth.sign(MEDIA, Role.viewer))
    assert parse_qs(urlsplit(str(far.request.url)).query)["exp"] == [str(YEAR_2100)]
    assert far.status_code == 401
    assert fresh.status_code not in (401, 403)


async def test_a_signature_binds_the_path_and_the_role_that_asked(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http.auth.mode=token", TOKENS)
    async with running_app(config) as (client, _):
        signed = await client.post(
            "/api/v1/auth/signed-url", json={"path": MEDIA}, headers=bearer(VIEWER)
        )
        url = signed.json()["url"]
        query = urlsplit(url).query
        own = await client.get(url)
        other_path = await client.get(f"/api/v1/recordings/abc/other.mp4?{query}")
        promoted = await client.get(f"{MEDIA}?{query.replace('role=viewer', 'role=admin')}")
        admin_url = (
            await client.post(
                "/api/v1/auth/signed-url", json={"path": MEDIA}, headers=bearer(ADMIN)
            )
        ).json()["url"]
    assert parse_qs(query)["role"] == ["viewer"] and "role=admin" in admin_url
    assert own.status_code not in (401, 403)
    assert other_path.status_code == 401 and promoted.status_code == 401


async def test_every_ingress_replica_shares_the_generated_secret(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http.auth.mode=token", TOKENS)
    async with running_app(config) as (client, services):
        url = (
            await client.post(
                "/api/v1/auth/signed-url", json={"path": MEDIA}, headers=bearer(VIEWER)
            )
        ).json()["url"]
        # A second ingress replica, started apart, asks the same PipelineService for the key.
        replica = create_web_app(config, services["app"].state.services)
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://other.test") as other:
            accepted = await other.get(url)
        secret_file = tmp_path / URL_SIGNING_SECRET_FILE
        secret = secret_file.read_text().strip()
        bodies = [(await client.get(path, headers=bearer(ADMIN))).text for path in _get_paths()]
    assert accepted.status_code not in (401, 403)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert all(secret not in body for body in bodies)


def _get_paths() -> list[str]:
    return ["/api/v1/config", "/config.json", "/readyz", "/openapi.json", "/api/v1/auth/whoami"]


async def test_concurrent_first_starts_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "state" / URL_SIGNING_SECRET_FILE
    secrets = await asyncio.gather(
        *(asyncio.to_thread(read_or_create_secret, path) for _ in range(8))
    )
    assert len(set(secrets)) == 1 and len(secrets[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [URL_SIGNING_SECRET_FILE]


async def test_a_configured_secret_is_used_and_never_shown(tmp_path: Path) -> None:
    secret = "url-signing-secret-from-the-env-0123456789"
    config = load_config(
        ConfigSources(
            sets=[f"pipelines.data_dir={tmp_path}", "http.auth.mode=token", TOKENS],
            environ={"CORAL_HTTP__AUTH__URL_SIGNING_SECRET": secret},
        )
    )
    async with running_app(config) as (client, _):
        url = (
            await client.post(
                "/api/v1/auth/signed-url", json={"path": MEDIA}, headers=bearer(VIEWER)
            )
        ).json()["url"]
        accepted = await client.get(url)
        dump = (await client.get("/api/v1/config", headers=bearer(ADMIN))).text
    assert accepted.status_code not in (401, 403)
    assert secret not in dump and "url_signing_secret" in dump
    assert not (tmp_path / URL_SIGNING_SECRET_FILE).exists()
