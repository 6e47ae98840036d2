"""Where a model's files may come from (`ModelFiles`) and the spec's paths confined to it.

Light: imported by control-plane replicas, which must not load OpenCV, PyAV or NumPy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coral_serve.engine.backends import get_backend
from coral_serve.engine.errors import ModelLoadError
from coral_serve.paths import PathRefusedError, confine

if TYPE_CHECKING:
    from coral_serve.config.pipelines import ModelPolicy
    from coral_serve.schema.spec import ModelSpec

__all__ = ["ModelFiles", "confine_model_paths"]

# The default of `pipelines.models.max_file_bytes`, for callers that load their own files.
_DEFAULT_MAX_FILE_BYTES = 2 << 30


@dataclass(frozen=True)
class ModelFiles:
    """Where model-side files may come from and how large a model file may be.

    Workers get it with their pool, not with the spec: the spec comes from a request, and on
    a cluster the files are read on the worker's node, which checks them again.
    """

    roots: tuple[str, ...] | None = None  # None: anywhere (callers naming their own files)
    max_bytes: int = _DEFAULT_MAX_FILE_BYTES

    @classmethod
    def allowed_by(cls, policy: ModelPolicy, data_dir: str) -> ModelFiles:
        """`pipelines.models` as workers apply it; `<data_dir>/models` is always a root, the
        data dir itself is not: the store and the URL-signing key live there."""
        return cls((*policy.roots, str(Path(data_dir) / "models")), policy.max_file_bytes)


def confine_model_paths(spec: ModelSpec, files: ModelFiles) -> ModelSpec:
    """`spec` with its model file and class-names file resolved into the allowed roots;
    ModelLoadError names the key. Opens and stats no file: the control plane runs it, and on
    a cluster the files may exist only on the nodes that run the pipeline."""
    get_backend(spec.backend)  # an unknown backend is the first thing to say
    if spec.passthrough:  # reads no file
        return spec
    update: dict[str, str] = {}
    if spec.path is not None:
        update["path"] = str(_confined(spec.path, "model.path", files))
    if isinstance(spec.classes, str):
        update["classes"] = str(_confined(spec.classes, "model.classes", files))
    return spec.model_copy(update=update)


def _confined(path: str, key: str, files: ModelFiles) -> Path:
    if files.roots is None:
        return Path(os.path.realpath(path))
    try:
        return confine(path, files.roots)
    except PathRefusedError as exc:
        raise ModelLoadError(f"{key} {path} {exc} (pipelines.models.roots)") from None
