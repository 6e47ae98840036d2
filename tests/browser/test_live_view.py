"""Headless Chromium, as an operator's browser: live WebRTC video and a recorded segment."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.browser.chromium import chromium
from tests.conftest import shared_file
from tests.unit.streams.support import (
    RECORDINGS,
    passthrough,
    start_pipeline,
    streams_server,
)
from tests.unit.waiting import eventually

pytestmark = pytest.mark.browser

PAGES = Path(__file__).parent / "pages"

# Whether this Chromium can receive H.264 at all (Debian's build decides), and the codec the
# live view's frames actually arrived in.
DECODES_H264_JS = (
    "RTCRtpReceiver.getCapabilities('video').codecs.some(c => c.mimeType === 'video/H264')"
)
RECEIVED_CODEC_JS = """async () => {
  const stats = await window.pc.getStats();
  let inbound = null;
  stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") inbound = s; });
  return inbound && inbound.codecId ? stats.get(inbound.codecId).mimeType : null;
}"""


async def playing(page: Page, video_id: str, seconds: float) -> None:
    await page.wait_for_function(
        f"() => document.getElementById('{video_id}')?.videoWidth > 0 "
        f"&& document.getElementById('{video_id}').currentTime > {seconds}",
        timeout=30_000,
    )


async def test_chromium_shows_the_live_stream_and_plays_a_recording(tmp_path) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    mount = f"http.static_mounts=[{{path: /test, directory: '{PAGES}'}}]"
    async with (
        streams_server(tmp_path / "data", video, mount) as (client, services, url),
        chromium(tmp_path / "profile") as browser,
    ):
        spec = passthrough("browser", video, record=True, segment_seconds=2)
        pipeline_id = await start_pipeline(client, spec)
        page = await browser.new_page()
        await page.goto(f"{url}/test/viewer.html")
        await page.evaluate("id => watch(id)", pipeline_id)
        await playing(page, "live", 1.0)
        # H.264 from the pipeline's one shared encoder when Chromium decodes it, else VP8
        # encoded for this viewer alone; the test says which it saw.
        decodes_h264 = await page.evaluate(DECODES_H264_JS)
        codec = await page.evaluate(RECEIVED_CODEC_JS)
        print(f"live view in Chromium over {codec} (H.264 decoder: {decodes_h264})")
        assert codec == ("video/H264" if decodes_h264 else "video/VP8")
        size = await page.evaluate("[live.videoWidth, live.videoHeight]")
        assert size == [768, 576]
        assert await page.evaluate("brightness('live')") > 40  # the plaza, not black
        await page.wait_for_function("() => window.results.length >= 10", timeout=10_000)
        assert await page.evaluate("window.results.every(r => 'detections' in r)")

        segments = await eventually(
            lambda: client.get(RECORDINGS, params={"pipeline_id": pipeline_id}),
            lambda response: len(response.json()) >= 1,
        )
        segment = segments.json()[0]["segment"]
        await page.evaluate("url => play(url)", f"{RECORDINGS}/{pipeline_id}/{segment}")
        await playing(page, "recorded", 0.5)
        size = await page.evaluate("[recorded.videoWidth, recorded.videoHeight]")
        assert size == [768, 576]
        assert await page.evaluate("brightness('recorded')") > 40

        await page.evaluate("window.pc.close()")
        await eventually(services["streams"].session_count, lambda n: n == 0, timeout=45)
