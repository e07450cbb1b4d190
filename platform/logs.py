"""Logging: one line per event, with the request id, and never a traceback.

Tracebacks and exception messages can carry personal data (values in a failing statement,
a name in a validation message), so unhandled errors are logged by type and location only.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from functools import partial

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
    """One handler on the root logger, and no traceback in any record of the process.

    Handlers that are not ours (RQ's worker and job loggers, gunicorn's error log, a
    library's) format a record's ``exc_info`` as a traceback: every record is made without it
    (:func:`_record_without_traceback`).
    """
    _drop_tracebacks_from_records()
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



def never_log_tracebacks() -> None:
    """For a command's process (web, worker, cron, custodian): no record carries a traceback,
    and an exception that ends the process or one of its threads is logged in one line, by
    type and place, instead of Python's traceback on stderr."""
    _drop_tracebacks_from_records()
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _drop_tracebacks_from_records() -> None:
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "livc_no_traceback", False):
        ours = partial(_record_without_traceback, factory)
        ours.livc_no_traceback = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(ours)


def _record_without_traceback(factory, *args, **kwargs) -> logging.LogRecord:
    """A log record whose exception, if any, is named by type and place in its message and
    is not kept for a handler to print (nor is a stack)."""
    record = factory(*args, **kwargs)
    error = record.exc_info[1] if record.exc_info else None
    if error is not None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call still gets its line
            message = str(record.msg)
        record.msg, record.args = f"{message} ({describe_error(error)})", ()
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    return record


def _log_uncaught(kind, error, trace) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("livc").critical("stopped by an unexpected error: %s", describe_error(error))


def _log_uncaught_in_thread(hook: threading.ExceptHookArgs) -> None:
    if hook.exc_value is None or isinstance(hook.exc_value, SystemExit):
        return
    name = hook.thread.name if hook.thread is not None else "?"
    logging.getLogger("livc").error("thread %s stopped by an unexpected error: %s", name, describe_error(hook.exc_value))
