"""The container image's steps, proven without a Docker engine: build the wheel, install it in a
clean venv, and run every process of a deployment from that venv.

The Dockerfile builds the stylesheet (``scripts/build-frontend.sh``), then runs
``scripts/build-venv.sh`` (``pip wheel --no-deps``, a new venv, the wheel installed with its
dependencies), on the build context ``.dockerignore`` leaves. This test does the same on a copy
of the repository taken by those same patterns, then starts, from that venv, in another working
directory and with ``PYTHONPATH`` unset, as the image would:

- **web**: ``livc serve`` (gunicorn) answers ``/healthz``, a page in Dutch from the compiled
  catalogues, and the stylesheet the wheel ships;
- **worker**: ``livc worker`` runs a job ``livc jobs ping`` put on the test Redis, and
  ``livc relay --once`` passes over the job outbox;
- **cron**: ``livc cron`` registers its schedule in Redis and keeps running, as designed;
- **custodian**: ``livc custodian init``, ``clients add`` and ``serve`` answer ``/healthz`` and
  issue a token to the registered client;

then stops each, and checks after each that nothing was written into the venv (the image's root filesystem
is read-only; only ``/tmp`` and the data dir are writable).

The install fetches the dependencies with pip (PyPI, or the machine's pip configuration); pip's
cache makes a second run quick.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.redis  # worker and cron need the test Redis; every process gets it
START_TIMEOUT = 120  # seconds per process to answer; the machine is shared and loaded
BUILD_TIMEOUT = 900  # only a hung pip reaches it
# Variables that would let the repository leak into the installed processes.
PATH_VARIABLES = ("PYTHONPATH", "PYTHONSAFEPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONNOUSERSITE")


# --- the build, as the Dockerfile runs it ------------------------------------------------------


def docker_ignored() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``relative`` out of the context: root-anchored patterns, and
    ``**/`` ones at any depth (the only two forms .dockerignore uses here)."""
    for pattern in patterns:
        if pattern.startswith("**/"):
            name = relative.rsplit("/", 1)[-1]
            if fnmatch.fnmatchcase(name, pattern[3:]) or fnmatch.fnmatchcase(relative, pattern[3:]):
                return True
        elif fnmatch.fnmatchcase(relative, pattern):
            return True
    return False


def copy_context(destination: Path) -> None:
    patterns = docker_ignored()

    def ignore(folder: str, names: list[str]) -> set[str]:
        base = Path(folder).relative_to(REPO).as_posix()
        return {n for n in names if ignored(n if base == "." else f"{base}/{n}", patterns)}

    shutil.copytree(REPO, destination, ignore=ignore, symlinks=True)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LIVC_") and name not in PATH_VARIABLES and name != "VIRTUAL_ENV"
    }
    env.update(extra)
    return env


@dataclass
class Installed:
    venv: Path
    wheel: Path
    root: Path
    seconds: dict[str, float]

    @property
    def livc(self) -> str:
        return str(self.venv / "bin" / "livc")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("image")
    source = root / "src"
    copy_context(source)
    assert not (source / "platform" / "static" / "build").exists()
    assert not list(source.glob("platform/translations/*/LC_MESSAGES/messages.mo"))
    seconds = {}

    # Stage 1 (frontend): the stylesheet. npm's packages as `make install` fetched them (the
    # image's npm ci fetches the same, by the lock file).
    shutil.copytree(REPO / "platform" / "frontend" / "node_modules", source / "platform" / "frontend" / "node_modules",
                    symlinks=True)
    started = time.monotonic()
    frontend = subprocess.run(["bash", "scripts/build-frontend.sh"], cwd=source, env=clean_env(),
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    seconds["stylesheet"] = time.monotonic() - started
    assert frontend.returncode == 0, frontend.stderr
    shutil.rmtree(source / "platform" / "frontend" / "node_modules")  # not in the build stage

    # Stage 2 (build): the wheel and the venv, with the python this suite runs on.
    started = time.monotonic()
    build = subprocess.run(
        ["bash", "scripts/build-venv.sh", str(root / "venv"), str(root / "dist")],
        cwd=source, env=clean_env(PYTHON=sys.executable, PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip
    seconds["wheel and venv"] = time.monotonic() - started
    assert build.returncode == 0, f"{build.stdout}\n{build.stderr}"
    (wheel,) = (root / "dist").glob("livc-*.whl")
    print(f"\nimage steps: {', '.join(f'{k} {v:.1f} s' for k, v in seconds.items())}")
    return Installed(root / "venv", wheel, root, seconds)


# --- running the processes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Runtime:
    """The image's runtime, on this machine: the venv's livc, a working directory of its own,
    HOME and TMPDIR in the writable /tmp, the data dirs as volumes."""

    installed: Installed
    env: dict[str, str]
    cwd: Path
    logs: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.installed.livc, *args], cwd=self.cwd, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=START_TIMEOUT * 2, check=False,
        )  # fmt: skip

    @contextmanager
    def process(self, name: str, *args: str) -> Iterator[subprocess.Popen]:
        log = (self.logs / f"{name}.log").open("w")
        process = subprocess.Popen(
            [self.installed.livc, *args], cwd=self.cwd, env=self.env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=START_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)
            log.close()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def volumes(installed, tmp_path_factory) -> Path:
    """The writable places of the image (/tmp, the data dirs), shared by the module's
    processes as by a deployment's, with the database migrated once (``livc migrate``)."""
    root = tmp_path_factory.mktemp("volumes")
    for folder in ("run", "home", "tmp"):
        (root / folder).mkdir()
    migrated = subprocess.run(
        [installed.livc, "migrate"], cwd=root / "run", env=runtime_env(installed, root),
        capture_output=True, text=True, timeout=START_TIMEOUT * 2, check=False,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    return root


def runtime_env(installed: Installed, root: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        PATH=f"{installed.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        HOME=str(root / "home"),
        TMPDIR=str(root / "tmp"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        LIVC_ENV="development",
        LIVC_DATA_DIR=str(root / "data"),
        LIVC_CUSTODIAN_DATA_DIR=str(root / "custodian"),
        LIVC_SECRET_KEY="wheel-test-" + "k" * 32,
        LIVC_HOST="127.0.0.1",
        **extra,
    )


@pytest.fixture
def runtime(installed, volumes, tmp_path, redis_url) -> Runtime:
    env = runtime_env(installed, volumes, LIVC_REDIS_URL=redis_url,
                      LIVC_QUEUE_PREFIX=f"livc-wheel-{uuid.uuid4().hex[:8]}:")
    return Runtime(installed, env, volumes / "run", tmp_path)


def wait_for(check, what: str, process: subprocess.Popen, runtime: Runtime, name: str):
    """``check()``'s first truthy answer, polled until START_TIMEOUT; fails early when the
    process ended."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        assert process.poll() is None, f"{name} exited ({process.returncode}) before {what}:\n{runtime.log(name)}"
        time.sleep(0.25)
    pytest.fail(f"{name}: no {what} within {START_TIMEOUT} s:\n{runtime.log(name)}")


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes] | None:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def assert_install_untouched(installed: Installed) -> None:
    """The venv (the image's read-only root) holds exactly what pip installed: the process that
    just ran wrote nothing there (no bytecode, no state)."""
    site = next(installed.venv.glob("lib/python*/site-packages"))
    record = {
        line.split(",")[0]
        for path in site.glob("*.dist-info/RECORD")
        for line in path.read_text().splitlines()
    }
    written = sorted(
        path.relative_to(site).as_posix()
        for path in (site / "livc").rglob("*")
        if path.is_file() and path.relative_to(site).as_posix() not in record
    )
    assert not written, f"written into the install at run time: {written[:10]}"


# --- the wheel itself ----------------------------------------------------------------------------


def test_the_wheel_holds_the_compiled_catalogues_and_the_stylesheet(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for language in ("nl", "fr", "en"):
        assert f"livc/platform/translations/{language}/LC_MESSAGES/messages.mo" in names
    assert "livc/platform/static/build/livc.css" in names
    assert "livc/platform/static/build/govuk-frontend.min.js" in names
    assert not [name for name in names if name.startswith(("tests/", "livc/tests/"))]


# --- every process of a deployment, from the venv ---------------------------------------------


def test_web_serves_health_a_dutch_page_and_the_stylesheet(runtime):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with runtime.process("web", "serve", "--port", str(port), "--workers", "1") as web:
        status, _, body = wait_for(lambda: get(f"{base}/healthz"), "/healthz answer", web, runtime, "web")
        assert status == 200, body

        status, _, page = get(f"{base}/", {"Accept-Language": "nl"})
        assert status == 200
        html = page.decode()
        assert "<title>Welkom" in html, html[:500]  # the Dutch catalogue, compiled in the wheel
        assert 'lang="nl"' in html
        assert "/static/build/livc.css" in html

        status, headers, css = get(f"{base}/static/build/livc.css")
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        assert len(css) > 50_000 and b".govuk-" in css  # the compiled design system
    assert web.returncode == 0, runtime.log("web")
    assert "Traceback" not in runtime.log("web")
    assert_install_untouched(runtime.installed)


def test_worker_runs_a_job_and_the_relay_passes_over_the_outbox(runtime):
    with runtime.process("worker", "worker") as worker:
        ping = runtime.run("jobs", "ping", "--timeout", str(START_TIMEOUT))
        assert ping.returncode == 0, f"{ping.stderr}\n{runtime.log('worker')}"
        assert "worker answered" in ping.stdout
        # Not the repository's platform/ folder: the standard library's module.
        assert str(REPO) not in ping.stdout and "platform.py" in ping.stdout
        assert worker.poll() is None
        # The relay, once: it reads the job outbox and hands what is due to Redis.
        relayed = runtime.run("relay", "--once")
        assert relayed.returncode == 0 and "job(s) relayed" in relayed.stdout, relayed.stderr
    assert worker.returncode == 0, runtime.log("worker")
    assert_install_untouched(runtime.installed)


def test_cron_registers_its_schedule_and_keeps_running(runtime, redis_url):
    from redis import Redis

    connection = Redis.from_url(redis_url)
    prefix = runtime.env["LIVC_QUEUE_PREFIX"]

    def registered():
        return [key for key in connection.scan_iter("rq:cron_scheduler:*") if prefix.encode() in key]

    try:
        with runtime.process("cron", "cron") as cron:
            wait_for(registered, "schedule registered in Redis", cron, runtime, "cron")
            time.sleep(1)  # it stays up: a scheduler, not a one-off
            assert cron.poll() is None, runtime.log("cron")
        assert "Registered" in runtime.log("cron")
        assert_install_untouched(runtime.installed)
    finally:
        connection.close()


def test_custodian_starts_answers_health_and_issues_a_token(runtime):
    init = runtime.run("custodian", "init")
    assert init.returncode == 0, init.stderr
    secret = "wheel-test-client-" + "s" * 32
    added = runtime.run("custodian", "clients", "add", "livc-platform", "--secret-stdin", stdin=secret + "\n")
    assert added.returncode == 0, added.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with runtime.process("custodian", "custodian", "serve", "--port", str(port)) as custodian:
        status, _, body = wait_for(lambda: get(f"{base}/healthz"), "/healthz answer", custodian, runtime, "custodian")
        assert (status, json.loads(body)) == (200, {"status": "ok"})

        request = urllib.request.Request(
            f"{base}/oauth/token", method="POST",
            data=f"grant_type=client_credentials&client_id=livc-platform&client_secret={secret}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            token = json.loads(response.read())["access_token"]
        status, _, epochs = get(f"{base}/epochs", {"Authorization": f"Bearer {token}"})
        assert status == 200 and b"1" in epochs, epochs
    assert custodian.returncode == 0, runtime.log("custodian")
    assert_install_untouched(runtime.installed)
