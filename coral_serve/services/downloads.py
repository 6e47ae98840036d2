"""Fetch `download: true` sources into the data dir: atomically, bounded, with retries."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from coral_serve.config.pipelines import DownloadConfig
from coral_serve.engine.redact import masked_uri
from coral_serve.errors import InvalidRequestError

__all__ = ["Downloader", "check_download_host"]

log = logging.getLogger(__name__)

_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata"})


async def check_download_host(url: str, allow_private: bool) -> None:
    """Refuse link-local and cloud-metadata addresses (169.254.169.254 and friends), which
    a download would otherwise let any API client read through this box."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    if host.lower() in _METADATA_HOSTS:
        raise InvalidRequestError(f"downloads from {host} are not allowed")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidRequestError(f"cannot resolve {host}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            raise InvalidRequestError(
                f"downloads from {host} ({address}) are not allowed "
                "(pipelines.downloads.allow_private_networks)"
            )


class Downloader:
    def __init__(self, config: DownloadConfig, data_dir: str) -> None:
        self._config = config
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
        await check_download_host(url, self._config.allow_private_networks)
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
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        try:
            async with (
                httpx.AsyncClient(follow_redirects=False) as client,
                client.stream("GET", url) as response,
            ):
                response.raise_for_status()
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes(1 << 16):
                        out.write(chunk)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    async def remove(self, pipeline_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._root / pipeline_id, ignore_errors=True)
