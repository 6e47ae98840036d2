"""Fetch `download: true` sources into the data dir: atomically, bounded, with retries."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from coral_serve.config.pipelines import DownloadConfig, OutboundPolicy
from coral_serve.errors import InvalidRequestError
from coral_serve.schema.redact import masked_uri
from coral_serve.services.outbound import check_outbound

__all__ = ["Downloader"]

log = logging.getLogger(__name__)


class Downloader:
    def __init__(self, config: DownloadConfig, data_dir: str, outbound: OutboundPolicy) -> None:
        self._config = config
        self._outbound = outbound
        self._root = Path(data_dir) / "downloads"
        self._slots = asyncio.Semaphore(config.concurrency)

    def target(self, pipeline_id: str, url: str) -> Path:
        name = Path(unquote(urlsplit(url).path)).name or "source"
        return self._root / pipeline_id / name

    async def fetch(self, pipeline_id: str, url: str) -> Path:
        """Download once; a finished file is reused, a partial one never is."""
        target = self.target(pipeline_id, url)
        if target.is_file():
            return target
        await check_outbound(url, self._outbound)
        async with self._slots:
            last_error: Exception | None = None
            for attempt in range(self._config.retries + 1):
                try:
                    await asyncio.wait_for(self._download(url, target), self._config.timeout)
                    return target
                except (httpx.HTTPError, OSError, asyncio.TimeoutError) as exc:
                    last_error = exc
                    log.warning(
                        "download of %s failed (attempt %d): %s",
                        masked_uri(url),
                        attempt + 1,
                        type(exc).__name__,
                    )
                    if attempt < self._config.retries:
                        await asyncio.sleep(min(30.0, 2.0**attempt))
        raise InvalidRequestError(
            f"download of {masked_uri(url)} failed: {type(last_error).__name__}"
        )

    async def _download(self, url: str, target: Path) -> None:
        """Every file call runs in a thread: a slow disk must not stall the event loop."""
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        try:
            async with (
                httpx.AsyncClient(follow_redirects=False) as client,
                client.stream("GET", url) as response,
            ):
                response.raise_for_status()
                out = await asyncio.to_thread(partial.open, "wb")
                try:
                    async for chunk in response.aiter_bytes(1 << 16):
                        await asyncio.to_thread(out.write, chunk)
                finally:
                    await asyncio.to_thread(out.close)
            await asyncio.to_thread(os.replace, partial, target)
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)

    async def remove(self, pipeline_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._root / pipeline_id, ignore_errors=True)
