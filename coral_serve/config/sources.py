"""`ConfigSources`: what shapes a descriptor, apart from the loader that composes it.

Its own module because every descriptor keeps its sources (a reload reads them again), and a
Serve replica that unpickles a descriptor should not import Hydra with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ConfigSources"]


@dataclass
class ConfigSources:
    """Everything a user can pass to shape the descriptor, in the order it applies."""

    file: Path | None = None
    overrides: Sequence[str] = ()
    """Hydra-style `group=option` or `a.b=value` tokens (`python -m coral_serve ...`)."""
    sets: Sequence[str] = ()
    """`--set a.b=value` pairs."""
    use_env: bool = True
    environ: Mapping[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Already-parsed dotted assignments applied last (builder args from `serve run`)."""
