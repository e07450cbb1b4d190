"""On ``PYTHONPATH`` for test_layout.py: report the ``platform`` module when the process exits.

Imports nothing that could settle which ``platform`` is found: the report is made at exit,
after the program ran with its own ``sys.path``.
"""

import atexit
import os
import sys


def _report():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    try:
        from layout_probe_report import write_report
    finally:
        sys.path.pop(0)
    write_report(os.environ.get("LAYOUT_PROBE_MODE", "sitecustomize"))


if os.environ.get("LAYOUT_PROBE_OUTPUT"):
    atexit.register(_report)
