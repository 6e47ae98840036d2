"""Logging for every process of the project: readable text in development, JSON lines in
production, and credentials masked in every record, tracebacks included."""

from __future__ import annotations

import json
import logging
import sys

from coral_serve.config.runtime import RuntimeConfig
from coral_serve.schema.redact import masked_text

__all__ = ["JsonFormatter", "MaskingFilter", "configure_logging", "mask_handlers"]

_PROJECT_LOGGER = "coral_serve"
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskingFilter(logging.Filter):
    """Applies the masking of status reasons to the finished message and exception text.

    A handler filter, so it sees records of every logger that reaches the handler; it
    rewrites the record in place (idempotent: masked text stays the same when masked again).
    """

    _traceback = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = masked_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._traceback.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = masked_text(record.exc_text)
        if record.stack_info:
            record.stack_info = masked_text(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, the shape log collectors expect."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry)


def mask_handlers() -> None:
    """Put the masking filter on every handler our records can reach in this process.

    Workers and Serve replicas call this when they start, the driver through
    `configure_logging`. A Ray worker process starts with no handler at all, where Python's
    last-resort handler would print warnings unmasked: it gets a masked stderr handler.
    """
    root, project = logging.getLogger(), logging.getLogger(_PROJECT_LOGGER)
    if not root.handlers and not project.handlers:
        fallback = logging.StreamHandler(sys.stderr)
        fallback.setLevel(logging.WARNING)
        fallback.setFormatter(logging.Formatter(_TEXT_FORMAT))
        project.addHandler(fallback)
    for logger in (root, project):
        for handler in logger.handlers:
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(MaskingFilter())


def configure_logging(runtime: RuntimeConfig) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if runtime.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    logger = logging.getLogger(_PROJECT_LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(runtime.log_level)
    logger.propagate = False
    mask_handlers()
