"""The report every launch probe writes: which ``platform`` module the process imported.

Kept free of imports beyond the standard library's ``json``, ``os`` and ``sys``; ``platform``
itself is imported only when a report is made, so the probe never decides the answer.
"""

import json
import os
import sys


def write_report(mode: str) -> dict:
    already_imported = "platform" in sys.modules
    import platform

    report = {
        "mode": mode,
        "platform_file": getattr(platform, "__file__", None),
        "has_python_version": hasattr(platform, "python_version"),
        "already_imported": already_imported,
        "livc_platform_path": _livc_platform_path(),
        "sys_path": list(sys.path),
        "pid": os.getpid(),
    }
    output = os.environ.get("LAYOUT_PROBE_OUTPUT")
    if output:
        with open(output, "w", encoding="utf-8") as file:
            json.dump(report, file)
    return report


def _livc_platform_path():
    module = sys.modules.get("livc.platform")
    return list(getattr(module, "__path__", [])) if module is not None else None
