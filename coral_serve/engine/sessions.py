"""One inference session per (backend, model file, providers, threads), shared by the
pipelines of a process that use it (`pipelines.isolation: shared`).

A session holds the weights and the runtime's arenas: 16 cameras running one model file
need it once, not 16 times. Only backends that declare `shares_session = True` are shared
(their `infer` may be called from several threads at once, as ONNX Runtime's `run` may);
any other backend is loaded once per pipeline as before.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from coral_serve.engine.backends import LAYOUT_NCHW_FLOAT, Backend, create_backend, get_backend

if TYPE_CHECKING:
    from coral_serve.schema.spec import ModelSpec

__all__ = ["SessionKey", "SharedSessions", "session_key"]

SessionKey = tuple[str, str, tuple[str, ...], int, tuple[int, int] | None]


def session_key(spec: ModelSpec) -> SessionKey:
    """What makes two pipelines' sessions the same one: the decoder and its thresholds are
    per pipeline, so they are not part of it."""
    path = os.path.realpath(spec.path) if spec.path is not None else ""
    size = tuple(spec.input_size) if spec.input_size is not None else None
    return (spec.backend, path, tuple(spec.providers), spec.threads, size)  # type: ignore[return-value]


@dataclass
class _Entry:
    backend: Backend
    users: int


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
                    return _SharedBackend(self, key, entry.backend)
            backend = create_backend(spec)  # outside the lock: loading takes seconds
            with self._lock:
                self._entries[key] = _Entry(backend, 1)
            return _SharedBackend(self, key, backend)

    def sessions(self) -> int:
        """How many sessions are open (tests, status)."""
        with self._lock:
            return len(self._entries)

    def _release(self, key: SessionKey) -> None:
        with self._lock:
            entry = self._entries[key]
            entry.users -= 1
            if entry.users:
                return
            del self._entries[key]
        entry.backend.close()


class _SharedBackend:
    """One pipeline's use of a shared backend: `close` gives the use back, once."""

    def __init__(self, owner: SharedSessions, key: SessionKey, backend: Backend) -> None:
        self._owner = owner
        self._key = key
        self._backend = backend
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
        return self._backend.infer(batch)

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._owner._release(self._key)
