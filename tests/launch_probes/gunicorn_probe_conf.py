"""gunicorn settings for test_layout.py: report the worker's ``platform`` module once booted."""

import sys
from pathlib import Path

workers = 1
accesslog = None
errorlog = "-"
loglevel = "warning"
graceful_timeout = 5


def post_worker_init(worker):
    # The app (livc.app.wsgi:app) is imported by now, in this worker process.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from layout_probe_report import write_report
    finally:
        sys.path.pop(0)
    write_report("gunicorn")
