"""Headless Chromium plays the raw view: the camera's own H.264, relayed without decoding."""

from __future__ import annotations

import pytest

from tests.browser.chromium import chromium
from tests.browser.test_live_view import DECODES_H264_JS, PAGES, RECEIVED_CODEC_JS, playing
from tests.unit.streams.clips import write_clip
from tests.unit.streams.support import passthrough, start_pipeline, streams_server
from tests.unit.waiting import eventually

pytestmark = pytest.mark.browser

# The page's own account of its live view once it has a picture again.
WEBRTC_PLAYING_JS = (
    "() => document.getElementById('live-mode').textContent === 'live via webrtc'"
    " && document.getElementById('live-video').videoWidth > 0"
)


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
        # The Chromium `make system-deps` installs decodes H.264; the raw view needs it.
        assert await page.evaluate(DECODES_H264_JS), "this Chromium cannot decode H.264"
        await page.evaluate("id => watch(id, 'raw')", pipeline_id)
        await playing(page, "live", 1.0)
        assert await page.evaluate(RECEIVED_CODEC_JS) == "video/H264"
        assert await page.evaluate("[live.videoWidth, live.videoHeight]") == [320, 240]
        assert await page.evaluate("brightness('live')") > 100  # the bright clip, not black
        await page.wait_for_function("() => window.results.length >= 5", timeout=10_000)
        assert await services["streams"].session_count(raw=True) == 1


async def test_the_dashboard_switches_a_pipeline_between_annotated_and_raw(tmp_path) -> None:
    """The pipeline page's View choice opens the raw view and, back, the annotated one; a
    source that cannot be relayed says why and the picture stays."""
    (tmp_path / "media").mkdir()
    clip = write_clip(tmp_path / "media" / "camera.mp4", "libx264", frames=40)
    vp8 = write_clip(tmp_path / "media" / "webcam.webm", "libvpx", frames=40)
    async with (
        streams_server(tmp_path / "data", clip) as (client, services, url),
        chromium(tmp_path / "profile") as browser,
    ):
        streams = services["streams"]
        camera = await start_pipeline(client, passthrough("camera", clip))
        webcam = await start_pipeline(client, passthrough("webcam", vp8))
        page = await browser.new_page()
        await page.goto(f"{url}/#/pipeline/{camera}")
        await page.locator("#live-video").wait_for(state="attached")
        await playing(page, "live-video", 0.5)
        await page.locator("#live-picture").select_option("raw")
        await eventually(lambda: streams.session_count(raw=True), lambda n: n == 1)
        await page.wait_for_function(WEBRTC_PLAYING_JS, timeout=20_000)
        await page.locator("#live-picture").select_option("annotated")
        await eventually(lambda: streams.session_count(raw=True), lambda n: n == 0)
        await page.wait_for_function(WEBRTC_PLAYING_JS, timeout=20_000)
        assert await streams.session_count(camera) == 1  # the raw one was closed

        await page.goto(f"{url}/#/pipeline/{webcam}")
        await page.locator("#live-picture").select_option("raw")
        await page.wait_for_function(
            "() => document.getElementById('live-mode').textContent.includes('H.264')",
            timeout=20_000,
        )
        assert await page.locator("#live-mjpeg").count() == 1  # the annotated picture stays
