"""One inference session per (backend, model file, providers, threads, batching), shared by
the pipelines of a process that use it (`pipelines.isolation: shared`).

A session holds the weights and the runtime's arenas: 16 cameras running one model file
need it once, not 16 times. Only backends that declare `shares_session = True` are shared
(their `infer` may be called from several threads at once, as ONNX Runtime's `run` may);
any other backend is loaded once per pipeline as before. With `model.batching.max_batch` > 1
the inputs of the session's pipelines go through one `SessionBatcher` (engine/batching.py).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from coral_serve.engine.backends import LAYOUT_NCHW_FLOAT, Backend, create_backend, get_backend
from coral_serve.engine.batching import BatchStats, SessionBatcher

if TYPE_CHECKING:
    from coral_serve.schema.spec import ModelSpec

__all__ = ["SessionKey", "SharedSessions", "session_key"]

log = logging.getLogger(__name__)

SessionKey = tuple[str, str, tuple[str, ...], int, tuple[int, int] | None, int, float]


def session_key(spec: ModelSpec) -> SessionKey:
    """What makes two pipelines' sessions the same one: the decoder and its thresholds are
    per pipeline, so they are not part of it; how the session batches is."""
    path = os.path.realpath(spec.path) if spec.path is not None else ""
    size = tuple(spec.input_size) if spec.input_size is not None else None
    batching = spec.batching
    return (
        spec.backend,
        path,
        tuple(spec.providers),
        spec.threads,
        size,  # type: ignore[arg-type]
        batching.max_batch,
        batching.max_wait_ms,
    )


@dataclass
class _Entry:
    backend: Backend
    users: int
    batcher: SessionBatcher | None = field(default=None)

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        runner = self.batcher if self.batcher is not None else self.backend
        return runner.infer(batch)


def _batcher(spec: ModelSpec, entry: _Entry) -> SessionBatcher | None:
    """A batcher for the session when its spec asks for one and its input can batch."""
    wanted = spec.batching.max_batch
    if wanted <= 1:
        return None
    shape = entry.backend.input_shape
    fixed = shape[0] if shape and shape[0] > 0 else None
    if fixed == 1:
        log.warning(
            "model %s has a fixed batch of 1: model.batching.max_batch %d is ignored, the "
            "inputs of its pipelines run one after another",
            spec.path,
            wanted,
        )
        return None
    return SessionBatcher(
        entry.backend.infer,
        wanted,
        spec.batching.max_wait_ms,
        users=lambda: entry.users,
        fixed_batch=fixed,
    )


class SharedSessions:
    """Loaded backends by `session_key`, each closed when its last user closes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loading: dict[SessionKey, threading.Lock] = {}
        self._entries: dict[SessionKey, _Entry] = {}

    def acquire(self, spec: ModelSpec) -> Backend:
        """A loaded backend for `spec`: the shared one when its backend allows it. The caller
        closes what it gets (the last close of a shared one frees the session)."""
        if not getattr(get_backend(spec.backend).factory, "shares_session", False):
            return create_backend(spec)
        key = session_key(spec)
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # two pipelines starting together load the model once
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.users += 1
                    return _SharedBackend(self, key, entry)
            entry = _Entry(create_backend(spec), 1)  # outside the lock: loading takes seconds
            entry.batcher = _batcher(spec, entry)
            with self._lock:
                self._entries[key] = entry
            return _SharedBackend(self, key, entry)

    def sessions(self) -> int:
        """How many sessions are open (tests, status)."""
        with self._lock:
            return len(self._entries)

    def describe(self) -> list[dict[str, Any]]:
        """Each open session's model, users and, when it batches, what its batcher ran."""
        with self._lock:
            entries = list(self._entries.items())
        return [
            {
                "path": key[1],
                "users": entry.users,
                "batching": asdict(entry.batcher.stats()) if entry.batcher else None,
            }
            for key, entry in entries
        ]

    def _release(self, key: SessionKey) -> None:
        with self._lock:
            entry = self._entries[key]
            entry.users -= 1
            if entry.users:
                return
            del self._entries[key]
        if entry.batcher is not None:
            entry.batcher.close()
        entry.backend.close()


class _SharedBackend:
    """One pipeline's use of a shared backend: `close` gives the use back, once."""

    def __init__(self, owner: SharedSessions, key: SessionKey, entry: _Entry) -> None:
        self._owner = owner
        self._key = key
        self._entry = entry
        self._backend = backend = entry.backend
        self._closed = False
        self._close_lock = threading.Lock()
        self.layout = getattr(backend, "layout", LAYOUT_NCHW_FLOAT)
        self.metadata = getattr(backend, "metadata", None)
        self.providers = getattr(backend, "providers", None)

    def load(self, spec: ModelSpec) -> None:
        raise RuntimeError("a shared backend is loaded by SharedSessions")

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return self._backend.input_shape

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        return self._entry.infer(batch)

    def batch_stats(self) -> BatchStats | None:
        """What the session's batcher ran (all its pipelines together); None: it does not batch."""
        batcher = self._entry.batcher
        return batcher.stats() if batcher is not None else None

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._owner._release(self._key)
