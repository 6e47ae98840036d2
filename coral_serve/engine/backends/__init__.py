"""Model runtimes: a small protocol, the built-ins and entry-point plugins."""

from coral_serve.engine.backends.base import (
    LAYOUT_NCHW_FLOAT,
    LAYOUT_NHWC_UINT8,
    Backend,
    BackendSpec,
)
from coral_serve.engine.backends.registry import (
    ENTRY_POINT_GROUP,
    available_backends,
    create_backend,
    get_backend,
    register_backend,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "LAYOUT_NCHW_FLOAT",
    "LAYOUT_NHWC_UINT8",
    "Backend",
    "BackendSpec",
    "available_backends",
    "create_backend",
    "get_backend",
    "register_backend",
]
