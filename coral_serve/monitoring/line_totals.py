"""Line-crossing totals that outlive the workers that counted them.

A worker counts crossings from zero (a restart, a move to another node, a new generation).
The monitor adds what each generation counted, as last polled, to what the earlier ones had,
and keeps that in one JSON file in `pipelines.data_dir`, so a restarted monitor goes on too.
On a cluster the file is on the node that runs MonitorService (one replica), beside the
store. Crossings a worker counted after its last poll die with it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LINE_TOTALS_FILE", "LineKey", "LineTotals", "flatten_lines"]

log = logging.getLogger(__name__)

LineKey = tuple[str, str, str]  # line, direction, label
LINE_TOTALS_FILE = "line_totals.json"  # in pipelines.data_dir


def flatten_lines(lines: Mapping[str, Any]) -> dict[LineKey, int]:
    """A worker status's `analytics.lines` ({line: {direction: {label: n}}}) by key."""
    return {
        (line, direction, label): int(count)
        for line, ways in lines.items()
        for direction, labels in ways.items()
        for label, count in labels.items()
    }


class LineTotals:
    """Per pipeline: the generation last seen, what it counted, and the earlier ones' sum."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._state: dict[str, dict[str, Any]] = self._load()
        self._dirty = False

    def update(
        self, pipeline_id: str, generation: int, counted: Mapping[LineKey, int]
    ) -> dict[LineKey, int]:
        """The totals of `pipeline_id` with what its worker of `generation` counted so far."""
        entry = self._state.setdefault(
            pipeline_id, {"generation": generation, "base": {}, "last": {}}
        )
        base, reported = entry["base"], {_encode(key): n for key, n in counted.items()}
        # A new generation, or a count that went down (the worker restarted in place): what
        # the previous worker counted is final.
        fell = any(reported.get(key, count) < count for key, count in entry["last"].items())
        if entry["generation"] != generation or fell:
            for key, count in entry["last"].items():
                base[key] = base.get(key, 0) + count
            entry["generation"], entry["last"] = generation, {}
            self._dirty = True
        now = {**entry["last"], **reported}  # a line no longer reported keeps its count
        if now != entry["last"]:
            entry["last"] = now
            self._dirty = True
        keys = base.keys() | now.keys()
        return {_decode(key): base.get(key, 0) + now.get(key, 0) for key in keys}

    def current(self, pipeline_id: str) -> dict[LineKey, int]:
        """The totals of `pipeline_id` as of the last poll, without counting anything new."""
        entry = self._state.get(pipeline_id)
        if entry is None:
            return {}
        base, last = entry["base"], entry["last"]
        return {_decode(key): base.get(key, 0) + last.get(key, 0) for key in base.keys() | last}

    def save(self) -> None:
        """Write the file if anything changed (a temporary file renamed over it); a disk
        that refuses is logged, never fatal to polling."""
        if not self._dirty or self._path is None:
            return
        temporary = self._path.with_suffix(".tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(self._state, sort_keys=True))
            os.replace(temporary, self._path)
        except OSError as exc:  # metrics go on from memory; the next round tries again
            log.warning("line totals not saved to %s: %s", self._path, exc)
            return
        self._dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("line totals in %s unreadable, counting from zero: %s", self._path, exc)
            return {}
        return data if isinstance(data, dict) else {}


def _encode(key: LineKey) -> str:
    return "/".join(key)  # names never hold "/", so only the label may, and it comes last


def _decode(key: str) -> LineKey:
    line, direction, label = key.split("/", 2)
    return line, direction, label
