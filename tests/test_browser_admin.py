"""Issue 6's "done when", in a real browser: an operator signs in (password and authenticator
code), onboards a new municipality, its coordinator takes up the invitation read from the
development outbox in a browser of their own (password, authenticator), and completes the set-up
wizard; the operator then sees every onboarding step done.

The pieces are module-level helpers and a module-scoped ``onboarded`` fixture, so that the
lifecycle's half (offboarding the same cell: the export opens, the report shows it gone) can
follow as a test of its own using them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pyotp
import pytest

from browser_support import Server, browser, open_page, start_demo  # noqa: F401

pytestmark = pytest.mark.browser

SLUG = "bertem"
CELL_NAME = "LIVC-R Bertem"
BERTEM = "24009"
COORDINATOR_EMAIL = "coordinator@bertem.example.test"
COORDINATOR_PASSWORD = "a long passphrase for Bertem"


@dataclass
class Login:
    """E-mail, password and authenticator key; ``code()`` gives a time step not used before."""

    email: str
    password: str
    key: str
    steps_used: set[int] = field(default_factory=set)

    def code(self) -> str:
        totp = pyotp.TOTP(self.key)
        while True:
            now = int(time.time() // 30)
            for step in (now, now + 1):  # one step of clock drift is accepted
                if step not in self.steps_used and all(step > used for used in self.steps_used):
                    self.steps_used.add(step)
                    return totp.at(step * 30)
            time.sleep(30 - time.time() % 30 + 0.5)


@dataclass
class Console:
    server: Server
    operator: Login
    coordinator: Login | None = None


def operator_login(output: str) -> Login:
    """The demo operator's sign-in, as ``livc demo`` printed it."""
    password = re.search(r"password for all: (\S+)\)", output).group(1)
    line = re.search(r"^\s+console\s+operator \(/admin/\)\s+(\S+)\s+key ([A-Z2-7]+)$", output, re.MULTILINE)
    return Login(line.group(1), password, line.group(2))


def sign_in_operator(page, console: Console) -> None:
    page.goto(console.server.url("/admin/"))
    assert page.url.startswith(console.server.url("/admin/sign-in"))
    page.get_by_label("E-mail address").fill(console.operator.email)
    page.get_by_label("Password").fill(console.operator.password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/admin/sign-in/verify$"))
    page.get_by_label("Code").fill(console.operator.code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(console.server.url("/admin/"))


def onboard_municipality(page, console: Console) -> None:
    page.get_by_role("link", name="Onboard a municipality or police zone").click()
    page.get_by_label("Kind of cell").select_option("municipality")
    page.get_by_label("Name of the cell").fill(CELL_NAME)
    page.get_by_label("Address", exact=True).fill(SLUG)
    page.get_by_label("Find a municipality").fill("bertem")
    page.get_by_role("button", name="Search").click()
    page.locator(f"#m-{BERTEM}").check()
    page.get_by_label("English").check()
    page.get_by_label("E-mail address of the cell coordinator").fill(COORDINATOR_EMAIL)
    page.get_by_role("button", name="Create the cell and invite its coordinator").click()
    page.wait_for_url(console.server.url(f"/admin/tenants/{SLUG}"))


def invitation_link(console: Console) -> str:
    """The link in the newest mail to the coordinator, read from the outbox folder."""
    folder = Path(console.server.output().split("mail: written to ", 1)[1].splitlines()[0].strip())
    for path in sorted(folder.glob("*.eml"), reverse=True):
        message = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        if message["To"] == COORDINATOR_EMAIL:
            body = message.get_content()
            assert CELL_NAME in body
            return re.search(rf"http://\S+/{SLUG}/invitation/\S+", body).group(0)
    raise AssertionError("no invitation in the outbox")


def accept_invitation(page, console: Console, link: str) -> None:
    """Set a password, enrol the authenticator, store the recovery codes: the new cell's
    coordinator lands on the set-up wizard, as the invitation mail promised."""
    page.goto(link)
    page.get_by_label("Your name as other members see it").fill("Bea Coordinator")
    page.get_by_label("Choose a password").fill(COORDINATOR_PASSWORD)
    page.get_by_label("Repeat the password").fill(COORDINATOR_PASSWORD)
    page.get_by_role("button", name="Accept the invitation").click()
    page.wait_for_url(re.compile(r"/sign-in/authenticator$"))
    key = page.locator("[data-totp-secret]").inner_text().strip()
    console.coordinator = Login(COORDINATOR_EMAIL, COORDINATOR_PASSWORD, key)
    page.get_by_label("Code from the app").fill(console.coordinator.code())
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("link", name="I have stored them, continue").click()
    page.wait_for_url(console.server.url(f"/{SLUG}/setup"))


def accept_undertaking(page) -> None:
    page.wait_for_url(re.compile(r"/undertaking"))
    page.get_by_label("I have read the house rules and accept the secrecy undertaking.").check()
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(re.compile(rf"/{SLUG}/home$"))


def follow(page, locator) -> None:
    """Click a link or button and wait until the page it leads to has loaded (stylesheets too)."""
    with page.expect_navigation(wait_until="load"):
        locator.click()
    page.wait_for_load_state("networkidle")  # the icon too, before the next page is asked for


def complete_wizard(page, console: Console) -> None:
    cell = console.server.url(f"/{SLUG}")
    assert page.url == f"{cell}/setup"
    assert page.locator('[data-done="no"]').count() == 4

    follow(page, page.get_by_role("link", name="Form of the cell chosen", exact=True))
    page.get_by_label("Form", exact=True).select_option("integrated")
    follow(page, page.get_by_role("button", name="Save the changes"))
    page.goto(f"{cell}/setup")
    follow(page, page.get_by_role("link", name="A table with a chair", exact=True))
    page.get_by_label("Kind of table").select_option("main")
    page.get_by_label("Name", exact=True).fill("Cell table")
    chair = page.get_by_label("Chair")
    chair.select_option(chair.locator("option", has_text="Bea Coordinator").get_attribute("value"))
    follow(page, page.get_by_role("button", name="Add the table"))
    page.goto(f"{cell}/setup")
    follow(page, page.get_by_role("link", name="Members invited", exact=True))
    page.get_by_label("E-mail address").fill("partner@bertem.example.test")
    page.get_by_label("Role").select_option("partner")
    follow(page, page.get_by_role("button", name="Send the invitation"))
    page.goto(f"{cell}/setup")
    follow(page, page.get_by_role("link", name="House rules published", exact=True))
    follow(page, page.get_by_role("button", name="Start a new draft"))
    page.get_by_label(re.compile("law of 30 July 2018", re.IGNORECASE)).check()
    follow(page, page.get_by_role("button", name="Save and publish…"))
    page.get_by_label("Yes, put this version in force.").check()
    follow(page, page.get_by_role("button", name="Publish"))
    page.goto(f"{cell}/setup")
    assert page.locator('[data-done="yes"]').count() == 4
    follow(page, page.get_by_role("button", name="Finish the set-up"))
    page.wait_for_url(f"{cell}/setup")
    assert page.locator('[data-setup="finished"]').count() == 1
    follow(page, page.get_by_role("link", name="To the cell's home page"))
    accept_undertaking(page)


@pytest.fixture(scope="module")
def console(tmp_path_factory, browser):  # noqa: F811
    """A demo of its own (onboarding writes data), with the demo operator's login."""
    server = start_demo(tmp_path_factory.mktemp("demo-console"))
    yield Console(server, operator_login(server.output()))
    server.stop()


@pytest.fixture(scope="module")
def onboarded(console, browser):  # noqa: F811
    """Bertem onboarded by the operator, its coordinator signed up and the wizard completed."""
    with open_page(browser, locale="en-GB", screenshot_name="admin-onboarding") as page:
        sign_in_operator(page, console)
        onboard_municipality(page, console)
        page.assert_clean()
    with open_page(browser, locale="en-GB", screenshot_name="admin-coordinator") as page:
        accept_invitation(page, console, invitation_link(console))
        complete_wizard(page, console)
        page.assert_clean()
    return console


def test_an_operator_onboards_a_municipality_whose_coordinator_completes_the_wizard(onboarded, browser):  # noqa: F811
    with open_page(browser, locale="en-GB", screenshot_name="admin-progress") as page:
        sign_in_operator(page, onboarded)
        page.goto(onboarded.server.url(f"/admin/tenants/{SLUG}"))
        assert page.locator("h1").inner_text() == CELL_NAME
        steps = page.locator("ol.steps li")
        assert steps.count() == 8
        assert page.locator('ol.steps li[data-done="yes"]').count() == 8
        text = page.locator("main").inner_text()
        assert "Bertem (24009)" in text
        assert "Cell table" not in text, "the operator sees that a table exists, not what it is"
        page.get_by_role("link", name="Platform health").first.click()
        row = page.locator(f'tr[data-tenant="{SLUG}"]')
        assert row.locator('[data-count="members"]').inner_text() == "1"
        assert row.locator('[data-count="cases"]').inner_text() == "0"
        page.assert_clean()


# --- the lifecycle's half: offboarding the same cell ------------------------------------------------

ARCHIVIST_EMAIL = "archief@bertem.example.test"
EXPORT_PASSPHRASE = "a passphrase only the archivist knows"


def export_link(console: Console) -> str:
    """The single-use export link in the mail to the municipality's designated person."""
    folder = Path(console.server.output().split("mail: written to ", 1)[1].splitlines()[0].strip())
    for path in sorted(folder.glob("*.eml"), reverse=True):
        message = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        if message["To"] == ARCHIVIST_EMAIL:
            body = message.get_content()
            assert CELL_NAME in body and "Cell table" not in body
            # Mailed by a job, so on LIVC_BASE_URL (the demo's default port): the path is the link.
            return console.server.url(re.search(r"http://[^/\s]+(/admin/export/\S+)", body).group(1))
    raise AssertionError("no export link in the outbox")


def test_the_operator_offboards_the_cell_the_municipality_gets_its_export_once_and_the_report_shows_it_gone(
    onboarded, browser  # noqa: F811
):
    import io
    import json

    import pyzipper

    with open_page(browser, locale="en-GB", screenshot_name="admin-offboarding") as page:
        sign_in_operator(page, onboarded)
        page.wait_for_load_state("networkidle")
        page.goto(onboarded.server.url(f"/admin/tenants/{SLUG}"))
        follow(page, page.get_by_role("link", name=f"Lifecycle of {CELL_NAME}"))
        page.get_by_label("E-mail address of the municipality's designated person").fill(ARCHIVIST_EMAIL)
        page.get_by_label(f"Type the cell's address ({SLUG}) to confirm").fill(SLUG)
        page.wait_for_load_state("networkidle")
        with page.expect_navigation(wait_until="load", timeout=60_000):  # every step runs (inline jobs)
            page.get_by_role("button", name="Offboard the cell").click()
        page.wait_for_load_state("networkidle")
        page.wait_for_url(onboarded.server.url(f"/admin/tenants/{SLUG}/lifecycle"))
        assert page.locator('[data-offboarding="done"]').count() == 1
        assert page.locator('tr[data-step][data-state="done"]').count() == 4
        assert page.locator('[data-export="pending"]').count() == 1
        page.assert_clean()

    with open_page(browser, locale="en-GB", screenshot_name="admin-export-download") as page:
        link = export_link(onboarded)
        page.goto(link)
        page.get_by_label("Passphrase (at least 12 characters)").fill(EXPORT_PASSPHRASE)
        page.get_by_label("The same passphrase again").fill(EXPORT_PASSPHRASE)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the export").click()
        data = Path(download.value.path()).read_bytes()
        page.assert_clean(ignore=(r"/admin/export/",))  # a download ends its navigation as "aborted"
    with open_page(browser, locale="en-GB") as page:
        assert page.goto(link).status == 410  # a second use
        assert "works once only" in page.locator("main").inner_text()
        page.assert_clean(expected_statuses=(410,))

    archive = pyzipper.AESZipFile(io.BytesIO(data))
    archive.setpassword(EXPORT_PASSPHRASE.encode())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["cell"] == {"slug": SLUG, "name": CELL_NAME}
    tables = json.loads(archive.read("tables/cell_tables.json"))["rows"]
    assert [row["name"] for row in tables] == ["Cell table"]  # what the coordinator set up, handed back
    members = json.loads(archive.read("members.json"))["members"]
    assert COORDINATOR_EMAIL in {member["email"] for member in members}

    with open_page(browser, locale="en-GB", screenshot_name="admin-offboarding-report") as page:
        sign_in_operator(page, onboarded)
        page.wait_for_load_state("networkidle")  # the console's icon too, before going on
        page.goto(onboarded.server.url(f"/admin/tenants/{SLUG}/lifecycle"))
        assert page.locator('[data-report="passed"]').count() == 1
        assert page.locator('[data-check][data-passed="yes"]').count() == 7
        assert page.locator('[data-check][data-passed="no"]').count() == 0
        assert page.locator('[data-export="downloaded"]').count() == 1
        assert page.locator('[data-status="offboarded"]').count() == 1
        page.assert_clean()
    with open_page(browser, locale="en-GB") as page:  # the cell is gone for its members
        assert page.goto(onboarded.server.url(f"/{SLUG}/sign-in")).status == 404
        page.assert_clean(expected_statuses=(404,))
