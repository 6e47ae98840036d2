"""Which sources a request may open: the scheme allowlist and the local file roots."""

from __future__ import annotations

import os
from pathlib import Path

from coral_serve.config.pipelines import SourcePolicy
from coral_serve.errors import InvalidRequestError
from coral_serve.schema.redact import masked_uri
from coral_serve.schema.uri import parse_source_uri

__all__ = ["check_source"]


def check_source(uri: str, policy: SourcePolicy, data_dir: str) -> None:
    """Refuse schemes that are not allowed and local files outside the allowed roots.

    Paths are resolved through symlinks first, so a link inside a root that points
    outside it is refused too.
    """
    try:
        source = parse_source_uri(uri)
    except ValueError as exc:
        raise InvalidRequestError(f"source URI: {exc}") from None
    scheme = source.scheme
    if scheme not in policy.schemes:
        allowed = ", ".join(policy.schemes) or "none"
        raise InvalidRequestError(
            f"source scheme {scheme!r} is not allowed (pipelines.sources.schemes: {allowed})"
        )
    path = source.path
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
