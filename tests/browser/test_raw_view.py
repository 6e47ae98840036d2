"""Headless Chromium plays the raw view: the camera's own H.264, relayed without decoding."""

from __future__ import annotations

import pytest

from tests.browser.chromium import chromium
from tests.browser.test_live_view import DECODES_H264_JS, PAGES, RECEIVED_CODEC_JS, playing
from tests.unit.streams.clips import write_clip
from tests.unit.streams.support import passthrough, start_pipeline, streams_server

pytestmark = pytest.mark.browser


async def test_chromium_plays_the_cameras_own_packets_with_the_results(tmp_path) -> None:
    (tmp_path / "media").mkdir()
    clip = write_clip(tmp_path / "media" / "camera.mp4", "libx264", frames=40)
    mount = f"http.static_mounts=[{{path: /test, directory: '{PAGES}'}}]"
    async with (
        streams_server(tmp_path / "data", clip, mount) as (client, services, url),
        chromium(tmp_path / "profile") as browser,
    ):
        pipeline_id = await start_pipeline(client, passthrough("camera", clip))
        page = await browser.new_page()
        await page.goto(f"{url}/test/viewer.html")
        if not await page.evaluate(DECODES_H264_JS):
            pytest.skip("this Chromium build has no H.264 decoder: the raw view needs one")
        await page.evaluate("id => watch(id, 'raw')", pipeline_id)
        await playing(page, "live", 1.0)
        assert await page.evaluate(RECEIVED_CODEC_JS) == "video/H264"
        assert await page.evaluate("[live.videoWidth, live.videoHeight]") == [320, 240]
        assert await page.evaluate("brightness('live')") > 100  # the bright clip, not black
        await page.wait_for_function("() => window.results.length >= 5", timeout=10_000)
        assert await services["streams"].session_count(raw=True) == 1
