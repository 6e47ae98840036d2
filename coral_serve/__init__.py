"""coral_serve: a control plane for edge video-inference pipelines on Ray Serve.

`serve run coral_serve:app` and `serve run coral_serve:build_app key=value ...` are the
entry points for Ray users; both names are resolved lazily, so importing the package for its
config or CLI does not import Ray. No submodule is called `app` or `build_app`, so these
names always mean the application and its builder (the Serve-aware code is in `serving/`).
"""

from __future__ import annotations

from typing import Any

from coral_serve.version import __version__

__all__ = ["__version__", "app", "build_app"]


def __getattr__(name: str) -> Any:
    if name in ("app", "build_app"):
        from coral_serve.serving.builder import BuilderArgs, build_app

        return build_app if name == "build_app" else build_app(BuilderArgs())
    raise AttributeError(f"module 'coral_serve' has no attribute {name!r}")
