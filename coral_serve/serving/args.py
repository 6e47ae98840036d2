"""`BuilderArgs`: the arguments of `build_app`, as `serve run` and a Serve config pass them.

Plain pydantic, no Ray: `deploy serve-config` and `deploy kuberay` write them with the
same model the builder reads them with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coral_serve.config import ConfigSources, CoralConfig, load_config
from coral_serve.config.layers import parse_scalar

__all__ = ["BuilderArgs"]


class BuilderArgs(BaseModel):
    """`serve run coral_serve:build_app web=prod http.port=9100`, or a Serve config's `args:`.

    Every other key is a dotted config key (or a config group) applied last, as
    `python -m coral_serve` applies its overrides; a string value is read as YAML.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    config_file: Path | None = Field(default=None, description="The descriptor file to read.")
    overrides: list[str] = Field(
        default_factory=list, description="`group=option` or `a.b=value` tokens, in order."
    )
    no_env: bool = Field(default=False, description="Ignore CORAL_* environment variables.")

    def config_keys(self) -> dict[str, Any]:
        """The extra keys, their string values typed as on the command line (`9100` is an int)."""
        return {
            key: parse_scalar(value) if isinstance(value, str) else value
            for key, value in (self.model_extra or {}).items()
        }

    def load(self) -> CoralConfig:
        """The descriptor these arguments describe; raises ConfigError naming each bad key."""
        return load_config(
            ConfigSources(
                file=self.config_file,
                overrides=self.overrides,
                use_env=not self.no_env,
                extra=self.config_keys(),
            )
        )

    def to_serve_args(self) -> dict[str, Any]:
        """The `args:` mapping of a Serve config: only what differs from the defaults."""
        return self.model_dump(mode="json", exclude_defaults=True)
