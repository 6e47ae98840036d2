"""CPU priority of the pipeline workers and of the control plane's Serve replicas, each set
once, at the process's start, from the niceness the runner exported.

Ray starts every worker process (Serve's replicas and the pipeline workers alike) at its
`worker_niceness`, 15 by default; `runtime.control_plane_nice` and `runtime.worker_nice`
move the two apart. The runner exports them before Ray starts, so every process Ray forks
inherits them; a process started without one keeps Ray's niceness.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping

from coral_serve.config.runtime import CONTROL_PLANE_NICE_ENV, WORKER_NICE_ENV

__all__ = ["apply_control_plane_priority", "apply_worker_priority"]

log = logging.getLogger(__name__)


def apply_worker_priority(environ: Mapping[str, str] = os.environ) -> int:
    """In a pipeline worker: its niceness from `runtime.worker_nice`."""
    return _apply(WORKER_NICE_ENV, environ)


def apply_control_plane_priority(environ: Mapping[str, str] = os.environ) -> int:
    """In a Serve replica of the graph: its niceness from `runtime.control_plane_nice`."""
    return _apply(CONTROL_PLANE_NICE_ENV, environ)


def _apply(name: str, environ: Mapping[str, str]) -> int:
    """Set this process's niceness from `environ[name]`; returns the niceness it runs at.

    A niceness below the inherited one needs privilege (root or CAP_SYS_NICE): without it the
    process runs on at the inherited one and says so, since a camera is better slow than off.
    """
    wanted = environ.get(name)
    if wanted is not None:
        try:
            niceness = int(wanted)
            for thread in _threads():
                _set_thread_niceness(thread, niceness)
        except (ValueError, OSError) as exc:
            log.warning("cannot set niceness %s=%r: %s", name, wanted, exc)
    return os.getpriority(os.PRIO_PROCESS, 0)


def _set_thread_niceness(thread: int, niceness: int) -> None:
    """A thread that ended since /proc was listed has nothing left to set."""
    with contextlib.suppress(ProcessLookupError):
        os.setpriority(os.PRIO_PROCESS, thread, niceness)


def _threads() -> list[int]:
    """Every thread of this process: on Linux a niceness belongs to one thread, and Ray's
    threads exist before the engine's (which inherit it from the thread that starts them)."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]
