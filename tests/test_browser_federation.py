"""The federation in a real browser: the two linked demo cells' coordinators find the alert
``livc demo`` left them for the person both cells follow, and confirm it from both sides.

Each coordinator signs in in a browser context of their own (password, authenticator code,
the secrecy undertaking), in English. What they see: the other cell's name, the strength of
the match and the kinds of data that agree, in words; once both confirmed, the other cell's
coordinator and a shared reference. What they never see: the other cell's case code, a name,
a date of birth or a national number.
"""

from __future__ import annotations

import re

import pytest

from browser_support import browser, open_page, sign_in_demo, start_demo  # noqa: F401
from livc.app.demo_cases import STORIES

pytestmark = pytest.mark.browser

LEUVEN, HERKO = "demo-leuven", "demo-herko"
NAMES = {LEUVEN: "DEMO LIVC-R Leuven", HERKO: "DEMO zonale LIVC-R politiezone Herent-Kortenberg"}
CASE_CODE = re.compile(r"^[A-Z]+-\d{4}-\d{3}$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo of its own: confirming alerts changes what other tests would see."""
    server = start_demo(tmp_path_factory.mktemp("demo-federation"))
    yield server
    server.stop()


def identity_texts() -> list[str]:
    """Everything the cells hold about the shared person, as each office wrote it."""
    texts = []
    for cell in (LEUVEN, HERKO):
        person = STORIES[cell]["shared"].person
        texts += [person.given_names, person.family_name, person.born.isoformat(), person.born.strftime("%d/%m/%Y"),
                  person.address, person.address.split(",")[0]]
        if person.national_number:
            texts += [person.national_number, re.sub(r"\D", "", person.national_number)]
    texts.append("Voorbeeld")  # the family name's core, however it is written
    return texts


def arrive(page, url: str) -> None:  # noqa: F811 - a page, not the fixture
    """Wait for the page at ``url`` and everything it loads (its icon too: leaving a page
    while it loads would abort that request and count as a failure)."""
    page.wait_for_url(url)
    page.wait_for_load_state("networkidle")


def flash_text(page) -> str:  # noqa: F811 - a page, not the fixture
    return " ".join(page.locator("p.flash").all_inner_texts())


def open_alerts(page, server, cell: str) -> None:  # noqa: F811 - a page, not the fixture
    """From the cell's home page, the way a coordinator finds them."""
    page.goto(server.url(f"/{cell}/home"))
    page.get_by_role("navigation", name="Pages of the cell").get_by_role("link", name="Links with other cells").click()
    arrive(page, server.url(f"/{cell}/federation"))
    page.get_by_role("link", name="Match alerts").click()
    arrive(page, server.url(f"/{cell}/federation/alerts"))
    assert page.locator("h1").inner_text() == "Match alerts"


def fact(alert, term: str) -> str:
    """The value next to ``term`` in the alert's facts."""
    return alert.locator(f"dl.alert-facts dt:text-is('{term}') + dd").inner_text()


def own_case_code(alert) -> str:
    code = alert.locator("p.alert-what a").inner_text()
    assert CASE_CODE.match(code), code
    return code


def assert_nothing_of_the_person(page, other_code: str | None = None) -> None:  # noqa: F811
    text = page.locator("body").inner_text()
    html = page.content()
    for secret in identity_texts():
        assert secret not in text and secret not in html, f"the page shows {secret!r}"
    if other_code:
        assert other_code not in html, "the page shows the other cell's case code"


def test_both_coordinators_confirm_the_shared_persons_alert(demo, browser):  # noqa: F811
    with (
        open_page(browser, locale="en-GB", screenshot_name="federation-leuven") as leuven,
        open_page(browser, locale="en-GB", screenshot_name="federation-herko") as herko,
    ):
        # 1. Leuven's coordinator finds one new alert: the other cell named, the strength and
        #    what agrees in words, no value.
        sign_in_demo(leuven, demo, LEUVEN, "coordinator")
        open_alerts(leuven, demo, LEUVEN)
        alerts = leuven.locator("ul.open-alerts li.federation-alert")
        assert alerts.count() == 1
        alert = alerts.first
        assert f"A case of {NAMES[HERKO]} may be the same person as your case" in alert.inner_text()
        leuven_code = own_case_code(alert)
        assert leuven_code.startswith("LEU-")
        assert re.fullmatch(r"(very )?strong \(score \d+\)", fact(alert, "Strength"))  # never "weak"
        agreeing = fact(alert, "What agrees")
        assert agreeing.startswith("names and full date of birth; first given name, family name and full date of birth")
        assert "national number" not in agreeing  # Herent-Kortenberg never learnt it
        assert fact(alert, "Your cell") == "new" and fact(alert, "The other cell") == "new"
        assert leuven.get_by_text("No open alerts.").count() == 0
        assert_nothing_of_the_person(leuven)
        leuven.assert_clean()

        # 2. ... acknowledges it, then confirms it is the same person.
        alert.get_by_role("button", name="Acknowledge").click()
        arrive(leuven, demo.url(f"/{LEUVEN}/federation/alerts"))
        assert "The alert is acknowledged." in flash_text(leuven)
        alert = leuven.locator("ul.open-alerts li.federation-alert").first
        assert fact(alert, "Your cell") == "acknowledged"
        assert alert.get_by_role("button", name="Acknowledge").count() == 0
        alert.get_by_role("button", name="Confirm: the same person").click()
        arrive(leuven, demo.url(f"/{LEUVEN}/federation/alerts"))
        assert "You confirmed it is the same person." in flash_text(leuven)
        alert = leuven.locator("ul.open-alerts li.federation-alert").first
        assert fact(alert, "Your cell") == "confirmed: the same person"
        assert fact(alert, "The other cell") == "new"
        assert "You confirmed it is the same person; waiting for the other cell." in alert.inner_text()
        assert alert.get_by_role("button", name="Confirm: the same person").count() == 0
        assert "Shared reference" not in leuven.locator("main").inner_text()  # not before both confirm
        leuven.assert_clean()

        # 3. Herent-Kortenberg's coordinator, in a browser of their own, sees Leuven's
        #    confirmation and confirms too.
        sign_in_demo(herko, demo, HERKO, "coordinator")
        open_alerts(herko, demo, HERKO)
        alert = herko.locator("ul.open-alerts li.federation-alert")
        assert alert.count() == 1
        assert f"A case of {NAMES[LEUVEN]} may be the same person as your case" in alert.inner_text()
        herko_code = own_case_code(alert)
        assert herko_code != leuven_code
        assert fact(alert, "Your cell") == "new" and fact(alert, "The other cell") == "confirmed: the same person"
        assert fact(alert, "What agrees") == agreeing  # the same words on both sides
        assert_nothing_of_the_person(herko, leuven_code)
        alert.get_by_role("button", name="Confirm: the same person").click()
        arrive(herko, demo.url(f"/{HERKO}/federation/alerts"))
        assert ("Both cells confirmed it is the same person: the other cell's coordinator can now be contacted."
                in flash_text(herko))
        assert herko.get_by_text("No open alerts.").count() == 1
        closed = herko.locator("ul.closed-alerts li.federation-alert")
        assert closed.count() == 1
        assert fact(closed, "Alert").startswith("confirmed by both cells")
        contact = closed.locator(".alert-contact").inner_text()
        reference = re.search(r"Shared reference: (FED-[0-9A-F]{8})", contact).group(1)
        assert f"Coordinator of {NAMES[LEUVEN]}:" in contact
        assert "Ann Coördinator (DEMO) <coordinator.leuven@demo.livc.example>" in contact
        assert_nothing_of_the_person(herko, leuven_code)
        herko.assert_clean()

        # 4. Leuven's coordinator now sees the same reference and Herent-Kortenberg's coordinator.
        leuven.reload()
        assert leuven.get_by_text("No open alerts.").count() == 1
        closed = leuven.locator("ul.closed-alerts li.federation-alert")
        assert closed.count() == 1
        assert own_case_code(closed) == leuven_code
        contact = closed.locator(".alert-contact").inner_text()
        assert f"Shared reference: {reference}" in contact
        assert f"Coordinator of {NAMES[HERKO]}:" in contact
        assert "Bram Coördinator (DEMO) <coordinator.herko@demo.livc.example>" in contact
        assert_nothing_of_the_person(leuven, herko_code)
        leuven.assert_clean()
