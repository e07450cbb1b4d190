"""What a person sees in a real browser: the demo cell's landing page, languages, a 404 page,
and a coordinator signing in with password and authenticator code.

The app runs as ``livc demo`` in a subprocess (see ``browser_support``); Debian's chromium
renders it headless.
"""

from __future__ import annotations

import re

import pyotp
import pytest
from browser_support import browser, demo_server, open_page, page, start_demo  # noqa: F401

pytestmark = pytest.mark.browser

LEUVEN = "/demo-leuven/"


def visible_text(page) -> str:  # noqa: F811 - a page, not the fixture
    return page.locator("body").inner_text()


def is_styled(page) -> bool:  # noqa: F811 - a page, not the fixture
    """The platform stylesheet applies (it sets the page background)."""
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    return background == "rgb(247, 248, 250)"


def test_demo_cell_landing_page_in_dutch_then_english(demo_server, page):  # noqa: F811
    response = page.goto(demo_server.url(LEUVEN))
    assert response.status == 200
    # The page is checked under the platform's CSP: no violations means it complies.
    assert "script-src 'self'" in response.headers["content-security-policy"]

    assert page.locator("h1").count() == 1
    assert page.locator("h1").inner_text() == "DEMO LIVC-R Leuven"
    assert page.title() == "DEMO LIVC-R Leuven · livc"
    assert page.locator("html").get_attribute("lang") == "nl"
    # The kind is shown in capitals (CSS); its words are the Dutch ones.
    assert page.locator("p.kind").is_visible()
    assert page.locator("p.kind").text_content() == "Gemeentelijke cel"
    assert is_styled(page)
    text = visible_text(page)
    municipality = page.locator("ul.municipalities li")
    assert municipality.count() == 1
    assert "Leuven" in municipality.inner_text()
    assert "NIS-code 24062" in municipality.inner_text()
    assert "beroepsgeheim" in text  # the professional secrecy notice
    # The cell works in Dutch and English only: no French on offer.
    assert page.locator("nav.languages [aria-current=true]").inner_text() == "Nederlands"
    assert page.get_by_role("link", name="Français").count() == 0
    page.assert_clean()

    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()

    assert page.url == demo_server.url(LEUVEN)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "DEMO LIVC-R Leuven"
    assert page.locator("p.kind").text_content() == "Municipal cell"
    assert "Gemeentelijke cel" not in page.locator("body").text_content()
    assert "NIS code 24062" in page.locator("ul.municipalities li").inner_text()
    assert page.get_by_role("link", name="Nederlands").count() == 1
    # The choice sticks: the next visit is in English too.
    page.goto(demo_server.url(LEUVEN))
    assert page.locator("p.kind").text_content() == "Municipal cell"
    page.assert_clean()


def test_dutch_is_the_default_for_a_browser_without_a_matching_language(demo_server, browser):  # noqa: F811
    with open_page(browser, locale="de-DE") as german:
        german.goto(demo_server.url(LEUVEN))
        assert german.locator("html").get_attribute("lang") == "nl"
        assert german.locator("p.kind").text_content() == "Gemeentelijke cel"
        german.assert_clean()


def test_unknown_cell_shows_a_proper_404_page(demo_server, page):  # noqa: F811
    response = page.goto(demo_server.url("/no-such-cell/"))
    assert response.status == 404
    assert "text/html" in response.headers["content-type"]

    assert page.locator("h1").inner_text() == "Pagina niet gevonden"
    assert page.title() == "Pagina niet gevonden · livc"
    text = visible_text(page)
    assert "Op dit adres is er geen cel." in text
    assert "404" in text
    for leak in ("Traceback", "Werkzeug", "NotFound", 'File "', "sqlalchemy", "jinja2"):
        assert leak not in text, f"the error page shows {leak!r}"
    assert not re.search(r"\.py\b", text)
    # A way back, and the page is styled (the stylesheet loaded under the CSP).
    assert is_styled(page)
    assert page.get_by_role("link", name=re.compile("startpagina", re.IGNORECASE)).count() == 1
    page.assert_clean(expected_statuses=(404,))


def test_pages_have_a_favicon(demo_server, page):  # noqa: F811
    """The page declares an icon that loads, and /favicon.ico (which browsers and tools ask
    for whatever the page says) does not fall through to tenant routing as a 404."""
    page.goto(demo_server.url(LEUVEN))
    declared = page.locator("link[rel~=icon]")
    assert declared.count() == 1
    icon = page.request.get(demo_server.url(declared.get_attribute("href")))
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/")
    fallback = page.request.get(demo_server.url("/favicon.ico"))
    assert fallback.status == 200
    assert fallback.headers["content-type"].startswith("image/")
    page.assert_clean()


def test_unknown_cell_error_page_gives_a_reference(demo_server, page):  # noqa: F811
    """The error page template shows a reference (the request id) to quote to support."""
    response = page.goto(demo_server.url("/no-such-cell/"))
    assert response.headers.get("x-request-id")
    assert "Referentie" in visible_text(page)


# --- signing in ----------------------------------------------------------------------------

CELL = "/demo-leuven"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo of its own: signing in writes sessions and audit entries."""
    server = start_demo(tmp_path_factory.mktemp("demo-sign-in"))
    yield server
    server.stop()


def demo_login(output: str, role: str) -> tuple[str, str, str]:
    """E-mail, password and authenticator key of a demo login, as ``livc demo`` printed them."""
    password = re.search(r"password for all: (\S+)\)", output).group(1)
    line = re.search(rf"^\s+demo-leuven\s+{role}\s+(\S+)\s+key ([A-Z2-7]+)$", output, re.MULTILINE)
    return line.group(1), password, line.group(2)


def test_a_coordinator_signs_in_with_password_and_authenticator_code(demo, browser):  # noqa: F811
    email, password, key = demo_login(demo.output(), "coordinator")
    with open_page(browser, locale="en-GB") as page:  # noqa: F811 - a page, not the fixture
        page.goto(demo.url(f"{CELL}/home"))
        assert page.url.startswith(demo.url(f"{CELL}/sign-in"))
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Continue").click()
        assert "The e-mail address or password is wrong" in page.locator("main").inner_text()
        assert page.get_by_label("E-mail address").input_value() == email  # kept
        page.assert_clean(expected_statuses=(401,))  # the refused attempt, and nothing else

        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(re.compile(r"/sign-in/verify$"))
        page.get_by_label("Code").fill(pyotp.TOTP(key).now())
        page.get_by_role("button", name="Sign in").click()

        page.wait_for_url(re.compile(r"/undertaking"))
        assert page.locator("h1").inner_text() == "House rules and secrecy undertaking"
        page.get_by_label("I have read the house rules and accept the secrecy undertaking.").check()
        page.get_by_role("button", name="Accept").click()

        page.wait_for_url(demo.url(f"{CELL}/home"))
        assert page.locator("h1").inner_text() == "DEMO LIVC-R Leuven"
        assert "Welcome, Ann Coördinator (DEMO) (Cell coordinator)." in page.locator("main").inner_text()
        assert page.get_by_role("link", name="Members of the cell").count() == 1
        cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
        assert cookies["livc_session"]["httpOnly"] and cookies["livc_session"]["sameSite"] == "Lax"
        page.assert_clean()

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/sign-in$"))
        page.goto(demo.url(f"{CELL}/home"))
        assert page.url.startswith(demo.url(f"{CELL}/sign-in"))
