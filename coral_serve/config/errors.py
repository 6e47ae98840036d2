"""One error type for every way a configuration can be wrong."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConfigError", "ConfigProblem"]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration, located by its full dotted key."""

    key: str
    message: str
    layer: str | None = None

    def __str__(self) -> str:
        where = f" [from {self.layer}]" if self.layer else ""
        return f"{self.key or '<root>'}: {self.message}{where}"


class ConfigError(Exception):
    """Raised with every problem found, so a user fixes them all in one pass."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))
