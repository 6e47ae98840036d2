"""A pipeline worker's CPU priority relative to the control plane, set once at its start.

The runner exports `runtime.worker_nice` as `CORAL_WORKER_NICE` before Ray starts, so every
worker process Ray forks inherits it; a worker started without it keeps Ray's niceness.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from coral_serve.config.runtime import WORKER_NICE_ENV

__all__ = ["apply_worker_priority"]

log = logging.getLogger(__name__)


def apply_worker_priority(environ: Mapping[str, str] = os.environ) -> int:
    """Set this process's niceness from `environ`; returns the niceness it runs at.

    A niceness below the inherited one needs privilege (root or CAP_SYS_NICE): without it the
    worker runs on at the inherited one and says so, since a camera is better slow than off.
    """
    wanted = environ.get(WORKER_NICE_ENV)
    if wanted is None:
        return os.getpriority(os.PRIO_PROCESS, 0)
    try:
        niceness = int(wanted)
        for thread in _threads():
            os.setpriority(os.PRIO_PROCESS, thread, niceness)
    except (ValueError, OSError) as exc:
        log.warning("cannot set worker niceness %s=%r: %s", WORKER_NICE_ENV, wanted, exc)
    return os.getpriority(os.PRIO_PROCESS, 0)


def _threads() -> list[int]:
    """Every thread of this process: on Linux a niceness belongs to one thread, and Ray's
    threads exist before the engine's (which inherit it from the thread that starts them)."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]
