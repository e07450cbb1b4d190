"""Test-only jobs of ``tests/test_runtime.py``, imported by the real worker it starts (the tests
folder is on the worker's ``PYTHONPATH``)."""

from __future__ import annotations

import logging
import sys

from livc.platform.jobs import task

SECRET = "Jan Janssens, Bondgenotenlaan 12"  # stands for personal data in an exception message


@task(retries=0)
def library_logs_a_traceback_then_fails() -> None:
    """What a library does: log a caught error with its traceback, on a handler of its own
    (like RQ's or gunicorn's), then let another one reach the worker."""
    library = logging.getLogger("a.library")
    if not library.handlers:
        library.addHandler(logging.StreamHandler(sys.stderr))  # the default format: with traceback
        library.propagate = False
    try:
        int(f"not a number: {SECRET}")
    except ValueError:
        library.exception("could not parse")
    raise LookupError(f"no record for {SECRET}")
