"""The federation in a real browser: the two linked demo cells' coordinators find the alert
``livc demo`` left for the person both cells follow, in the order of revelation, and confirm it.

Each coordinator signs in in a browser context of their own (password, authenticator code,
the secrecy undertaking), in English. Leuven's cases were enrolled first, so Leuven hears first;
Herent-Kortenberg sees nothing until Leuven judged the alert worth checking. What they see: the
other cell's name and the strength of the match in words; once both confirmed, the other cell's
coordinator and a shared reference, once. What they never see: a score, the kinds of data that
agreed, the other cell's case code, a name, a date of birth or a national number.
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
    """From the cell's home page, through the pages' links, the way a coordinator finds them."""
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


def assert_nothing_technical(page) -> None:  # noqa: F811 - a page, not the fixture
    """Before both confirmed: no score, no kind of data that agreed."""
    text = page.locator("main").inner_text()
    assert "score" not in text.lower() and "What agreed" not in text and "date of birth" not in text


def test_the_earlier_cell_hears_first_and_both_confirm(demo, browser):  # noqa: F811
    with (
        open_page(browser, locale="en-GB", screenshot_name="federation-leuven") as leuven,
        open_page(browser, locale="en-GB", screenshot_name="federation-herko") as herko,
    ):
        # 1. Herent-Kortenberg's case is the newer one: its coordinator sees no alert.
        sign_in_demo(herko, demo, HERKO, "coordinator")
        open_alerts(herko, demo, HERKO)
        assert herko.locator("li.federation-alert").count() == 0
        assert herko.get_by_text("No alert waits for you.").count() == 1
        herko.assert_clean()

        # 2. Leuven's coordinator finds one alert waiting: the other cell named, the strength
        #    in words with what it means, nothing technical.
        sign_in_demo(leuven, demo, LEUVEN, "coordinator")
        open_alerts(leuven, demo, LEUVEN)
        alerts = leuven.locator("ul.waiting-alerts li.federation-alert")
        assert alerts.count() == 1
        alert = alerts.first
        assert f"A case of {NAMES[HERKO]} may concern the same person as your case" in alert.inner_text()
        leuven_code = own_case_code(alert)
        assert leuven_code.startswith("LEU-")
        strength = fact(alert, "Strength")
        assert re.match(r"(very strong|strong)\b", strength) and "same person" in strength
        assert fact(alert, "Your cell") == "not looked at yet"
        assert fact(alert, "The other cell").startswith("not told yet")
        assert_nothing_technical(leuven)
        assert_nothing_of_the_person(leuven)
        # On a phone the alert and its steps fit the screen: nothing to scroll sideways.
        leuven.set_viewport_size({"width": 360, "height": 740})
        assert leuven.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert alert.get_by_role("button", name="Confirm: the same person").is_visible()
        leuven.set_viewport_size({"width": 1280, "height": 800})
        leuven.assert_clean()

        # 3. Two different steps: worth checking tells Herent-Kortenberg; nothing is confirmed.
        alert.get_by_role("button", name=f"Worth checking: tell {NAMES[HERKO]}").click()
        arrive(leuven, demo.url(f"/{LEUVEN}/federation/alerts"))
        assert f"{NAMES[HERKO]} is told" in flash_text(leuven)
        alert = leuven.locator("ul.waiting-alerts li.federation-alert").first
        assert fact(alert, "Your cell") == "judged worth checking"
        assert alert.get_by_role("button", name=re.compile("Worth checking")).count() == 0
        # Confirming without the ticked box is refused, next to the box, and changes nothing.
        alert.get_by_role("button", name="Confirm: the same person").click()
        leuven.wait_for_load_state("networkidle")
        alert = leuven.locator("ul.waiting-alerts li.federation-alert").first
        assert "Tick the box to confirm" in alert.locator(".field-error").inner_text()
        assert fact(alert, "Your cell") == "judged worth checking"
        leuven.assert_clean(expected_statuses=(422,))  # the refused confirmation, and nothing else
        alert.get_by_label("I checked our case: it is the same person.").check()
        alert.get_by_role("button", name="Confirm: the same person").click()
        arrive(leuven, demo.url(f"/{LEUVEN}/federation/alerts"))
        assert f"Contact opens once {NAMES[HERKO]} confirms too." in flash_text(leuven)
        assert leuven.locator("ul.waiting-alerts").count() == 0
        assert leuven.locator("ul.theirs-alerts li.federation-alert").count() == 1
        assert "Shared reference" not in leuven.locator("main").inner_text()  # not before both confirm
        leuven.assert_clean()

        # 4. Herent-Kortenberg now has the alert, says who heard first, and confirms.
        open_alerts(herko, demo, HERKO)
        alert = herko.locator("ul.waiting-alerts li.federation-alert")
        assert alert.count() == 1
        assert f"A case of {NAMES[LEUVEN]} may concern the same person as your case" in alert.inner_text()
        assert f"{NAMES[LEUVEN]} heard of this alert first and judged it worth checking" in alert.inner_text()
        herko_code = own_case_code(alert)
        assert herko_code != leuven_code
        assert fact(alert, "The other cell") == "confirmed: the same person"
        assert_nothing_technical(herko)
        assert_nothing_of_the_person(herko, leuven_code)
        alert.get_by_label("I checked our case: it is the same person.").check()
        alert.get_by_role("button", name="Confirm: the same person").click()
        arrive(herko, demo.url(f"/{HERKO}/federation/alerts"))
        assert ("Both cells confirmed it is the same person: the other cell's coordinator can now be contacted."
                in flash_text(herko))
        assert herko.get_by_text("No alert waits for you.").count() == 1
        confirmed = herko.locator("ul.confirmed-alerts li.federation-alert")
        assert confirmed.count() == 1
        assert fact(confirmed, "Alert").startswith("confirmed by both cells")
        contact = confirmed.locator(".alert-contact").inner_text()
        reference = re.search(r"Shared reference: (FED-[0-9A-F]{8})", contact).group(1)
        assert f"Coordinator of {NAMES[LEUVEN]}:" in contact
        assert "Ann Coördinator (DEMO) <coordinator.leuven@demo.livc.example>" in contact
        assert herko.locator("main").inner_text().count(reference) == 1  # shown once
        assert_nothing_of_the_person(herko, leuven_code)
        herko.assert_clean()

        # 5. Leuven's coordinator now sees the same reference and Herent-Kortenberg's coordinator.
        leuven.reload()
        leuven.wait_for_load_state("networkidle")
        confirmed = leuven.locator("ul.confirmed-alerts li.federation-alert")
        assert confirmed.count() == 1 and leuven.locator("ul.theirs-alerts").count() == 0
        assert own_case_code(confirmed) == leuven_code
        contact = confirmed.locator(".alert-contact").inner_text()
        assert f"Shared reference: {reference}" in contact
        assert f"Coordinator of {NAMES[HERKO]}:" in contact
        assert "Bram Coördinator (DEMO) <coordinator.herko@demo.livc.example>" in contact
        assert_nothing_of_the_person(leuven, herko_code)
        leuven.assert_clean()
