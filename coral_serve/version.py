"""The installed distribution's version, in a module of its own.

Modules import it from here rather than from the package root, whose lazy `app` and
`build_app` names belong to the Serve-aware layer (`serving`).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("coral-serve")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
