"""Logging for the driver process: readable text in development, JSON lines in production."""

from __future__ import annotations

import json
import logging
import sys

from coral_serve.config.runtime import RuntimeConfig

__all__ = ["JsonFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line, the shape log collectors expect."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(runtime: RuntimeConfig) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if runtime.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("coral_serve")
    logger.handlers[:] = [handler]
    logger.setLevel(runtime.log_level)
    logger.propagate = False
