"""The built-in dashboard in headless Chromium, as an operator uses it: create a pipeline
through the form, watch it live, play its recording, pause and delete it. Each step leaves a
screenshot in test-artifacts/dashboard/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.browser.chromium import BRIGHTNESS_JS, chromium
from tests.browser.test_live_view import playing
from tests.conftest import REPO_ROOT, shared_file
from tests.unit.streams.support import streams_server

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts" / "dashboard"


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_operator_workflow_in_the_dashboard(tmp_path: Path) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    async with (
        streams_server(tmp_path / "data", video, "streams.recordings.segment_seconds=2") as (
            client,
            _,
            url,
        ),
        chromium(tmp_path / "profile") as browser,
    ):
        page = await browser.new_page()
        await page.goto(f"{url}/")
        await page.wait_for_selector("#pipelines")
        # The empty state says how to add a pipeline, file-roots rule and override included.
        empty = await page.locator("#empty-state").inner_text()
        assert "pipelines.sources.file_roots=[/videos]" in empty
        await shot(page, "01-empty")

        # Create through the form, with a probe preview and an inline validation error first.
        form = page.locator("#create-form")
        await form.locator("[name=uri]").fill(str(video))
        await form.get_by_role("button", name="Probe source").click()
        await page.wait_for_selector("#probe-preview img")
        assert "768x576" in await page.locator("#probe-preview").inner_text()
        await form.locator("[name=name]").fill("bad name!")
        await form.locator("[name=backend]").select_option("none")
        await form.get_by_role("button", name="Create pipeline").click()
        await page.wait_for_function("document.getElementById('create-errors').textContent")
        assert "name" in await page.locator("#create-errors").inner_text()
        await form.locator("[name=name]").fill("plaza")
        await form.locator("[name=loop]").check()
        await form.locator("[name=record]").check()
        await shot(page, "02-form")
        await form.get_by_role("button", name="Create pipeline").click()

        row = page.locator("tr[data-name=plaza]")
        await row.locator(".badge.running").wait_for(timeout=30_000)
        await page.wait_for_function(
            "Number(document.querySelector('tr[data-name=plaza] .fps').textContent) > 0",
            timeout=30_000,
        )
        await shot(page, "03-running")

        # Live view: WebRTC video that shows the plaza, and results on the data channel.
        await row.get_by_role("link", name="plaza").click()
        await page.wait_for_selector("#live-video")
        await playing(page, "live-video", 1.0)
        assert await page.evaluate(BRIGHTNESS_JS, "live-video") > 40
        assert await page.locator("#live-mode").inner_text() == "live via webrtc"
        # Results as a table (a passthrough pipeline detects nothing), the record behind "raw".
        await page.wait_for_function(
            "document.getElementById('live-results-frame').textContent.startsWith('frame ')"
        )
        assert "nothing detected" in await page.locator("#live-results").inner_text()
        assert not await page.locator("#live-raw-record").is_visible()
        await page.locator("#live-raw summary").click()
        await page.wait_for_function(
            "document.getElementById('live-raw-record').textContent.includes('detections')"
        )
        await shot(page, "04-live")

        # A finished segment plays in the recordings browser.
        await page.goto(f"{url}/#/recordings")
        await page.locator("#recordings tr[data-segment]").first.wait_for(timeout=30_000)
        await (
            page.locator("#recordings tr[data-segment]")
            .first.get_by_role("button", name="Play")
            .click()
        )
        await playing(page, "recording-player", 0.5)
        assert await page.evaluate("document.getElementById('recording-player').videoWidth") == 768
        await shot(page, "05-recording")

        # Pause, then delete.
        await page.goto(f"{url}/#/pipelines")
        await row.get_by_role("button", name="Pause").click()
        await row.locator(".badge.paused").wait_for(timeout=30_000)
        await shot(page, "06-paused")
        await row.get_by_role("button", name="Delete").click()
        await row.wait_for(state="detached", timeout=30_000)
        await shot(page, "07-deleted")
        assert (await client.get("/api/v1/pipelines")).json() == []
