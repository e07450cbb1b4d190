"""The package layout: ``import platform`` finds the standard library in every launch mode.

The repository has a top-level ``platform/`` folder (imported as ``livc.platform``). Started
from the repository root, every launch mode below puts the root (or ``''``) on ``sys.path``
ahead of the standard library; with an ``__init__.py`` in ``platform/`` that folder would
replace the standard library's ``platform`` module (SQLAlchemy imports it) and crash the
process. Each mode is started as a subprocess with the repository root as working directory,
and reports the ``platform`` module it imported (see ``launch_probes/``).

The RQ worker is covered by test_jobs.py (``livc jobs ping`` answers with the worker's
``platform`` module).

The wheel test builds a wheel from a copy of the working tree (never in the tree itself:
the build writes ``build/``, ``*.egg-info`` and compiled catalogues).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROBES = REPO / "tests" / "launch_probes"
BIN = Path(sys.executable).parent
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
TIMEOUT = 300  # only a hung process reaches it; a loaded machine is slow, not stuck
CI = os.environ.get("CI", "").lower() == "true"
# Variables that change how Python builds sys.path: a developer's would hide the hazard.
PATH_VARIABLES = ("PYTHONPATH", "PYTHONSAFEPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONNOUSERSITE")


# --- helpers -------------------------------------------------------------------------------------


def launch_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without the developer's LIVC_* and sys.path settings, plus a data dir."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LIVC_") and name not in PATH_VARIABLES
    }
    env.update(
        LIVC_ENV="development",
        LIVC_DATA_DIR=str(tmp_path / "data"),
        LIVC_SECRET_KEY="layout-test-" + "k" * 32,
        LAYOUT_PROBE_OUTPUT=str(tmp_path / "probe.json"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        args,
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def read_report(tmp_path: Path) -> dict:
    path = tmp_path / "probe.json"
    assert path.exists(), "the launch probe wrote no report"
    return json.loads(path.read_text())


def assert_stdlib_platform(report: dict, repo_on_path: bool = True) -> None:
    """The process used the standard library's platform module, and the hazard was real."""
    platform_file = report["platform_file"]
    assert platform_file is not None, (
        f"'platform' was a namespace package (the repo folder): {report}"
    )
    assert Path(platform_file).resolve().is_relative_to(STDLIB), (
        f"platform came from {platform_file}, not from the standard library in {STDLIB}"
    )
    assert report["has_python_version"]
    # The app's own code is the repository's folder, as livc.platform (the editable install).
    if report["livc_platform_path"] is not None:
        folders = [Path(p).resolve() for p in report["livc_platform_path"] if Path(p).is_dir()]
        assert folders == [REPO / "platform"], report["livc_platform_path"]
    if repo_on_path:
        # Without the repository root ahead of the standard library, the test would prove nothing.
        entries = [(REPO / entry).resolve() for entry in report["sys_path"]]  # relative to cwd
        assert REPO in entries, f"the repository root was not on sys.path: {report['sys_path']}"
        assert entries.index(REPO) < entries.index(STDLIB), report["sys_path"]


def script(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(
            f"{path} is missing: install the project with pip install -e '.[dev]'", pytrace=False
        )
    return str(path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the app -------------------------------------------------------------------------------------


def test_python_c_importing_the_app(tmp_path):
    code = (
        "import livc.app.factory as app_module\n"
        "app_module.create_app()\n"
        "import sys\n"
        "sys.path.append('tests/launch_probes')\n"
        "from layout_probe_report import write_report\n"
        "write_report('python -c')\n"
    )
    run([sys.executable, "-c", code], launch_env(tmp_path))
    report = read_report(tmp_path)
    assert report["already_imported"], "SQLAlchemy (via the app) imports platform itself"
    assert_stdlib_platform(report)


def test_python_m_flask_routes(tmp_path):
    env = launch_env(tmp_path, PYTHONPATH=str(PROBES / "site"), LAYOUT_PROBE_MODE="python -m flask")
    result = run([sys.executable, "-m", "flask", "--app", "livc.app.wsgi:app", "routes"], env)
    assert "/healthz" in result.stdout
    assert "/<tenant_slug>/" in result.stdout
    report = read_report(tmp_path)
    assert report["mode"] == "python -m flask"
    assert_stdlib_platform(report)


# --- the tests -----------------------------------------------------------------------------------


PROBE_TEST = "tests/launch_probes/probe_stdlib_platform.py"


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["pytest"], id="pytest"),
        pytest.param([sys.executable, "-m", "pytest"], id="python -m pytest"),
    ],
)
def test_pytest_runs(tmp_path, command):
    if command == ["pytest"]:
        command = [script("pytest")]
    result = run([*command, "-q", "-p", "no:cacheprovider", PROBE_TEST], launch_env(tmp_path))
    assert "1 passed" in result.stdout, result.stdout
    # Only `python -m pytest` puts the working directory itself on sys.path.
    assert_stdlib_platform(read_report(tmp_path), repo_on_path=command[0] == sys.executable)


# --- gunicorn ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["gunicorn"], id="gunicorn"),
        pytest.param([sys.executable, "-m", "gunicorn"], id="python -m gunicorn"),
    ],
)
def test_gunicorn_worker(tmp_path, command):
    if command == ["gunicorn"]:
        command = [script("gunicorn")]
    port = free_port()
    log = tmp_path / "gunicorn.log"
    args = [
        *command,
        "--config", "tests/launch_probes/gunicorn_probe_conf.py",
        "--bind", f"127.0.0.1:{port}",
        "livc.app.wsgi:app",
    ]  # fmt: skip
    with log.open("wb") as output:
        server = subprocess.Popen(
            args, cwd=REPO, env=launch_env(tmp_path), stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        status = wait_for_healthz(f"http://127.0.0.1:{port}/healthz", server, log)
        assert status == 200
        deadline = time.monotonic() + 120
        while not (tmp_path / "probe.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        report = read_report(tmp_path)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert report["mode"] == "gunicorn"
    assert report["pid"] != server.pid, "the report must come from the worker, not the master"
    assert_stdlib_platform(report)


def wait_for_healthz(url: str, server: subprocess.Popen, log: Path) -> int:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(
                f"gunicorn stopped ({server.returncode}):\n{log.read_text()}", pytrace=False
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer {url} within 30 s:\n{log.read_text()}", pytrace=False)


# --- the wheel -----------------------------------------------------------------------------------

# Not part of a wheel build (and large: .tools holds binaries).
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".tools", "var", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", "node_modules", "*.mo", "*.pyc", "instance",
)  # fmt: skip
WHEEL_BUILD_BUDGET = 30  # seconds


def build_requirements_missing() -> str | None:
    """Why this environment cannot build without isolation (pyproject's build requires)."""
    try:
        version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return "setuptools is not installed"
    major = int(version.split(".")[0])
    if major < 75:
        return f"setuptools {version} is older than the build requirement setuptools>=75"
    try:
        metadata.version("babel")
    except metadata.PackageNotFoundError:
        return "babel is not installed"
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    missing = build_requirements_missing()
    if missing:
        pytest.skip(
            f"cannot build the wheel offline (--no-build-isolation): {missing}; "
            f"install the build requirements: {sys.executable} -m pip install 'setuptools>=75' babel"
        )
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "src"
    shutil.copytree(REPO, source, ignore=COPY_IGNORE, symlinks=True)
    # the stylesheet as `make install` built it (scripts/build-frontend.sh; the wheel ships it)
    shutil.copytree(REPO / "platform" / "static" / "build", source / "platform" / "static" / "build")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(folder / "dist"), "."],
        check=False, cwd=source, env=launch_env(folder), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"wheel build failed:\n{result.stdout}\n{result.stderr}"
    assert elapsed < WHEEL_BUILD_BUDGET, f"the wheel build took {elapsed:.0f} s"
    (built,) = (folder / "dist").glob("livc-*.whl")
    return built


def test_wheel_lists_the_namespace_subpackages(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "livc/app/factory.py",
        "livc/app/wsgi.py",
        "livc/platform/tenancy.py",
        "livc/tenants/cases/models.py",
        "livc/federation/custodian/service.py",
        "livc/admin/lifecycle/operations.py",
        "livc/migrations/env.py",
        "livc/migrations/versions/0001_foundation.py",
        "livc/migrations/script.py.mako",
        "livc/platform/translations/nl/LC_MESSAGES/messages.mo",
        "livc/platform/translations/fr/LC_MESSAGES/messages.mo",
        "livc/platform/translations/en/LC_MESSAGES/messages.mo",
        "livc/platform/templates/base.html",
        "livc/platform/templates/error.html",
        "livc/tenants/home/templates/tenants/landing.html",
        "livc/tenants/cases/templates/tenants/case_page.html",
        "livc/federation/templates/tenants/federation.html",
        "livc/platform/static/build/livc.css",
        "livc/platform/static/livc.js",
        "livc/platform/data/municipalities.csv",
    ):
        assert required in names, f"{required} is missing from {wheel.name}"
    for forbidden in (
        "livc/__init__.py",
        "livc/platform/__init__.py",
        "livc/tenants/__init__.py",
        "livc/federation/__init__.py",
        "livc/admin/__init__.py",
        "livc/app/__init__.py",
    ):
        assert forbidden not in names, f"{wheel.name} contains {forbidden}"
    # Nothing outside livc/ (a top-level platform/ would shadow the standard library).
    top_level = {name.split("/")[0] for name in names}
    assert {entry for entry in top_level if not entry.endswith(".dist-info")} == {"livc"}
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
        .decode()
    )
    assert "livc = livc.app.cli:main" in entry_points


def test_wheel_catalogues_are_compiled(wheel):
    """The .mo files are real catalogues holding the Dutch translations."""
    from babel.messages.mofile import read_mo

    data = zipfile.ZipFile(wheel).read("livc/platform/translations/nl/LC_MESSAGES/messages.mo")
    catalog = read_mo(io.BytesIO(data))
    assert catalog.get("Page not found").string == "Pagina niet gevonden"
