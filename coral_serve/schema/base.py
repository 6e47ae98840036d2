"""Shared base for every section of the runtime descriptor."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["CoralBaseModel"]


class CoralBaseModel(BaseModel):
    """Forbids unknown keys so a typo in YAML is an error, not a silently ignored setting.

    NaN and infinity are refused everywhere: JSON cannot carry them, so a stored one would
    not read back.
    """

    model_config = ConfigDict(
        extra="forbid", validate_default=True, use_enum_values=False, allow_inf_nan=False
    )
