"""Reusable pieces for browser tests: the real app in a subprocess, Debian's headless chromium.

A browser test module imports the fixtures it uses::

    from browser_support import browser, demo_server, page  # noqa: F401

and marks itself ``pytestmark = pytest.mark.browser``.

- ``demo_server``: ``livc demo`` started once per session from the repository root, with a
  fresh embedded database (migrated, both demo cells seeded); ``demo_server.url("/x/")``.
  A test that changes data starts its own with :func:`start_demo`.
- ``browser``: Debian's ``/usr/bin/chromium`` (``scripts/install-browser.sh``), headless,
  driven by Playwright; no browser build of Playwright's own is ever downloaded. Without
  chromium the tests skip with a reason, under ``CI=true`` they fail.
- ``page``: a new page in a fresh context (no cookies, browser language nl-BE); other
  languages with ``with open_page(browser, locale="fr-BE") as page:``. Console errors,
  uncaught script errors, Content-Security-Policy violations and failed requests are
  collected; ``page.assert_clean()`` checks there are none.

Set ``LIVC_TEST_SCREENSHOTS=<folder>`` to keep a full-page screenshot of the last state of
every ``page`` (named after the test).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_TIMEOUT = 180.0


# --- The app in a subprocess --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def console_script(name: str) -> Path:
    """A console script of this virtualenv (next to the running interpreter)."""
    script = Path(sys.executable).parent / name
    if not script.exists():
        pytest.fail(
            f"{script} is missing: install the project (pip install -e '.[dev]')", pytrace=False
        )
    return script


def clean_env(**livc_settings: str) -> dict[str, str]:
    """This process's environment without the developer's LIVC_* settings, plus ``livc_settings``.

    Keyword names are setting names: ``clean_env(data_dir="/tmp/x")`` sets ``LIVC_DATA_DIR``.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVC_")}
    env.update({f"LIVC_{name.upper()}": str(value) for name, value in livc_settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for_health(base_url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Poll ``/healthz`` until it answers 200; fail with the server's output if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the server stopped with status {process.returncode} before answering:\n"
                f"{log.read_text(errors='replace')}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                if response.status == 200 and json.load(response).get("status") == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    pytest.fail(
        f"{base_url}/healthz did not answer within {timeout:.0f} s:\n{log.read_text(errors='replace')}",
        pytrace=False,
    )


@dataclass
class Server:
    """A running app process: its base URL, process and output (stdout and stderr) file."""

    base_url: str
    process: subprocess.Popen
    log: Path

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(args: list[str], folder: Path, port: int, env: dict[str, str]) -> Server:
    """Start ``args`` from the repository root (output to ``folder``), wait for ``/healthz``."""
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            args,
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for_health(server.base_url, process, log, SERVER_START_TIMEOUT)
    except BaseException:
        server.stop()
        raise
    return server


def start_demo(folder: Path, **livc_settings: str) -> Server:
    """``livc demo`` on a free port: a fresh embedded database in ``folder``, migrated and seeded."""
    port = free_port()
    data = folder / "data"
    env = clean_env(data_dir=str(data), **{"env": "development", **livc_settings})  # the demo needs it said
    args = [str(console_script("livc")), "demo", "--host", "127.0.0.1", "--port", str(port)]
    return start_server(args, folder, port, env)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory) -> Iterator[Server]:
    """``livc demo`` (both demo cells, Dutch by default), shared by the session's browser tests.

    Tests must not change what other tests see; one that writes data starts its own server
    with :func:`start_demo`.
    """
    server = start_demo(tmp_path_factory.mktemp("demo-server"))
    yield server
    server.stop()


# --- The browser ---------------------------------------------------------------------------------


def require_chromium() -> None:
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"{CHROMIUM} is not installed: run scripts/install-browser.sh (as root)"
    if CI:
        pytest.fail(f"CI=true requires the browser: {message}", pytrace=False)
    pytest.skip(message)


_SHARED_BROWSER: dict = {}  # one Playwright and chromium for every module that imports the fixture


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, launched once per session (a fresh profile each launch).

    Each module importing this fixture gets its own session-scoped instance, but Playwright's
    sync API runs once per thread: they share one launch, closed when the last one ends.
    """
    require_chromium()
    if not _SHARED_BROWSER:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        _SHARED_BROWSER.update(playwright=playwright, browser=launched, users=0)
    _SHARED_BROWSER["users"] += 1
    yield _SHARED_BROWSER["browser"]
    _SHARED_BROWSER["users"] -= 1
    if _SHARED_BROWSER["users"] == 0:
        _SHARED_BROWSER["browser"].close()
        _SHARED_BROWSER["playwright"].stop()
        _SHARED_BROWSER.clear()


# Report CSP violations from inside the page too: the console message is the usual sign, the
# event carries the directive and the blocked address. The report goes straight to Python (a
# binding), so nothing is lost when the page navigates away.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__livcReportCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""
_CSP_MESSAGE = re.compile(r"Content Security Policy", re.IGNORECASE)
_LOAD_FAILED = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")


@dataclass(frozen=True)
class Located:
    """A problem and the address it concerns (the failed resource, for a failed load)."""

    text: str
    url: str

    def __str__(self) -> str:
        return f"{self.text} ({self.url})" if self.url else self.text


@dataclass
class PageProblems:
    console_errors: list[Located] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    failed_requests: list[Located] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"console error: {error}" for error in self.console_errors]
        lines += [f"script error: {error}" for error in self.page_errors]
        lines += [f"CSP violation: {violation}" for violation in self.csp_violations]
        lines += [f"request failed: {failure}" for failure in self.failed_requests]
        return "\n".join(lines)


class WatchedPage:
    """A Playwright page that records what goes wrong in it. Unknown attributes go to the page."""

    def __init__(self, page) -> None:
        self.page = page
        self.problems = PageProblems()
        self.documents: dict[str, int] = {}  # main-frame address -> status, for expected errors
        page.expose_function(
            "__livcReportCspViolation", lambda text: self.problems.csp_violations.append(text)
        )
        page.add_init_script(_CSP_LISTENER)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.page_errors.append(str(error)))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def __getattr__(self, name):
        return getattr(self.page, name)

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.console_errors.append(
                Located(message.text, message.location.get("url", ""))
            )
        if _CSP_MESSAGE.search(message.text):
            # Report-only violations and some blocked resources arrive as warnings.
            self.problems.csp_violations.append(message.text)

    def _request_failed(self, request) -> None:
        if "ERR_ABORTED" in (request.failure or "") and request.url.endswith("/static/favicon.svg"):
            # The browser fetches the icon on its own after the page; a click that leaves the
            # page first aborts it. That the icon is there is test_pages_have_a_favicon's job.
            return
        self.problems.failed_requests.append(
            Located(f"{request.method} failed: {request.failure}", request.url)
        )

    def _response(self, response) -> None:
        if response.request.is_navigation_request() and response.frame == self.page.main_frame:
            self.documents[response.url] = response.status

    def assert_clean(
        self, expected_statuses: tuple[int, ...] = (), ignore: tuple[str, ...] = ()
    ) -> None:
        """No console errors, script errors, CSP violations or failed requests so far.

        ``expected_statuses``: error statuses of pages the test opened on purpose (a 404 page);
        Chromium logs "Failed to load resource" for those documents, which is then expected.
        ``ignore``: regular expressions for the addresses of known, reported failures.
        """

        def expected(error: Located) -> bool:
            failed = _LOAD_FAILED.match(error.text)
            if failed is None:
                return False
            if any(re.search(pattern, error.url) for pattern in ignore):
                return True
            status = int(failed.group(1))
            return status in expected_statuses and self.documents.get(error.url) == status

        self.problems.console_errors = [e for e in self.problems.console_errors if not expected(e)]
        self.problems.failed_requests = [
            failure
            for failure in self.problems.failed_requests
            if not any(re.search(pattern, failure.url) for pattern in ignore)
        ]
        description = self.problems.describe()
        assert not description, f"problems in the page {self.page.url}:\n{description}"


@contextmanager
def open_page(
    browser, locale: str = "nl-BE", screenshot_name: str | None = None
) -> Iterator[WatchedPage]:
    """A new page in a fresh browser context (no cookies) whose browser prefers ``locale``."""
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(5_000)
    watched = WatchedPage(context.new_page())
    try:
        yield watched
    finally:
        folder = os.environ.get("LIVC_TEST_SCREENSHOTS")
        if folder and screenshot_name and not watched.page.is_closed():
            Path(folder).mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", screenshot_name)
            watched.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        context.close()


@pytest.fixture
def page(browser, request) -> Iterator[WatchedPage]:
    """A new page in a fresh context: no cookies, a Belgian Dutch-speaking browser (nl-BE).

    For another browser language use ``with open_page(browser, locale="fr-BE") as page:``.
    """
    with open_page(browser, screenshot_name=request.node.name) as watched:
        yield watched


# --- Signing in as a demo member -----------------------------------------------------------------

UNDERTAKING = "I have read the house rules and accept the secrecy undertaking."


def demo_login(output: str, cell: str, role: str) -> tuple[str, str, str]:
    """E-mail, password and authenticator key of a demo login of ``cell``, as ``livc demo``
    printed them (``server.output()``)."""
    password = re.search(r"password for all: (\S+)\)", output).group(1)
    line = re.search(rf"^\s+{re.escape(cell)}\s+{role}\s+(\S+)\s+key ([A-Z2-7]+)$", output, re.MULTILINE)
    return line.group(1), password, line.group(2)


def sign_in_demo(page, server: Server, cell: str, role: str) -> None:
    """Sign a demo member of ``cell`` in through the pages of an English-speaking browser:
    e-mail and password, the authenticator code, and the secrecy undertaking when asked.
    The code is the next time step's (accepted: one step of clock drift), so that another
    test's sign-in of the same member in this step does not spend it."""
    import pyotp

    email, password, key = demo_login(server.output(), cell, role)
    page.goto(server.url(f"/{cell}/home"))
    # Each page is left only once it loaded everything (its icon too): leaving earlier aborts
    # that request, which assert_clean() counts as a failure.
    page.wait_for_load_state("networkidle")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/sign-in/verify$"))
    page.wait_for_load_state("networkidle")
    totp = pyotp.TOTP(key)
    page.get_by_label("Code").fill(totp.at(time.time() + totp.interval))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
    if "/undertaking" in page.url:
        page.wait_for_load_state("networkidle")
        page.get_by_label(UNDERTAKING).check()
        page.get_by_role("button", name="Accept").click()
    page.wait_for_url(server.url(f"/{cell}/home"))
    page.wait_for_load_state("networkidle")
