"""Logging: one line per event, with the request id, and never a traceback.

Tracebacks and exception messages can carry personal data (values in a failing statement,
a name in a validation message), so unhandled errors are logged by type and location only.
"""

from __future__ import annotations

import logging
import sys
import traceback

from flask import g, has_request_context

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(g, "request_id", "-") if has_request_context() else "-"
        return True


class _NoTracebackFormatter(logging.Formatter):
    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return ""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = ""
        saved, record.exc_info = record.exc_info, None
        try:
            return super().format(record)
        finally:
            record.exc_info = saved


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_livc", False) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._livc = True  # type: ignore[attr-defined]
    handler.setFormatter(_NoTracebackFormatter(FORMAT))
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)


def describe_error(error: BaseException) -> str:
    """``TypeName at module:function:line``: where it failed, without any value or message."""
    frames = traceback.extract_tb(error.__traceback__)
    where = frames[-1] if frames else None
    location = f" at {where.filename.rsplit('/', 1)[-1]}:{where.name}:{where.lineno}" if where else ""
    return f"{type(error).__module__}.{type(error).__qualname__}{location}"
