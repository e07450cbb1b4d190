"""The case page as a member reads it: a summary first (the stage in words and what moves it on,
the flag, the next review, the team), sections reached from a list of links, forms that open on
demand, a timeline told oldest first with times, the stage's changes announced, and a closed
case that no longer offers to change it (HTTP, both backends; the layout at a phone's width in
a real browser at the end).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from tour import sign_in_as

from auth_helpers import give_session, post_form
from browser_support import REPO, WatchedPage, browser, demo_server  # noqa: F401 - the fixtures
from case_helpers import LEUVEN, confirm_latest, membership, open_case, ready_cell
from livc.app.demo import seed_demo
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.access import person_for
from livc.tenants.cases.models import Case, FeedbackStatus, LtfFeedback, Measure, Review, ReviewKind
from livc.tenants.cases.operations import stage_of
from livc.tenants.cases.timeline import last_stage_change, timeline
from livc.tenants.members.models import Membership
from livc.tenants.panels import TimelineEntry, case_events_wanted

EN = {"Accept-Language": "en"}
FORMS = ("add-team-member", "add-measure", "add-note", "hold-review", "start-feedback")


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


@pytest.fixture
def case(app, cell):
    """(id, code) of a case opened by weighing, with the partner (CLB) in its team."""
    return open_case(app, cell)


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def page(case_id: int) -> str:
    return f"/{LEUVEN}/cases/{case_id}"


def body_of(response) -> str:
    return response.get_data(as_text=True)


def details(body: str, name: str) -> str | None:
    """The opening tag of the <details> of form ``name``, or None when the page has none."""
    found = re.search(rf'<details id="{name}"[^>]*>', body)
    return found.group(0) if found else None


def section(body: str, name: str) -> str:
    return body.split(f'<section id="{name}"', 1)[1].split("</section>", 1)[0]


def timeline_items(body: str) -> list[tuple[str, str, str]]:
    """(kind, datetime attribute, text) of each line of the timeline, in the page's order."""
    timeline = body.split('<ol class="case-timeline">', 1)[1].split("</ol>", 1)[0]
    items = re.findall(r'<li class="event-([\w-]+)"[^>]*><time datetime="([^"]+)">(.*?)</li>', timeline, re.S)
    return [(kind, when, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()) for kind, when, text in items]


def organisation_of(app, cell, member) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        return membership(member).organisation_id


def add_measure(app, cell, coordinator, case_id: int, **values) -> int:
    data = {"description": "Talks with the pupil guidance counsellor",
            "organisation_id": organisation_of(app, cell, cell.partner), "category": "education", **values}
    assert post_form(coordinator, f"{page(case_id)}/measures", data, form_path=page(case_id)).status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        return db.session.scalars(sa.select(Measure.id).where(Measure.case_id == case_id).order_by(Measure.id.desc())).first()


def pending_review(app, cell, case_id: int) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        return db.session.scalars(
            sa.select(Review.id).where(Review.case_id == case_id, Review.held_on.is_(None)).order_by(Review.due_on)
        ).first()


def close(app, cell, coordinator, case_id: int, **values) -> None:
    """The coordinator proposes the closure, the partner in the team confirms it."""
    answer = post_form(coordinator, f"{page(case_id)}/close", {"reason": "goals_reached", **values})
    assert answer.status_code == 302, body_of(answer)
    confirm_latest(app, cell, cell.partner)


# --- the summary ---------------------------------------------------------------------------------


def test_the_summary_says_the_stage_in_words_and_what_moves_the_case_on(app, cell, case):
    case_id, code = case
    coordinator = client_for(app, cell.coordinator)
    body = body_of(coordinator.get(page(case_id), headers=EN))
    summary = body.split('class="case-summary"', 1)[1].split("</dl>", 1)[0]
    assert '<strong class="case-stage" data-stage="building">Case building</strong>' in summary
    assert "the case moves to follow-up when the coordinator adds the first measure" in summary
    assert 'class="case-flag flag-red"' in summary
    assert "Test partner" in summary or "partner" in summary.lower()  # the team, by name
    with app.app_context(), tenant_context(cell.tenant_id):
        due = db.session.get(Case, case_id).next_review_on
    assert f"{due:%b} {due.day}, {due.year}" in summary  # the next review, in the reader's language
    # The first measure moves the case on; the summary now says what comes next.
    add_measure(app, cell, coordinator, case_id)
    summary = body_of(coordinator.get(page(case_id), headers=EN)).split('class="case-summary"', 1)[1]
    assert 'data-stage="follow_up">Follow-up</strong>' in summary
    assert f"on {due:%b} {due.day}, {due.year} the review is due and the case moves to evaluation" in summary
    # In Dutch by default.
    dutch = body_of(coordinator.get(page(case_id)))
    assert "Opvolging" in dutch or "opvolging" in dutch


def test_the_sections_are_reached_from_a_list_of_links(app, cell, case):
    case_id, _code = case
    body = body_of(client_for(app, cell.partner).get(page(case_id), headers=EN))
    contents = body.split('<nav class="case-sections"', 1)[1].split("</nav>", 1)[0]
    for anchor in ("identity", "observed", "team", "plan", "notes", "reviews", "feedback", "decisions", "closure", "timeline"):
        assert f'href="#{anchor}"' in contents and f'<section id="{anchor}"' in body
    # The summary comes before every section.
    assert body.index('class="case-summary"') < body.index('<section id="identity"')


# --- forms on demand -----------------------------------------------------------------------------


def test_every_form_is_closed_until_asked_for(app, cell, case):
    case_id, _code = case
    body = body_of(client_for(app, cell.coordinator).get(page(case_id), headers=EN))
    for name in FORMS:
        tag = details(body, name)
        assert tag is not None and "govuk-details" in tag and " open" not in tag, (name, tag)
    # Each summary names its action.
    for action in ("Add a member to the case team", "Add a measure", "Add a progress note", "Hold the review due on",
                   "Start a feedback form"):
        assert re.search(rf'<span class="govuk-details__summary-text">\s*{action}', body), action
    # The partner in the team has the note's form only (and the status of their measures).
    partner = body_of(client_for(app, cell.partner).get(page(case_id), headers=EN))
    assert details(partner, "add-note") is not None
    assert all(details(partner, name) is None for name in FORMS if name != "add-note")


def test_a_refused_form_is_shown_open_with_what_was_typed(app, cell, case):
    case_id, _code = case
    coordinator = client_for(app, cell.coordinator)
    refused = post_form(coordinator, f"{page(case_id)}/measures", {"description": "Home visit with the OCMW"},
                        form_path=page(case_id), headers=EN)
    body = body_of(refused)
    assert refused.status_code == 422
    assert " open" in details(body, "add-measure")
    assert ">Home visit with the OCMW</textarea>" in body
    assert 'href="#add-measure"' in body  # the message at the top leads to the open form
    assert all(" open" not in details(body, name) for name in FORMS if name != "add-measure")
    # A note refused for want of its readers keeps its text too.
    note = post_form(client_for(app, cell.partner), f"{page(case_id)}/notes",
                     {"body": "Met the pupil at school.", "visibility": "nobody"}, form_path=page(case_id), headers=EN)
    assert note.status_code == 422 and " open" in details(body_of(note), "add-note")
    assert ">Met the pupil at school.</textarea>" in body_of(note)


# --- the timeline --------------------------------------------------------------------------------


def test_the_timeline_is_a_chronicle_oldest_first_with_date_and_time(app, cell, case):
    case_id, _code = case
    coordinator = client_for(app, cell.coordinator)
    add_measure(app, cell, coordinator, case_id)
    post_form(coordinator, f"{page(case_id)}/notes", {"body": "First talk held.", "visibility": "team"}, form_path=page(case_id))
    body = body_of(coordinator.get(page(case_id), headers=EN))
    assert "Oldest first" in section(body, "timeline")
    items = timeline_items(body)
    kinds = [kind for kind, _when, _text in items]
    assert kinds[:1] == ["signal"] and kinds.index("opened") < kinds.index("measure") < kinds.index("note")
    stamps = [when for _kind, when, _text in items]
    assert stamps == sorted(stamps)
    # Every event recorded to the minute shows its day and its time (Babel, Belgian time).
    today = datetime.now(ZoneInfo("Europe/Brussels")).date()  # the day in Belgian time, as the page shows it
    for kind, when, text in items:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", when), (kind, when)
        assert re.match(rf"{today:%b} {today.day}, {today.year} \d{{1,2}}:\d{{2}}\s?[AP]M ", text), text


def test_the_timeline_lists_every_kind_of_event_with_the_stage_it_led_to(app, cell, case):
    case_id, _code = case
    coordinator, partner = client_for(app, cell.coordinator), client_for(app, cell.partner)
    first = add_measure(app, cell, coordinator, case_id)
    second = add_measure(app, cell, coordinator, case_id, description="Mentoring by a youth worker")
    assert post_form(partner, f"{page(case_id)}/measures/{first}", {"status": "in_progress"}, form_path=page(case_id)).status_code == 302
    assert post_form(partner, f"{page(case_id)}/measures/{first}", {"status": "done"}, form_path=page(case_id)).status_code == 302
    post_form(partner, f"{page(case_id)}/notes", {"body": "Met the pupil; calm.", "visibility": "team"}, form_path=page(case_id))
    review = pending_review(app, cell, case_id)
    assert post_form(coordinator, f"{page(case_id)}/reviews/{review}",
                     {"outcome": "propose_closure", "summary": "Goals reached."}, form_path=page(case_id)).status_code == 302
    close(app, cell, coordinator, case_id, note="The mentoring goes on outside the cell.")
    after = pending_review(app, cell, case_id)
    assert post_form(coordinator, f"{page(case_id)}/reviews/{after}", {"outcome": "no_concern", "summary": "All well."},
                     form_path=page(case_id)).status_code == 302

    items = timeline_items(body_of(coordinator.get(page(case_id), headers=EN)))
    kinds = [kind for kind, _when, _text in items]
    for kind in ("signal", "weighing", "opened", "team_added", "measure", "measure_status", "note", "review", "closed",
                 "measure_cancelled"):
        assert kind in kinds, (kind, kinds)
    texts = [text for _kind, _when, text in items]
    assert sum("status now In progress" in text or "status now Done" in text for text in texts) == 2
    cancelled = [text for kind, _when, text in items if kind == "measure_cancelled"]
    assert len(cancelled) == 1 and "cancelled with the closure" in cancelled[0]
    assert second  # the measure left open is the one the closure cancelled
    assert any("Review of the follow-up held: Propose to close the case" in text for text in texts)
    assert any("Review after closure held: No new concern" in text for text in texts)
    assert kinds.index("closed") < kinds.index("measure_cancelled")
    # The events that moved the case on say to which stage.
    stages = [re.search(r"Stage now: ([^.]+)\.", text).group(1) for text in texts if "Stage now:" in text]
    assert stages == ["Case building", "Follow-up", "Closed, reviews after closure", "Closed"][:len(stages)]
    assert "Closed, reviews after closure" in stages and stages[0] == "Case building" and "Follow-up" in stages


def test_the_feedback_form_s_journey_is_in_the_chronicle(app, cell, case):
    case_id, _code = case
    coordinator = client_for(app, cell.coordinator)
    assert post_form(coordinator, f"{page(case_id)}/feedback", {"confirm": "yes"}, form_path=page(case_id)).status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):  # released and handed to the LTF (tested elsewhere)
        feedback = db.session.scalars(sa.select(LtfFeedback).where(LtfFeedback.case_id == case_id)).one()
        feedback.status, feedback.released_at = FeedbackStatus.RELEASED, utcnow()
        feedback.delivered_at = feedback.released_at + timedelta(hours=2)
        db.session.commit()
        db.session.remove()
    items = timeline_items(body_of(coordinator.get(page(case_id), headers=EN)))
    kinds = [kind for kind, _when, _text in items]
    assert kinds[-3:] == ["feedback_started", "feedback_released", "feedback_delivered"]
    assert "delivered to the Local Task Force by the information officer" in items[-1][2]


def test_what_the_federation_contributes_takes_its_place_in_the_chronicle(app, cell, case):
    case_id, _code = case
    at = utcnow()  # after the opening, before the measure below

    def confirmations(occasion, **_details):
        if occasion.case_id != case_id:
            return []
        return [TimelineEntry(at, "federation-joint", "Both cells confirmed the same person (test)")]

    case_events_wanted.connect(confirmations)
    try:
        coordinator = client_for(app, cell.coordinator)
        add_measure(app, cell, coordinator, case_id)
        items = timeline_items(body_of(coordinator.get(page(case_id), headers=EN)))
    finally:
        case_events_wanted.disconnect(confirmations)
    kinds = [kind for kind, _when, _text in items]
    assert kinds.index("opened") < kinds.index("federation-joint") < kinds.index("measure")
    joint = items[kinds.index("federation-joint")]
    assert joint[1] == at.strftime("%Y-%m-%dT%H:%M:%SZ") and "Both cells confirmed the same person (test)" in joint[2]


# --- the stage changes out loud ------------------------------------------------------------------


def test_a_stage_changed_by_a_joint_decision_is_announced_once(app, cell, case):
    case_id, _code = case
    coordinator, partner = client_for(app, cell.coordinator), client_for(app, cell.partner)
    assert "The stage changed" not in body_of(coordinator.get(page(case_id), headers=EN))
    partner.get(page(case_id))
    post_form(coordinator, f"{page(case_id)}/close", {"reason": "goals_reached"})
    # Proposed only: nothing moved yet.
    assert "The stage changed" not in body_of(coordinator.get(page(case_id), headers=EN))
    confirm_latest(app, cell, cell.partner)  # the partner confirms, on the decisions page
    body = body_of(coordinator.get(page(case_id), headers=EN))
    banner = body.split('class="govuk-notification-banner case-stage-news"', 1)[1].split('<div class="case-summary">', 1)[0]
    assert "The stage changed" in banner
    assert "Since your last visit, the case moved to the stage: Closed, reviews after closure." in banner
    assert "Case closed: The goals of the follow-up plan are reached" in banner
    # Said once: the next visit is quiet; the timeline keeps it.
    again = body_of(coordinator.get(page(case_id), headers=EN))
    assert "The stage changed" not in again
    closed = [text for kind, _when, text in timeline_items(again) if kind == "closed"]
    assert closed and "Stage now: Closed, reviews after closure." in closed[0]
    # The partner, who confirmed it on the decisions page, reads it on their next visit too.
    assert "Since your last visit, the case moved to the stage" in body_of(partner.get(page(case_id), headers=EN))


def test_the_first_measure_moves_the_case_on_and_the_page_says_so(app, cell, case):
    case_id, _code = case
    coordinator = client_for(app, cell.coordinator)
    coordinator.get(page(case_id))
    add_measure(app, cell, coordinator, case_id)
    body = body_of(coordinator.get(page(case_id), headers=EN))
    assert "Since your last visit, the case moved to the stage: Follow-up." in body
    assert "Measure added to the plan, for" in body.split("case-stage-news", 1)[1].split('<div class="case-summary">', 1)[0]


# --- a closed case -------------------------------------------------------------------------------


def test_a_closed_case_shows_its_next_review_after_closure_a_grey_flag_and_no_changes(app, cell, case):
    case_id, code = case
    coordinator = client_for(app, cell.coordinator)
    add_measure(app, cell, coordinator, case_id)
    close(app, cell, coordinator, case_id, note="Goals reached; the measure is no longer needed.")
    with app.app_context(), tenant_context(cell.tenant_id):
        first_after = db.session.scalars(
            sa.select(Review.due_on).where(Review.case_id == case_id, Review.kind == ReviewKind.AFTER_CLOSURE)
            .order_by(Review.due_on)
        ).first()
    body = body_of(coordinator.get(page(case_id), headers=EN))
    summary = body.split('class="case-summary"', 1)[1].split("</dl>", 1)[0]
    assert 'data-stage="aftercare"' in summary and "the cell reviews it again on" in summary
    next_review = summary.split('case-next-review">', 1)[1].split("</dd>", 1)[0]
    assert f"{first_after:%b} {first_after.day}, {first_after.year}" in next_review and "Review after closure" in next_review
    assert "—" not in next_review
    assert 'class="case-flag flag-closed"' in summary and "flag-red" not in body
    # Nothing offers to change the case any more, but what the law needs after closure.
    for gone in ("Change the case", "Add a measure", "Add a member to the case team", "Start a feedback form",
                 "/team/", ">Remove<", "Close the case</a>"):
        assert gone not in body, gone
    assert details(body, "hold-review") is not None and "Erase the case now" in body
    assert details(body, "add-note") is not None  # aftercare notes, for the reviews after closure
    assert "This case was closed on" in body

    # Once the last review after closure is held, it is just closed until its erasure.
    for _ in range(2):
        review = pending_review(app, cell, case_id)
        post_form(coordinator, f"{page(case_id)}/reviews/{review}", {"outcome": "no_concern", "summary": "All well."},
                  form_path=page(case_id))
    body = body_of(coordinator.get(page(case_id), headers=EN))
    assert 'data-stage="closed"' in body and "None: no review after closure is planned." in body
    assert "no review is planned; it is erased from" in body
    assert details(body, "add-note") is None and details(body, "hold-review") is None


def test_the_list_puts_closed_cases_after_open_ones_with_a_grey_flag(app, cell):
    closed_id, closed_code = open_case(app, cell)
    coordinator = client_for(app, cell.coordinator)
    close(app, cell, coordinator, closed_id)
    open_id, open_code = open_case(app, cell)
    assert closed_code < open_code  # by code alone, the closed case would come first
    listed = body_of(coordinator.get(f"/{LEUVEN}/cases", headers=EN))
    assert listed.index(open_code) < listed.index(closed_code)
    closed_row = listed.split(f'data-case="{closed_id}"', 1)[1].split("</tr>", 1)[0]
    open_row = listed.split(f'data-case="{open_id}"', 1)[1].split("</tr>", 1)[0]
    assert "flag-closed" in closed_row and "flag-red" not in closed_row and "flag-red" in open_row
    assert "(after closure)" in closed_row and "—" not in closed_row.split("</td>")[4]


# --- the demo's cases, told as they happened ------------------------------------------------------


def test_every_demo_case_s_timeline_ends_in_the_stage_the_case_is_in(app):
    """The chronicle replays the stage rule: on every demo case, at every stage, its last change
    of stage is the stage the case is in (and its opening starts it at case building)."""
    with app.app_context():
        tenants = [tenant.id for tenant in seed_demo(with_members=True)]
        seen = set()
        for tenant_id in tenants:
            with tenant_context(tenant_id):
                coordinator = db.session.scalars(sa.select(Membership).where(Membership.role == Role.COORDINATOR)).first()
                for case in db.session.scalars(sa.select(Case)):
                    events = timeline(person_for(coordinator), case)
                    assert [event.at for event in events] == sorted(event.at for event in events)
                    staged = [event for event in events if event.stage is not None]
                    assert staged[0].kind == "opened" and staged[0].stage.value == "building", case.code
                    assert last_stage_change(events).stage == stage_of(case), case.code
                    seen.add(stage_of(case).value)
        db.session.remove()
    assert seen == {"building", "follow_up", "evaluation", "aftercare", "closed"}


# --- at a phone's width ----------------------------------------------------------------------------

AXE = REPO / "platform" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
AXE_CHECK = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .map((v) => `${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`)"""


@pytest.mark.browser
def test_every_demo_case_page_reflows_at_360_px_with_its_forms_closed(browser, demo_server):  # noqa: F811
    """Each case of the demo cell, as its coordinator reads it on a phone: no sideways scroll, no
    violation of an axe-core rule, the summary first, every form closed until its summary is
    pressed."""
    context = browser.new_context(locale="en-BE", viewport={"width": 360, "height": 800})
    context.set_default_timeout(30_000)
    context.add_init_script(path=str(AXE))
    page = WatchedPage(context.new_page())
    try:
        sign_in_as(page, demo_server, LEUVEN, "coordinator")
        page.goto(demo_server.url(f"/{LEUVEN}/cases"))
        links = [demo_server.url(href) for href in page.locator("table.cases a[href*='/cases/']").evaluate_all(
            "links => links.map((a) => a.getAttribute('href'))")]
        assert len(links) >= 5
        for url in links:
            page.goto(url)
            width = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert width[0] <= width[1], f"{url} scrolls sideways at 360 px: {width}"
            assert page.locator("details.govuk-details[open]").count() == 0, url
            violations = page.evaluate(AXE_CHECK)
            assert violations == [], f"{url}: {violations}"
            assert page.locator(".case-summary .case-stage").is_visible()
            if page.locator("#add-note").count():
                assert not page.get_by_label("Note", exact=True).is_visible()
                page.locator("#add-note summary").click()
                assert page.get_by_label("Note", exact=True).is_visible()
                width = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
                assert width[0] <= width[1], f"{url} with the note's form open scrolls sideways: {width}"
        page.assert_clean()
    finally:
        context.close()
