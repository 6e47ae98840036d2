"""Which sources a request may open: the scheme allowlist and the local file roots."""

from __future__ import annotations

import os
import re
from pathlib import Path

from coral_serve.config.pipelines import SourcePolicy
from coral_serve.errors import InvalidRequestError
from coral_serve.schema.redact import masked_uri

__all__ = ["check_source", "local_path", "source_scheme"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def source_scheme(uri: str) -> str:
    """`rtsp`, `http`, ... for URLs; `device` for a camera index; `file` for a local path."""
    match = _SCHEME.match(uri)
    if match:
        return match.group(1).lower()
    return "device" if uri.strip().isdigit() else "file"


def local_path(uri: str) -> Path | None:
    """The filesystem path a `file://` URI or a plain path names, else None."""
    if source_scheme(uri) != "file":
        return None
    return Path(uri[len("file://") :] if uri.startswith("file://") else uri)


def check_source(uri: str, policy: SourcePolicy, data_dir: str) -> None:
    """Refuse schemes that are not allowed and local files outside the allowed roots.

    Paths are resolved through symlinks first, so a link inside a root that points
    outside it is refused too.
    """
    if _CONTROL.search(uri):
        raise InvalidRequestError("source URI contains control characters")
    scheme = source_scheme(uri)
    if scheme not in policy.schemes:
        allowed = ", ".join(policy.schemes) or "none"
        raise InvalidRequestError(
            f"source scheme {scheme!r} is not allowed (pipelines.sources.schemes: {allowed})"
        )
    path = local_path(uri)
    if path is None:
        return
    resolved = Path(os.path.realpath(path))
    roots = [Path(os.path.realpath(root)) for root in (*policy.file_roots, data_dir)]
    if not any(resolved == root or root in resolved.parents for root in roots):
        raise InvalidRequestError(
            f"local file {masked_uri(uri)} is outside the allowed roots "
            "(add its directory to pipelines.sources.file_roots)"
        )
    if not resolved.is_file():
        raise InvalidRequestError(f"local file {masked_uri(uri)} does not exist")
