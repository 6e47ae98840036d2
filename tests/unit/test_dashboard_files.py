"""The dashboard ships whole inside the package: its vendored libraries are package data
with the digests VERSIONS.md records, and its page and files carry the CSP."""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files
from pathlib import Path

import pytest

from coral_serve.engine.backends import registry as backend_registry
from coral_serve.engine.backends.base import BackendSpec
from coral_serve.engine.backends.passthrough import PassthroughBackend
from coral_serve.web.routes.ui import content_security_policy
from tests.unit.webapp import make_config, running_app

VENDOR = files("coral_serve") / "ui" / "vendor"
ROW = re.compile(r"^\| (\S+) \| (\S+) \| (\S+) \| .*\| ([0-9a-f]{64}) \|$", re.MULTILINE)


def test_vendored_libraries_are_package_data_with_their_recorded_digests() -> None:
    rows = ROW.findall((VENDOR / "VERSIONS.md").read_text(encoding="utf-8"))
    assert {name for name, *_ in rows} >= {"preact.mjs", "htm.mjs", "uplot.mjs"}
    for name, package, _, digest in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
        assert (VENDOR / f"LICENSE.{package}").is_file(), package


async def test_dashboard_page_and_files_carry_the_policy(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        page = await client.get("/")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        # The page's only inline script is its import map, allowed by hash.
        assert policy == content_security_policy(page.text, None)
        assert re.findall(r"<script(?! type=\"(?:importmap|module)\")", page.text) == []
        module = await client.get("/ui/vendor/preact.mjs")
        assert module.status_code == 200
        assert module.headers["content-type"].startswith("text/javascript")
        assert module.headers["content-security-policy"] == policy


def test_the_logo_origin_is_allowed_for_pictures_only() -> None:
    policy = content_security_policy("", "https://cdn.example/logo.png")
    assert "img-src 'self' data: blob: https://cdn.example;" in policy
    assert "script-src 'self';" in policy


async def test_the_registry_lists_backends_and_decoders_for_the_create_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = BackendSpec("edge-npu", PassthroughBackend, "A plugin's accelerator.")
    monkeypatch.setitem(backend_registry._registered, plugin.name, plugin)
    async with running_app(make_config(tmp_path)) as (client, _):
        registry = (await client.get("/api/v1/registry")).json()
        backends = {b["name"]: b["description"] for b in registry["backends"]}
        assert {"onnxruntime", "rknn", "none"} <= set(backends)
        assert backends["edge-npu"] == "A plugin's accelerator."
        assert registry["decoders"] == ["yolo", "yolo-nms", "nanodet"]
