"""Model runtimes by name: the built-ins plus `coral_serve.backends` entry points."""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from coral_serve.engine.backends import onnx, passthrough, rknn
from coral_serve.engine.backends.base import Backend, BackendSpec
from coral_serve.engine.errors import ModelLoadError

if TYPE_CHECKING:
    from coral_serve.schema.spec import ModelSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "available_backends",
    "create_backend",
    "get_backend",
    "register_backend",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "coral_serve.backends"
_BUILTINS: dict[str, BackendSpec] = {
    spec.name: spec for spec in (onnx.SPEC, rknn.SPEC, passthrough.SPEC)
}
_lock = threading.Lock()
_registered: dict[str, BackendSpec] = {}
_plugins: dict[str, BackendSpec] | None = None


def register_backend(spec: BackendSpec) -> None:
    """Add a backend in-process (tests, embedding); built-in names cannot be replaced."""
    if spec.name in _BUILTINS:
        raise ValueError(f"backend {spec.name!r} is built in")
    with _lock:
        _registered[spec.name] = spec


def available_backends(reload: bool = False) -> dict[str, BackendSpec]:
    """Every backend by name; entry points are read once unless `reload`."""
    global _plugins
    with _lock:
        if _plugins is None or reload:
            _plugins = _load_entry_points()
        merged = {**_plugins, **_registered}
    merged.update(_BUILTINS)
    return merged


def get_backend(name: str) -> BackendSpec:
    backends = available_backends()
    if name not in backends:
        raise ModelLoadError(f"unknown backend {name!r}; available: {', '.join(sorted(backends))}")
    return backends[name]


def create_backend(spec: ModelSpec) -> Backend:
    """A loaded backend; any failure, ours or a plugin's, comes out as ModelLoadError."""
    backend_spec = get_backend(spec.backend)
    backend = backend_spec.factory()
    try:
        backend.load(spec)
    except Exception as exc:  # third-party runtimes raise anything
        _close_quietly(backend)
        if isinstance(exc, ModelLoadError):
            raise
        raise ModelLoadError(f"backend {spec.backend!r} could not load the model: {exc}") from exc
    return backend


def _close_quietly(backend: Backend) -> None:
    try:
        backend.close()
    except Exception:  # already failing; the load error is the one worth reporting
        log.debug("closing a backend that failed to load raised", exc_info=True)


def _load_entry_points() -> dict[str, BackendSpec]:
    found: dict[str, BackendSpec] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            value = entry.load()
            spec = value if isinstance(value, BackendSpec) else value()
        except Exception as exc:  # a broken plugin must not break the built-ins
            log.warning("backend plugin %s failed to load: %s", entry.name, exc)
            continue
        if not isinstance(spec, BackendSpec):
            log.warning("backend plugin %s did not return a BackendSpec; ignored", entry.name)
        elif spec.name in _BUILTINS:
            log.warning("backend plugin %s may not replace built-in %r", entry.name, spec.name)
        else:
            found[spec.name] = spec
    return found
