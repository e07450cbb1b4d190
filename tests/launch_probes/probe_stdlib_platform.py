"""Run on its own (``pytest tests/launch_probes/probe_stdlib_platform.py``) by test_layout.py.

Not collected by the normal run. The root conftest (which imports the app) is loaded first,
as in any test run.
"""

import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layout_probe_report import write_report


def test_platform_is_the_standard_library_module():
    report = write_report("pytest")
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert report["platform_file"] is not None, f"platform is a namespace package: {report}"
    assert Path(report["platform_file"]).resolve().is_relative_to(stdlib), report
