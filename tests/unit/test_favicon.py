"""Every page's browser asks for /favicon.ico: it is served from the package, not a 404."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.webapp import make_config, running_app


@pytest.mark.parametrize("mode", ["default", "none"])
async def test_favicon_is_served_in_every_ui_mode(tmp_path: Path, mode: str) -> None:
    async with running_app(make_config(tmp_path, f"ui.mode={mode}")) as (client, _):
        icon = await client.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/svg+xml"
        assert icon.content.startswith(b"<svg")


async def test_dashboard_links_the_icon(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path)) as (client, _):
        page = (await client.get("/")).text
        assert '<link rel="icon" href="/favicon.ico"' in page
