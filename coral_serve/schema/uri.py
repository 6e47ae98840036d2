"""The one grammar of source URIs: API validation, the probe and the engine all parse here.

So that a URI means the same everywhere: `file:///videos/a%20b.mp4` is the file
`/videos/a b.mp4` (percent-decoded) to every layer, and `/dev/video0` is a camera, never a
file under the allowed roots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator

__all__ = ["NETWORK_SCHEMES", "SOURCE_SCHEMES", "SourceUri", "SourceUriText", "parse_source_uri"]

SOURCE_SCHEMES: tuple[str, ...] = ("rtsp", "rtsps", "http", "https", "file", "device")
NETWORK_SCHEMES: tuple[str, ...] = ("rtsp", "rtsps", "http", "https")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# V4L2 camera nodes; any other path under /dev is a file like the rest (and must lie
# under a file root), so a path such as /dev/shm/x.mp4 cannot pass for a camera.
_DEVICE_NODE = re.compile(r"^/dev/(?:video[0-9]+|v4l/by-(?:id|path)/[^/]+)$")


@dataclass(frozen=True, slots=True)
class SourceUri:
    """A parsed source: its scheme and what OpenCV opens."""

    scheme: str  # one of SOURCE_SCHEMES; `file` for a plain path, `device` for a camera
    target: int | str  # a camera index, a device node, a local path or the URL itself

    @property
    def path(self) -> Path | None:
        """The local file this source reads, if it is one."""
        return Path(str(self.target)) if self.scheme == "file" else None

    @property
    def live(self) -> bool | None:
        """Cameras and RTSP are live, files are not; None: http(s) is known once opened."""
        if self.scheme in ("http", "https"):
            return None
        return self.scheme != "file"


def parse_source_uri(uri: str) -> SourceUri:
    """Parse `uri`; a ValueError says what is wrong without quoting it (it may hold secrets)."""
    if _CONTROL.search(uri):
        raise ValueError("must not contain control characters")
    if uri.isascii() and uri.isdigit():
        return SourceUri("device", int(uri))
    match = _SCHEME.match(uri)
    if match is None:
        return SourceUri("device" if _DEVICE_NODE.match(uri) else "file", uri)
    scheme = match.group(1).lower()
    rest = uri[match.end() :]
    if scheme not in SOURCE_SCHEMES:
        raise ValueError(
            f"scheme {scheme!r} is not supported; use one of {', '.join(SOURCE_SCHEMES)}"
        )
    if scheme == "device":
        if not (rest.isascii() and rest.isdigit()):
            raise ValueError("device:// needs a camera index, e.g. device://0")
        return SourceUri(scheme, int(rest))
    if scheme == "file":
        parts = urlsplit(uri)
        return SourceUri(scheme, unquote(parts.netloc + parts.path))
    if not rest:
        raise ValueError(f"{scheme}:// needs a host")
    return SourceUri(scheme, uri)


def _parses(uri: str) -> str:
    parse_source_uri(uri)
    return uri


SourceUriText = Annotated[str, AfterValidator(_parses)]
"""A request field holding a source URI: refused with the grammar's reason unless it parses."""
