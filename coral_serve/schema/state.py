"""The states a pipeline can be in, as the API, the store and the metrics spell them."""

from __future__ import annotations

from enum import Enum, StrEnum

__all__ = ["DesiredState", "Origin", "PipelineState"]


class PipelineState(StrEnum):
    """Observed state; a `StrEnum` so it compares, formats and serialises as its value.

    The engine reports starting, running, paused, reconnecting, failed, finished and
    stopped; the reconciler adds downloading, restarting and pending; broken marks a stored
    row that cannot be read.
    """

    starting = "starting"
    downloading = "downloading"
    running = "running"
    paused = "paused"
    reconnecting = "reconnecting"
    restarting = "restarting"
    pending = "pending"
    failed = "failed"
    finished = "finished"
    stopped = "stopped"
    broken = "broken"


class DesiredState(str, Enum):
    """What the reconciler enforces."""

    running = "running"
    paused = "paused"


class Origin(str, Enum):
    api = "api"
    config = "config"
