"""Debian's Chromium driven by Playwright: no browser download, flags from FIELD-NOTES."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import BrowserContext, async_playwright

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless and uses the fresh profile directory it is given.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--allow-loopback-in-peer-connection",
]

# Mean brightness (0-255) of a <video>'s current picture, sampled through a canvas.
BRIGHTNESS_JS = """(id) => {
  const canvas = Object.assign(document.createElement("canvas"), {width: 64, height: 48});
  const context = canvas.getContext("2d");
  context.drawImage(document.getElementById(id), 0, 0, canvas.width, canvas.height);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < pixels.length; i += 4) sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
  return sum / ((pixels.length / 4) * 3);
}"""


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()
