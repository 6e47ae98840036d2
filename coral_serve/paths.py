"""Files a request names: inside the configured roots, and a regular file of bounded size.

Sources and model files share these rules. A path is resolved through symlinks before it is
compared, so a link inside a root that points outside it is refused; and a path outside the
roots is refused before anything looks at it, with the same words whether it exists or not,
so the answer tells nothing about the server's other files.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PathRefusedError", "check_regular_file", "confine"]


class PathRefusedError(ValueError):
    """Why a path may not be used; callers prefix the key or URI it came from."""


def confine(path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> Path:
    """`path` resolved (relative to the working directory), if it lies in one of `roots`."""
    resolved = Path(os.path.realpath(path))
    for root in roots:
        base = Path(os.path.realpath(root))
        if resolved == base or base in resolved.parents:
            return resolved
    raise PathRefusedError("is outside the allowed roots")


def check_regular_file(path: Path, max_bytes: int) -> None:
    """Refuse a missing file, a device, FIFO or directory, and one over `max_bytes`.

    Only `stat`, which never blocks on a FIFO and reads no content.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise PathRefusedError("does not exist") from None
    except OSError as exc:
        raise PathRefusedError(f"cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise PathRefusedError("is not a regular file")
    if info.st_size > max_bytes:
        raise PathRefusedError(f"is larger than {max_bytes} bytes")
