"""A Serve config file equivalent to what `build_app` binds (`serve build` rejects builders)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coral_serve.config import CoralConfig
from coral_serve.serving.args import BuilderArgs

__all__ = ["render_serve_config"]

BUILDER_IMPORT_PATH = "coral_serve:build_app"


def render_serve_config(
    config: CoralConfig,
    *,
    config_file: Path | None = None,
    sets: Sequence[str] = (),
    no_env: bool = False,
) -> dict[str, Any]:
    """The application is rebuilt from the same sources on the cluster, so secrets stay in
    the file or environment they came from instead of being copied into this manifest."""
    args = BuilderArgs(
        config_file=Path(config_file).resolve() if config_file is not None else None,
        overrides=list(sets),
        no_env=no_env,
    )
    return {
        "proxy_location": "EveryNode",
        "http_options": {"host": config.http.host, "port": config.http.port},
        "logging_config": {
            "encoding": "JSON" if config.runtime.log_format == "json" else "TEXT",
            "log_level": config.runtime.log_level,
        },
        "applications": [
            {
                "name": config.runtime.app_name,
                "route_prefix": "/",
                "import_path": BUILDER_IMPORT_PATH,
                "args": args.to_serve_args(),
            }
        ],
    }
