"""A class-names file a request names is read only if it is a small regular file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coral_serve.engine.classes import MAX_NAMES_FILE_BYTES, resolve_classes
from coral_serve.engine.errors import ModelLoadError


def test_a_device_is_refused_without_reading_it() -> None:
    with pytest.raises(ModelLoadError, match="not a regular file"):
        resolve_classes("/dev/zero")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "names.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ModelLoadError, match="not a regular file"):
        resolve_classes(str(fifo))


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="class names file"):
        resolve_classes(str(tmp_path))


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "names.txt"
    big.write_bytes(b"person\n" * (MAX_NAMES_FILE_BYTES // 7 + 1))
    with pytest.raises(ModelLoadError, match="larger than"):
        resolve_classes(str(big))


def test_a_small_names_file_is_read(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# labels\nperson\n\ncar\n", encoding="utf-8")
    assert resolve_classes(str(names)) == ["person", "car"]
