"""What a person sees in a real browser: the demo cell's landing page, languages, a 404 page,
and a coordinator signing in with password and authenticator code.

The app runs as ``livc demo`` in a subprocess (see ``browser_support``); Debian's chromium
renders it headless.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pyotp
import pytest

from browser_support import browser, demo_server, open_page, page, start_demo  # noqa: F401

pytestmark = pytest.mark.browser

LEUVEN = "/demo-leuven/"


def visible_text(page) -> str:  # noqa: F811 - a page, not the fixture
    return page.locator("body").inner_text()


def is_styled(page) -> bool:  # noqa: F811 - a page, not the fixture
    """The platform stylesheet (the design system, compiled) applies: it hides the skip link until
    it gets the focus, and gives the body the system's font instead of the browser's serif."""
    return page.evaluate(
        "getComputedStyle(document.querySelector('.govuk-skip-link')).position === 'absolute'"
        " && !getComputedStyle(document.body).fontFamily.startsWith('serif')"
        " && !getComputedStyle(document.body).fontFamily.startsWith('\"Times')"
    )


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
    assert page.get_by_role("navigation", name="Taal").locator("[aria-current=true]").inner_text() == "Nederlands"
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


# --- a signal's whole way through the cell -----------------------------------------------------

WEEK = 7


def sign_in_once(page, server, role: str) -> None:  # noqa: F811 - a page, not the fixture
    """Sign a demo member in (password, authenticator code, the undertaking if not accepted yet).

    The code is the next time step's (accepted: one step of clock drift), since the sign-in
    test above may have used the current step's code of the same member: codes work once.
    (So a later sign-in of the same member within a minute needs a later step's code.)
    """
    email, password, key = demo_login(server.output(), role)
    page.goto(server.url(f"{CELL}/home"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/sign-in/verify$"))
    page.get_by_label("Code").fill(pyotp.TOTP(key).at(time.time() + pyotp.TOTP(key).interval))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
    if "/undertaking" in page.url:
        page.get_by_label("I have read the house rules and accept the secrecy undertaking.").check()
        page.get_by_role("button", name="Accept").click()
    page.wait_for_url(server.url(f"{CELL}/home"))


def flash_text(page) -> str:  # noqa: F811 - a page, not the fixture
    return " ".join(page.locator("p.flash").all_inner_texts())


def test_a_signal_goes_through_weighing_case_plan_feedback_closure_and_erasure(demo, browser):  # noqa: F811
    """The issue's path in a real browser, in English: a CLB partner reports a signal, the
    coordinator proposes its weighing and the partner confirms it, which opens a case; the
    coordinator plans a measure, writes a note, has the feedback form to the Local Task Force
    approved by everyone taking part and released, proposes the closure, which the partner
    confirms, and erases the case. Each member signs in once and keeps their page."""
    today = date.today()
    observed = "Shows classmates videos glorifying an attack and says such violence is justified (fictional test)."
    given_names, family_name = "Lotte Maria", "Proefbrowser"
    national_number = "07.03.14-123.42"  # born 2007-03-14, serial 123: check 97 - (2070314123 mod 97)

    with (
        open_page(browser, locale="en-GB", screenshot_name="signal-to-erasure-partner") as partner,
        open_page(browser, locale="en-GB", screenshot_name="signal-to-erasure-coordinator") as coordinator,
    ):
        sign_in_once(partner, demo, "partner")
        sign_in_once(coordinator, demo, "coordinator")

        # 1. The partner reports a signal; forgetting the filter question is explained and
        #    nothing typed is lost.
        pages_of_the_cell = partner.get_by_role("navigation", name="Pages of the cell")
        pages_of_the_cell.get_by_role("link", name="Report a signal").click()
        partner.wait_for_url(re.compile(r"/signals/new$"))
        assert partner.locator("h1").inner_text() == "Report a signal"
        partner.get_by_label("What was observed").fill(observed)
        partner.get_by_label("Observed from").fill((today - timedelta(days=2 * WEEK)).isoformat())
        partner.get_by_label("Observed until").fill((today - timedelta(days=3)).isoformat())
        partner.get_by_role("group", name="Urgency").get_by_role("radio", name="Soon: within the week").check()
        partner.get_by_label("Given names").fill(given_names)
        partner.get_by_label("Family name").fill(family_name)
        partner.get_by_label("National number").fill(national_number)
        partner.get_by_role("button", name="Record the signal").click()

        partner.get_by_role("alert").wait_for()
        summary = partner.get_by_role("alert").inner_text()  # the error summary links to each field
        assert "There is a problem" in summary and "This field is required." in summary
        filter_question = partner.get_by_role("group", name="Was this first discussed within your own organisation?")
        assert "This field is required." in filter_question.locator(".field-error").inner_text()
        assert partner.get_by_label("What was observed").input_value() == observed
        assert partner.get_by_label("Family name").input_value() == family_name
        assert partner.get_by_role("radio", name="Soon: within the week").is_checked()
        partner.assert_clean(expected_statuses=(422,))

        filter_question.get_by_role("radio", name="Yes, it was discussed within the reporter's organisation first").check()
        partner.get_by_role("button", name="Record the signal").click()
        partner.wait_for_url(re.compile(r"/signals/\d+$"))
        reference = re.fullmatch(r"Signal (S-\d{4}-\d{3})", partner.locator("h1").inner_text()).group(1)
        assert f"Signal {reference} recorded." in flash_text(partner)
        assert "A person is named." in partner.locator("dd.person").inner_text()
        assert family_name not in partner.content()  # the identity is on the case page only
        partner.assert_clean()

        # 2. The coordinator finds it on the dashboard and proposes its weighing: open a case.
        coordinator.reload()
        coordinator.get_by_role("link", name=reference, exact=True).click()
        coordinator.wait_for_url(re.compile(r"/signals/\d+$"))
        assert observed in coordinator.locator("p.observation").inner_text()
        coordinator.get_by_role("link", name="Weigh this signal").click()
        coordinator.wait_for_url(re.compile(r"/signals/\d+/weigh$"))
        coordinator.get_by_role("group", name="Flag").get_by_role("radio", name=re.compile(r"^Red\b")).check()
        fact = coordinator.get_by_role(
            "group", name="Expresses support for violence in the name of an ideology, or glorifies it"
        )
        fact.get_by_role("checkbox").check()
        fact.get_by_label("What was observed").fill("Said in class that the attack was justified; two teachers heard it.")
        fact.get_by_label("Observed on").fill((today - timedelta(days=WEEK)).isoformat())
        assert coordinator.get_by_role("group", name="Who took part in the decision").count() == 0  # never typed
        coordinator.get_by_role("radio", name="Open a case in the cell").check()
        coordinator.get_by_label("Target group").select_option(label="Other violent extremism")
        coordinator.get_by_label("Kind of follow-up").select_option(label="Social follow-up")
        coordinator.get_by_role("group", name="Case team").get_by_role(
            "checkbox", name=re.compile(r"^Pieter Partner \(DEMO\)")
        ).check()
        coordinator.get_by_label("Rationale of the decision").fill("Concrete statements, heard by two teachers.")
        how = coordinator.get_by_role("group", name="How the cell decides")
        assert how.get_by_role("radio", name=re.compile(r"^Propose it")).is_checked()
        coordinator.get_by_role("button", name="Put the decision to the cell").click()
        coordinator.wait_for_url(re.compile(r"/signals/\d+$"))
        signal_url = coordinator.url
        assert f"The weighing of signal {reference} is proposed: it takes effect once another member confirms it." in (
            flash_text(coordinator))
        coordinator.assert_clean()

        # 2b. The partner confirms it from the decisions waiting: the case opens, with them in its team.
        partner.goto(demo.url(f"{CELL}/home"))
        partner.get_by_role("link", name="Confirm them, or see why they wait").click()
        partner.wait_for_url(re.compile(r"/decisions$"))
        partner.locator("table.decisions tr", has_text=reference).get_by_role("link", name="You may confirm it").click()
        partner.wait_for_url(re.compile(r"/decisions/\d+$"))
        assert "Ann Coördinator (DEMO): Proposed" in partner.locator(".decision-participants").inner_text()
        partner.get_by_role("button", name="Confirm").click()
        partner.wait_for_url(re.compile(r"/cases/\d+$"))
        case_url = partner.url
        code = partner.locator("h1").inner_text()
        assert re.fullmatch(r"LEU-\d{4}-\d{3}", code), code
        assert "You confirmed the decision: it is taken" in flash_text(partner)
        partner.assert_clean()

        coordinator.goto(signal_url)
        coordinator.get_by_role("link", name=code, exact=True).first.click()
        coordinator.wait_for_url(case_url)
        assert coordinator.locator("h1").inner_text() == code
        assert coordinator.locator(".case-summary .case-stage").inner_text() == "Case building"
        assert "Pieter Partner (DEMO)" in coordinator.locator("table.case-team").inner_text()
        assert family_name not in coordinator.content()
        assert given_names not in coordinator.content()
        coordinator.get_by_role("button", name="Show identity").click()
        coordinator.wait_for_url(re.compile(r"/cases/\d+/identity/reveal$"))
        identity = coordinator.locator("dl.case-identity").inner_text()
        assert family_name in identity and given_names in identity and national_number in identity
        coordinator.get_by_role("link", name="Back to the case").click()
        coordinator.wait_for_url(case_url)
        assert family_name not in coordinator.content()
        coordinator.assert_clean()

        # 3. A measure for the partner's organisation, due in two weeks, and a progress note.
        due = today + timedelta(days=2 * WEEK)
        # Every form of the case page opens on demand.
        coordinator.locator("#add-measure summary").click()
        coordinator.get_by_label("What is done").fill("The CLB talks with the pupil and the parents.")
        coordinator.get_by_label("Category").select_option(label="Education")
        coordinator.get_by_label("Responsible organisation").select_option(label="CLB (DEMO)")
        coordinator.get_by_label("Due date").fill(due.isoformat())
        coordinator.get_by_role("button", name="Add the measure").click()
        coordinator.wait_for_url(re.compile(r"/cases/\d+#plan$"))
        assert "The measure was added to the follow-up plan." in flash_text(coordinator)
        measure = coordinator.locator("table.case-measures tbody tr")
        assert measure.count() == 1
        assert "CLB (DEMO)" in measure.inner_text() and f"{due:%b} {due.day}, {due.year}" in measure.inner_text()
        assert "Stage now: Follow-up." in coordinator.locator("ol.case-timeline li.event-measure").inner_text()
        coordinator.locator("#add-note summary").click()
        coordinator.get_by_label("Note", exact=True).fill("First talk planned with the CLB next week.")
        coordinator.get_by_role("button", name="Add the note").click()
        coordinator.wait_for_url(re.compile(r"/cases/\d+#notes$"))
        assert "The note was added" in flash_text(coordinator)
        assert "First talk planned with the CLB next week." in coordinator.locator("article.case-note").inner_text()
        coordinator.assert_clean()

        # 4. The feedback form to the Local Task Force: every question answered, approved by
        #    the coordinator; no release is offered without the partner's approval.
        coordinator.locator("#start-feedback summary").click()
        coordinator.get_by_label("Yes, start a new feedback form for the Local Task Force.").check()
        coordinator.get_by_role("button", name="Start a feedback form").click()
        # (the start form posts to .../feedback#feedback: the browser keeps that fragment)
        coordinator.wait_for_url(re.compile(r"/cases/\d+/feedback/\d+/edit(#feedback)?$"))
        for question, answer in (
            ("How effective is the treatment (the follow-up so far)?", "Too early to say: the first talk is planned."),
            ("How willing is the person to cooperate?", "Willing to talk with the CLB."),
            ("Has the person taken distance from extremist ideas?", "Not yet."),
            ("Note on further follow-up", "The CLB follows the pupil at school."),
            ("Other elements: measures taken, recommendations", "A talk with the pupil and the parents."),
            ("Explanation of the answer above", "No sign of preparation of any act."),
        ):
            coordinator.get_by_label(question).fill(answer)
        coordinator.get_by_role("group", name="Is further follow-up by the cell useful?").get_by_role(
            "radio", name="Yes, further follow-up by the cell is useful"
        ).check()
        coordinator.get_by_role(
            "group", name="Is the person in a phase where they could move to terrorist acts?"
        ).get_by_role("radio", name="No", exact=True).check()
        coordinator.get_by_role("button", name="Save the answers").click()
        coordinator.wait_for_url(re.compile(r"/cases/\d+/feedback/\d+$"))
        feedback_url = coordinator.url
        assert "Not answered yet." not in coordinator.locator("dl.case-answers").inner_text()
        coordinator.get_by_role("button", name=re.compile(r"^Approve revision \d+$")).click()
        coordinator.wait_for_url(feedback_url)
        assert re.search(r"You approved revision \d+ of the feedback form\.", flash_text(coordinator))
        # No release is offered while the partner's approval is awaited: the form says whose it is.
        assert coordinator.get_by_role("link", name="Release to the information officer").count() == 0
        [awaited] = coordinator.locator(".case-approvals li.waiting").all_inner_texts()
        assert "Pieter Partner (DEMO) has not approved yet" in awaited
        coordinator.assert_clean()

        # 5. The partner opens the case from the list of cases and approves the form.
        partner.goto(demo.url(f"{CELL}/home"))  # (the partner is on the case page since confirming)
        pages_of_the_cell.get_by_role("link", name="Cases").click()
        partner.wait_for_url(re.compile(r"/cases$"))
        partner.get_by_role("link", name=code, exact=True).click()
        partner.wait_for_url(case_url)
        assert family_name not in partner.content()
        assert "Your approval is awaited." in partner.locator("table.case-feedback").inner_text()
        partner.get_by_role("link", name=re.compile(r"^Open the form")).click()
        partner.wait_for_url(feedback_url)
        partner.get_by_role("button", name=re.compile(r"^Approve revision \d+$")).click()
        partner.wait_for_url(feedback_url)
        assert re.search(r"You approved revision \d+ of the feedback form\.", flash_text(partner))
        assert "Pieter Partner (DEMO) approved" in partner.locator(".case-approvals").inner_text()
        partner.assert_clean()

        # 6. The coordinator releases the form, then closes the case: the open measure needs a note.
        coordinator.reload()
        coordinator.get_by_role("link", name="Release to the information officer").click()
        coordinator.wait_for_url(re.compile(r"/feedback/\d+/release$"))
        assert coordinator.locator(".case-release-faults").count() == 0
        coordinator.get_by_label("Yes, release this revision to the information officer.").check()
        coordinator.get_by_role("button", name="Release", exact=True).click()
        coordinator.wait_for_url(feedback_url)
        assert "The feedback form was released to the information officer" in flash_text(coordinator)
        assert "Released to the information officer on" in coordinator.locator("main").inner_text()
        coordinator.get_by_role("link", name="Back to the case").click()
        coordinator.wait_for_url(re.compile(r"/cases/\d+#feedback$"))
        coordinator.get_by_role("link", name="Close the case").click()
        coordinator.wait_for_url(re.compile(r"/cases/\d+/close$"))
        assert "The CLB talks with the pupil and the parents." in coordinator.locator(".case-open-measures").inner_text()
        coordinator.get_by_label("Reason").select_option(label="The goals of the follow-up plan are reached")
        coordinator.get_by_role("button", name="Close the case").click()
        coordinator.get_by_role("alert").wait_for()
        assert "Measures of the plan are still open: say why the case closes with them open" in (
            coordinator.locator("#e-note").inner_text()
        )
        assert coordinator.get_by_label("Note").get_attribute("aria-invalid") == "true"
        coordinator.assert_clean(expected_statuses=(422,))

        coordinator.get_by_label("Note").fill("The talks are enough; the CLB goes on as usual.")
        coordinator.get_by_role("button", name="Close the case").click()
        coordinator.wait_for_url(re.compile(r"/cases/\d+#closure$"))
        assert "Your proposal is recorded: it takes effect once another member confirms it." in flash_text(coordinator)
        assert coordinator.locator(".case-summary .case-stage").inner_text() != "Closed, reviews after closure"  # not yet
        coordinator.assert_clean()

        # 6b. The partner, in the case team, confirms the closure.
        partner.goto(demo.url(f"{CELL}/decisions"))
        partner.locator("table.decisions tr", has_text=code).get_by_role("link", name="You may confirm it").click()
        partner.wait_for_url(re.compile(r"/decisions/\d+$"))
        partner.get_by_role("button", name="Confirm").click()
        partner.wait_for_url(case_url)
        assert "You confirmed the decision: it is taken" in flash_text(partner)
        # The case page says the stage changed, to both (each saw the case before).
        assert "moved to the stage: Closed, reviews after closure" in partner.locator(".case-stage-news").inner_text()
        partner.assert_clean()

        coordinator.goto(case_url)
        assert "moved to the stage: Closed, reviews after closure" in coordinator.locator(".case-stage-news").inner_text()
        assert coordinator.locator(".case-summary .case-flag.flag-closed").count() == 1
        closure = coordinator.locator("#closure").inner_text()
        assert "The goals of the follow-up plan are reached" in closure
        assert "The talks are enough; the CLB goes on as usual." in closure
        after_closure = coordinator.locator("table.case-reviews tbody tr", has_text="Review after closure")
        assert after_closure.count() >= 1
        assert "Cancelled" in coordinator.locator("table.case-measures").inner_text()
        assert coordinator.locator(".case-summary .case-stage").inner_text() == "Closed, reviews after closure"
        coordinator.assert_clean()

        # 7. The coordinator erases the closed case now: gone from the list, its page is a 404.
        coordinator.get_by_role("link", name="Erase the case now").click()
        coordinator.wait_for_url(re.compile(r"/cases/\d+/erase$"))
        coordinator.get_by_label("Yes, erase this case and everything about the person now.").check()
        coordinator.get_by_role("button", name="Erase now").click()
        coordinator.wait_for_url(demo.url(f"{CELL}/cases"))
        assert f"Case {code} is erased" in flash_text(coordinator)
        assert coordinator.get_by_role("link", name=code, exact=True).count() == 0
        assert code not in coordinator.locator("table.cases").inner_text()
        response = coordinator.goto(case_url)
        assert response.status == 404
        assert "Page not found" in coordinator.locator("h1").inner_text()
        coordinator.assert_clean(expected_statuses=(404,))
