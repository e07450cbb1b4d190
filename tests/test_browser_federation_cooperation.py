"""Cooperation after a match, in a real browser (issue 15): from the alert on the coordinator's
home page to the shared thread and a hand-over, with the two demo cells ``livc demo`` linked.

Leuven's case about the shared person was enrolled first, so Leuven's coordinator hears first:
the alert is on Leuven's home page and not on Herent-Kortenberg's. Once Leuven judged it worth
checking it is on Herent-Kortenberg's home page too; both confirm; each case page then shows the
other cell, its coordinator and the shared reference, and its timeline the confirmations. The
coordinators write to each other in the shared thread. Then the person moves to Herent: Leuven
closes its case as "moved away" (a joint decision, confirmed by the partner in the case team),
chooses what travels, and Herent-Kortenberg's coordinator accepts the hand-over.

Every coordinator works in a browser context of their own, in English.
"""

from __future__ import annotations

import re

import pytest

from browser_support import browser, open_page, sign_in_demo, start_demo  # noqa: F401
from livc.app.demo_cases import STORIES

pytestmark = pytest.mark.browser

LEUVEN, HERKO = "demo-leuven", "demo-herko"
NAMES = {LEUVEN: "DEMO LIVC-R Leuven", HERKO: "DEMO zonale LIVC-R politiezone Herent-Kortenberg"}
COORDINATORS = {LEUVEN: "Ann Coördinator (DEMO)", HERKO: "Bram Coördinator (DEMO)"}
EMAILS = {LEUVEN: "coordinator.leuven@demo.livc.example", HERKO: "coordinator.herko@demo.livc.example"}
CONFIRM_BOX = "I checked our case: it is the same person."


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo of its own: the alert, the thread and the hand-over change what others would see."""
    server = start_demo(tmp_path_factory.mktemp("demo-cooperation"))
    yield server
    server.stop()


def arrive(page, url) -> None:  # noqa: F811 - a page, not the fixture
    page.wait_for_url(url)
    page.wait_for_load_state("networkidle")


def flash_text(page) -> str:  # noqa: F811 - a page, not the fixture
    return " ".join(page.locator("p.flash").all_inner_texts())


def home(page, server, cell: str):  # noqa: F811 - a page, not the fixture
    """The cell's home page; its federation panel (a locator, maybe empty)."""
    page.goto(server.url(f"/{cell}/home"))
    page.wait_for_load_state("networkidle")
    return page.locator("section.dash.federation-alerts")


def identity_texts() -> list[str]:
    texts = []
    for cell in (LEUVEN, HERKO):
        person = STORIES[cell]["shared"].person
        texts += [person.given_names, person.family_name, person.born.isoformat(), person.born.strftime("%d/%m/%Y")]
    return texts + ["Voorbeeld"]


def confirm_from_the_alerts_page(page, server, cell: str) -> None:  # noqa: F811 - a page, not the fixture
    alert = page.locator("ul.waiting-alerts li.federation-alert").first
    alert.get_by_label(CONFIRM_BOX).check()
    alert.get_by_role("button", name="Confirm: the same person").click()
    arrive(page, server.url(f"/{cell}/federation/alerts"))


def test_from_the_alert_on_the_home_page_to_the_thread_and_a_hand_over(demo, browser):  # noqa: F811
    with (
        open_page(browser, locale="en-GB", screenshot_name="cooperation-leuven") as leuven,
        open_page(browser, locale="en-GB", screenshot_name="cooperation-herko") as herko,
        open_page(browser, locale="en-GB", screenshot_name="cooperation-leuven-partner") as partner,
    ):
        # 1. The earlier cell's coordinator sees the alert on the home page; the newer one does not.
        sign_in_demo(herko, demo, HERKO, "coordinator")
        assert home(herko, demo, HERKO).count() == 0
        sign_in_demo(leuven, demo, LEUVEN, "coordinator")
        panel = home(leuven, demo, LEUVEN)
        assert "Match alerts waiting for you: 1." in panel.inner_text()
        waiting = panel.locator("ul.federation-waiting-alerts li")
        assert waiting.count() == 1
        assert re.search(rf"(very strong|strong) match with a case of {re.escape(NAMES[HERKO])}", waiting.inner_text())
        leuven_code = waiting.get_by_role("link").inner_text()
        assert leuven_code.startswith("LEU-")
        leuven.assert_clean()

        # 2. One click to the alert; Leuven judges it worth checking, which tells Herent-Kortenberg.
        waiting.get_by_role("link").click()
        leuven.wait_for_url(re.compile(r"/federation/alerts#alert-\d+$"))
        alert = leuven.locator("ul.waiting-alerts li.federation-alert")
        assert alert.count() == 1
        alert.get_by_role("button", name=f"Worth checking: tell {NAMES[HERKO]}").click()
        arrive(leuven, demo.url(f"/{LEUVEN}/federation/alerts"))
        leuven.assert_clean()

        # 3. Now Herent-Kortenberg's coordinator has it on the home page.
        panel = home(herko, demo, HERKO)
        assert "Match alerts waiting for you: 1." in panel.inner_text()
        herko_code = panel.locator("ul.federation-waiting-alerts li").get_by_role("link").inner_text()
        assert herko_code.startswith("HER") and herko_code != leuven_code
        assert leuven_code not in herko.content()

        # 4. Both confirm; each case page shows the other cell, its coordinator and the reference.
        leuven.goto(demo.url(f"/{LEUVEN}/federation/alerts"))
        confirm_from_the_alerts_page(leuven, demo, LEUVEN)
        panel.locator("ul.federation-waiting-alerts li").get_by_role("link").click()
        herko.wait_for_url(re.compile(r"/federation/alerts#alert-\d+$"))
        confirm_from_the_alerts_page(herko, demo, HERKO)
        assert "Both cells confirmed it is the same person" in flash_text(herko)
        herko.assert_clean()

        references = {}
        for page, cell, other, code in ((leuven, LEUVEN, HERKO, leuven_code), (herko, HERKO, LEUVEN, herko_code)):
            panel = home(page, demo, cell)
            assert "Confirmed: cooperation with another cell" in panel.inner_text()
            panel.get_by_role("link", name=code).click()
            page.wait_for_url(re.compile(r"/cases/\d+$"))
            page.wait_for_load_state("networkidle")
            cooperation = page.locator("section.federation-cooperation")
            assert cooperation.locator("dd.linked-cell").inner_text() == NAMES[other]
            assert f"{COORDINATORS[other]} <{EMAILS[other]}>" in cooperation.locator("dd.other-coordinators").inner_text()
            references[cell] = cooperation.locator("dd.shared-reference").inner_text()
            assert re.fullmatch(r"FED-[0-9A-F]{8}", references[cell])
            timeline = page.locator("ol.case-timeline")
            assert timeline.locator("li.event-federation-confirmed").count() == 2
            joint = timeline.locator("li.event-federation-joint").inner_text()
            assert re.match(r"\w{3} \d{1,2}, \d{4} \d{1,2}:\d{2}\s[AP]M Both cells confirmed the same person", joint)
            assert references[cell] in joint
            text = page.locator("body").inner_text()
            assert not any(secret in text for secret in identity_texts())
            page.assert_clean()
        assert references[LEUVEN] == references[HERKO]

        # 5. The shared thread: Leuven starts it from the alert and writes; Herent-Kortenberg answers.
        leuven.goto(demo.url(f"/{LEUVEN}/federation/alerts"))
        confirmed = leuven.locator("ul.confirmed-alerts li.federation-alert")
        confirmed.get_by_role("button", name=f"Start the cooperation with {NAMES[HERKO]}").click()
        leuven.wait_for_url(re.compile(r"/federation/cooperation/thread\?thread=\d+$"))
        leuven.wait_for_load_state("networkidle")
        leuven.get_by_label("Your message").fill("We follow him since last month. Can we call tomorrow?")
        leuven.get_by_role("button", name=f"Send to {NAMES[HERKO]}").click()
        leuven.wait_for_load_state("networkidle")
        assert "Your message was sent to the other cell." in flash_text(leuven)
        leuven.assert_clean()

        herko.goto(demo.url(f"/{HERKO}/federation/alerts"))
        herko.locator("ul.confirmed-alerts li.federation-alert").get_by_role(
            "link", name=re.compile(f"Cooperation with {re.escape(NAMES[LEUVEN])}")).click()
        herko.wait_for_url(re.compile(r"/federation/cooperation/thread\?thread=\d+$"))
        herko.wait_for_load_state("networkidle")
        assert "We follow him since last month. Can we call tomorrow?" in herko.locator("ol.thread-entries").inner_text()
        herko.get_by_label("Your message").fill("Yes, at ten. Our street worker met him at the station.")
        herko.get_by_role("button", name=f"Send to {NAMES[LEUVEN]}").click()
        herko.wait_for_load_state("networkidle")
        herko.assert_clean()
        leuven.reload()
        entries = leuven.locator("ol.thread-entries").inner_text()
        assert "We follow him since last month." in entries and "Yes, at ten." in entries
        assert COORDINATORS[HERKO] in entries

        # 6. The person moves to Herent: Leuven proposes closing as "moved away" ...
        leuven.goto(demo.url(f"/{LEUVEN}/home"))
        home(leuven, demo, LEUVEN).get_by_role("link", name=leuven_code).click()
        leuven.wait_for_url(re.compile(r"/cases/\d+$"))
        case_url = leuven.url
        leuven.get_by_role("link", name="Close the case").click()
        leuven.wait_for_url(re.compile(r"/cases/\d+/close$"))
        leuven.get_by_label("Reason").select_option(label="Moved away: another cell takes over")
        moved_to = leuven.get_by_label("Moved to (only when the person moved away)")
        leuven.get_by_label("Reason").select_option(label="The goals of the follow-up plan are reached")
        assert moved_to.is_hidden()  # it matters for "moved away" only
        leuven.get_by_label("Reason").select_option(label="Moved away: another cell takes over")
        moved_to.select_option(label="Herent")
        leuven.get_by_label("Note").fill("He moved to Herent with his family.")
        leuven.get_by_role("button", name="Close the case").click()
        leuven.wait_for_url(re.compile(r"/cases/\d+#closure$"))
        assert "it takes effect once another member confirms it" in flash_text(leuven)
        leuven.assert_clean()

        # ... the partner in the case team confirms the closure ...
        sign_in_demo(partner, demo, LEUVEN, "partner")
        partner.goto(demo.url(f"/{LEUVEN}/decisions"))
        partner.locator("table.decisions tr", has_text=leuven_code).get_by_role("link", name="You may confirm it").click()
        partner.wait_for_url(re.compile(r"/decisions/\d+$"))
        partner.get_by_role("button", name="Confirm").click()
        partner.wait_for_url(case_url)
        assert "You confirmed the decision: it is taken" in flash_text(partner)
        partner.assert_clean()

        # ... which proposes the hand-over to Herent-Kortenberg; Leuven chooses what travels.
        leuven.goto(case_url)
        leuven.wait_for_load_state("networkidle")
        handover = leuven.locator("section.case-handover")
        assert NAMES[HERKO] in handover.inner_text() and "Herent" in handover.inner_text()
        handover.get_by_role("link", name="Choose what it receives").click()
        leuven.wait_for_url(re.compile(r"/cases/\d+/handover$"))
        leuven.get_by_label("A summary for the other cell").fill("Talks with a prevention worker; he took part willingly.")
        leuven.get_by_role("button", name="Send the hand-over").click()
        leuven.wait_for_load_state("networkidle")
        assert "The hand-over was sent." in flash_text(leuven)
        leuven.assert_clean()

        # 7. Herent-Kortenberg's coordinator accepts it and reads the summary.
        herko.goto(demo.url(f"/{HERKO}/federation/cooperation"))
        herko.locator("ul.handovers-received li").get_by_role("link").click()
        herko.wait_for_url(re.compile(r"/federation/handover\?handover=\d+$"))
        herko.wait_for_load_state("networkidle")
        assert f"{NAMES[LEUVEN]} followed a person who moved to Herent" in herko.locator("p.handover-what").inner_text()
        herko.get_by_role("button", name="Accept the hand-over").click()
        herko.wait_for_load_state("networkidle")
        assert "The hand-over is accepted" in flash_text(herko)
        assert "waiting for the cell to weigh it together" in herko.locator("p.handover-signal").inner_text()
        # What travelled is on the signal, and nowhere else in the cell.
        herko.locator("p.handover-signal").get_by_role("link").click()
        herko.wait_for_url(re.compile(r"/signals/\d+$"))
        herko.wait_for_load_state("networkidle")
        assert "Talks with a prevention worker; he took part willingly." in herko.locator("main").inner_text()
        herko.assert_clean()
