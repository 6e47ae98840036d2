"""What a newcomer sees after `make run`: the control plane started with its defaults
(Ray and all), and the dashboard showing the demo pipeline's live detections.

`make screenshot` runs this test with SCREENSHOT_TO set: it then also writes the README's
picture of the dashboard."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import cv2
import pytest

from coral_serve.services.pipeline import declared_id
from tests.browser.chromium import chromium
from tests.integration.processes import (
    free_port,
    start,
    terminate_and_collect_survivors,
    wait_ready,
)

pytestmark = pytest.mark.browser

# Pixels of the colour boxes are drawn in for `person` (class 0: RGB 255,56,56) in the
# <video>'s current picture, at its own size. The plain clip has at most ~150 such pixels
# in any frame; a few boxes with their label backgrounds have thousands.
BOX_PIXELS_JS = """(id) => {
  const video = document.getElementById(id);
  if (!video || !video.videoWidth) return 0;
  const canvas = Object.assign(document.createElement("canvas"),
    {width: video.videoWidth, height: video.videoHeight});
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i] > 180 && pixels[i + 1] < 110 && pixels[i + 2] < 110) count += 1;
  }
  return count;
}"""
BOXES_DRAWN = 600


async def test_make_run_shows_live_detections_of_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORAL_DEMO")  # the defaults, as `make run` has them
    port = free_port()
    started = time.monotonic()
    process = start([sys.executable, "-m", "coral_serve", f"http.port={port}"], cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_ready, process, f"{url}/readyz", tmp_path)
        ready = time.monotonic()
        async with chromium(tmp_path / "profile") as browser:
            page = await browser.new_page()
            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.goto(f"{url}/#/pipeline/{declared_id('demo')}")
            # Within 30 s of readiness (the promise): boxes on a WebRTC frame and
            # `person` in the results table.
            await page.wait_for_function(
                f"() => ({BOX_PIXELS_JS})('live-video') > {BOXES_DRAWN}", timeout=30_000
            )
            await page.locator("#live-results tr[data-class=person]").wait_for(timeout=30_000)
            now = time.monotonic()
            print(
                f"/readyz {ready - started:.1f} s after start, first annotated frame "
                f"{now - ready:.1f} s later ({now - started:.1f} s in all)"
            )
            assert await page.locator("#live-mode").inner_text() == "live via webrtc"
            count = page.locator("#live-results tr[data-class=person] td.num").first
            assert int(await count.inner_text()) >= 1
            if target := os.environ.get("SCREENSHOT_TO"):
                await write_screenshot(page, Path(target))
            # The overview's tile counts what the newest frame holds, by push.
            await page.goto(f"{url}/#/pipelines")
            people = page.locator("[data-name=demo] .tile-counts .count[data-label=person]")
            await people.wait_for(timeout=15_000)
            assert int((await people.inner_text()).split()[0]) >= 1
    finally:
        survivors = terminate_and_collect_survivors(process, signal.SIGTERM)
    assert survivors == []


async def write_screenshot(page, target: Path) -> None:
    """The top of the pipeline page, as a small PNG for the README."""
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = target.with_suffix(".raw.png")
    await page.screenshot(path=str(raw), clip={"x": 0, "y": 0, "width": 1280, "height": 900})
    image = cv2.imread(str(raw))
    half = cv2.resize(image, (960, 675), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(target), half, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    raw.unlink()
