"""`download: true` sources, fetched by the worker that plays them onto its own node's disk.

On a cluster each node has its own data dir: a copy fetched by the control plane on the head
could not be opened by a worker elsewhere, so the worker fetches it where it runs, into
`<data_dir>/downloads/<pipeline_id>/<name>` on its node (`node_path`), before it opens it.
The copy is written under a temporary name and renamed when complete, so a finished file is
reused by the next worker on that node and a partial one never is. At most
`pipelines.downloads.concurrency` downloads run at once per node: slots are file locks in the
node's downloads directory, shared by every worker process there. The outbound policy is
checked by the control plane when the pipeline is created. Blocking: call it in a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import httpx

from coral_serve.config.pipelines import DownloadConfig
from coral_serve.config.streams import node_path
from coral_serve.engine.errors import SourceError
from coral_serve.schema.redact import masked_uri
from coral_serve.schema.spec import SourceSpec
from coral_serve.schema.uri import parse_source_uri

__all__ = ["DOWNLOADS", "SourceDownload", "downloads_dir", "source_download"]

log = logging.getLogger(__name__)

DOWNLOADS = "downloads"
_CHUNK = 1 << 16
_SLOTS = ".slots"
_SLOT_WAIT = 0.5  # seconds between looks for a free slot


def downloads_dir(data_dir: str | os.PathLike[str]) -> Path:
    """The descriptor's downloads root (each node maps it onto its own volume)."""
    return Path(data_dir) / DOWNLOADS


class _Stopped(Exception):
    """The worker stopped while its source was being fetched."""


@dataclass(frozen=True)
class SourceDownload:
    url: str
    target: Path
    config: DownloadConfig

    def fetch(self, stop: threading.Event) -> Path | None:
        """The local copy (fetched now unless it is there already); None: stopped first.
        Raises `SourceError` naming the last failure once the retries are spent."""
        if self.target.is_file():
            return self.target
        error: Exception | None = None
        for attempt in range(self.config.retries + 1):
            try:
                with self._slot(stop):
                    if not self.target.is_file():  # another worker here may have fetched it
                        self._download(stop)
                return self.target
            except _Stopped:
                return None
            except (httpx.HTTPError, OSError) as exc:
                error = exc
                log.warning(
                    "download of %s failed (attempt %d): %s",
                    masked_uri(self.url),
                    attempt + 1,
                    type(exc).__name__,
                )
                if attempt < self.config.retries and stop.wait(min(30.0, 2.0**attempt)):
                    return None
        raise SourceError(f"download failed: {masked_uri(self.url)}: {type(error).__name__}")

    def _download(self, stop: threading.Event) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        partial = self.target.with_name(f".{self.target.name}.part")
        deadline = time.monotonic() + self.config.timeout
        try:
            with (
                httpx.Client(follow_redirects=False, timeout=self.config.timeout) as client,
                client.stream("GET", self.url) as response,
            ):
                response.raise_for_status()
                with partial.open("wb") as out:
                    self._copy(response, out, stop, deadline)
            os.replace(partial, self.target)
        finally:
            partial.unlink(missing_ok=True)

    @staticmethod
    def _copy(
        response: httpx.Response, out: IO[bytes], stop: threading.Event, deadline: float
    ) -> None:
        for chunk in response.iter_bytes(_CHUNK):
            if stop.is_set():
                raise _Stopped
            if time.monotonic() > deadline:
                raise TimeoutError("pipelines.downloads.timeout")
            out.write(chunk)

    @contextlib.contextmanager
    def _slot(self, stop: threading.Event) -> Iterator[None]:
        """One of the node's `concurrency` slots, held while this download runs."""
        slots = self.target.parent.parent / _SLOTS
        slots.mkdir(parents=True, exist_ok=True)
        while True:
            for index in range(self.config.concurrency):
                with (slots / str(index)).open("a") as lock:
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    try:
                        yield
                    finally:
                        fcntl.flock(lock, fcntl.LOCK_UN)
                    return
            if stop.wait(_SLOT_WAIT):
                raise _Stopped


def source_download(
    source: SourceSpec, pipeline_id: str, data_dir: str, config: DownloadConfig
) -> SourceDownload | None:
    """The download a worker makes before it opens `source`; None: it opens the URI as is."""
    if not source.download or parse_source_uri(source.uri).scheme not in ("http", "https"):
        return None
    name = Path(unquote(urlsplit(source.uri).path)).name or "source"
    target = node_path(downloads_dir(data_dir), data_dir) / pipeline_id / name
    return SourceDownload(source.uri, target, config)
