"""Leaving a page stops what it started: its timers and its WebRTC session, even when the
user navigates away before the page has finished loading, twenty times in a row."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.browser.chromium import chromium
from tests.browser.test_live_view import playing
from tests.conftest import shared_file
from tests.unit.streams.support import passthrough, start_pipeline, streams_server
from tests.unit.waiting import eventually

pytestmark = pytest.mark.browser

# Count the page's live intervals and peer connections as the dashboard makes them.
TRACK_JS = """
window.intervals = new Set();
const setInterval_ = window.setInterval, clearInterval_ = window.clearInterval;
window.setInterval = (...args) => {
  const id = setInterval_(...args); intervals.add(id); return id;
};
window.clearInterval = (id) => { intervals.delete(id); clearInterval_(id); };
window.peers = [];
const Peer = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) {
  const p = new Peer(...args); peers.push(p); return p;
};
window.RTCPeerConnection.prototype = Peer.prototype;
"""
OPEN_PEERS = "peers.filter((p) => p.signalingState !== 'closed').length"


# Leaving during each step of the set-up: before the pipeline is even fetched, during ICE
# gathering, while the offer is answered, as the first frames arrive.
DELAYS_MS = [0, 5, 20, 50, 100, 200, 300, 500, 800, 1200] * 2


async def left_for_health(page: Page) -> None:
    await page.wait_for_selector("#checks tr")
    await page.wait_for_function(f"() => {OPEN_PEERS} === 0", timeout=10_000)
    assert await page.evaluate("intervals.size") == 1  # the health page's own refresh
    assert await page.locator("#live").count() == 0  # no stale pipeline view appended


async def test_leaving_a_page_stops_its_timers_and_live_session(tmp_path: Path) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    async with (
        streams_server(tmp_path / "data", video) as (client, services, url),
        chromium(tmp_path / "profile") as browser,
    ):
        spec = passthrough("nav", video)
        spec["analytics"] = {
            "zones": [{"name": "door", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]]}],
            "lines": [{"name": "gate", "points": [[0.2, 0.8], [0.9, 0.8]]}],
        }
        pipeline_id = await start_pipeline(client, spec)
        page = await browser.new_page()
        await page.add_init_script(TRACK_JS)
        await page.goto(f"{url}/#/pipeline/{pipeline_id}")
        await page.wait_for_selector("#live-video")
        await playing(page, "live-video", 0.5)
        assert await services["streams"].session_count() == 1
        # The pipeline's zone and counting line are drawn over the video.
        overlay = page.locator("#live-overlay")
        assert await overlay.locator("polygon[data-zone=door]").count() == 1
        assert await overlay.locator("line[data-line=gate]").count() == 1
        await page.evaluate("location.hash = '#/health'")
        await left_for_health(page)
        await eventually(services["streams"].session_count, lambda n: n == 0, timeout=45)

        # Twenty times, away at each step of the set-up.
        for delay in DELAYS_MS:
            await page.evaluate(
                "([id, delay]) => { location.hash = '#/pipeline/' + id;"
                "setTimeout(() => { location.hash = '#/health'; }, delay); }",
                [pipeline_id, delay],
            )
            await page.wait_for_timeout(delay + 50)
        await left_for_health(page)
        assert await page.evaluate("peers.length") >= 10  # most visits got as far as a peer
        await eventually(services["streams"].session_count, lambda n: n == 0, timeout=45)
