"""Which sources a request may open: the scheme allowlist and the local file roots."""

from __future__ import annotations

from coral_serve.config.pipelines import SourcePolicy
from coral_serve.errors import InvalidRequestError
from coral_serve.paths import PathRefusedError, confine
from coral_serve.schema.redact import masked_uri
from coral_serve.schema.uri import parse_source_uri

__all__ = ["check_source"]


def check_source(uri: str, policy: SourcePolicy, data_dir: str) -> None:
    """Refuse schemes that are not allowed and local files outside the allowed roots.

    Blocking (it resolves the path): services call it in a thread. The data dir is always
    a root; see `coral_serve.paths` for how a path is confined.
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
    if source.path is None:
        return
    try:
        resolved = confine(source.path, (*policy.file_roots, data_dir))
    except PathRefusedError:
        raise InvalidRequestError(
            f"local file {masked_uri(uri)} is outside the allowed roots "
            "(add its directory to pipelines.sources.file_roots)"
        ) from None
    if not resolved.is_file():
        raise InvalidRequestError(f"local file {masked_uri(uri)} does not exist")
