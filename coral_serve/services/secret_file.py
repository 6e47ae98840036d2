"""A random secret kept in one file: created once, atomically, readable by its owner only."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["URL_SIGNING_SECRET_FILE", "read_or_create_secret"]

URL_SIGNING_SECRET_FILE = "url-signing.key"
"""Name of the signed-URL key file, next to the pipeline store."""

_SECRET_BYTES = 32


def read_or_create_secret(path: Path) -> bytes:
    """The secret stored at `path`; the first caller creates it (mode 0600).

    The secret is written whole to a private temporary file and hard-linked into place,
    which fails when the name exists: the first writer wins and every other caller,
    in this process or another, reads what it wrote, never a partial file.
    Blocking: call it off the event loop.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as out:  # mkstemp creates the file with mode 0600
            out.write(secrets.token_hex(_SECRET_BYTES))
        with contextlib.suppress(FileExistsError):  # another caller won: use its secret
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read(path)


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"{path} must be readable by its owner only (mode {mode:o})")
    secret = bytes.fromhex(path.read_text().strip())
    if len(secret) < _SECRET_BYTES:
        raise ValueError(f"{path} holds no usable secret")
    return secret
