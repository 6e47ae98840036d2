"""coral_serve: a control plane for edge video-inference pipelines on Ray Serve.

`coral_serve:app` (for `serve run`) and `coral_serve:build_app` are resolved lazily so that
importing the package for its config or CLI does not import Ray.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("coral-serve")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__", "app", "build_app"]


def __getattr__(name: str) -> Any:
    if name == "build_app":
        from coral_serve.app import build_app

        return build_app
    if name == "app":
        from coral_serve.app import build_app

        return build_app({})
    raise AttributeError(f"module 'coral_serve' has no attribute {name!r}")
