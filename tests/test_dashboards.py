"""Each role's home page (issue 16): a work queue of what waits for this member.

The coordinator weighs, confirms, holds reviews, keeps the measures, the meetings and the feedback
forms going; a partner follows the measures of their organisation and their case teams, and
sees no case outside them (nor any other cell's); the information officer delivers the released
feedback forms to the Local Task Force and records its answers; the mayor reads the cell in
counts, without a single case code. On top, "What waits for you" counts each card's work and
links to it; an empty card says so in words.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from test_federation_pages import linked_with_alert

from auth_helpers import give_session
from case_helpers import HERKO, LEUVEN, membership, ready_cell, signal_values, weighed_and_confirmed
from livc.platform.db import db, tenant_context
from livc.platform.timeutil import utcnow
from livc.tenants.access import person_for
from livc.tenants.cases import operations as cases
from livc.tenants.cases.models import Case, CaseTeamMember, Review
from livc.tenants.cell.models import Table, TableKind, TableSeat
from livc.tenants.home.dashboard import dashboard
from livc.tenants.meetings import operations as meetings
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.signals.models import FollowUpKind
from livc.tenants.signals.operations import submit_signal

EN = {"Accept-Language": "en"}
ANSWERS = {
    "effectiveness": "The talks with the pupil guidance centre work well.",
    "cooperation": "Comes to every appointment.",
    "distance": "Says the video was a mistake; no new posts.",
    "further_follow_up": "useful",
    "further_note": "Until the end of the school year.",
    "other_elements": "Mentoring by a youth worker; school informed.",
    "terrorist_phase": "no",
    "phase_explanation": "No sign of preparation of any act.",
}


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


@pytest.fixture
def two(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN), ready_cell(app, cells[HERKO], HERKO)


# --- helpers -----------------------------------------------------------------------------------


def home(app, member) -> str:
    client = app.test_client()
    give_session(app, client, member)
    page = client.get(f"/{member.tenant_slug}/home", headers=EN)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def card(page: str, key: str) -> str:
    """The dashboard's card ``key`` (its HTML), or "" when the page has none."""
    found = re.search(rf'<section class="dash [^"]*" id="{key}".*?</section>', page, re.DOTALL)
    return found.group(0) if found else ""


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def waiting(page: str) -> dict[str, int]:
    """What "What waits for you" counts, card by card (each a link to its card)."""
    summary = card(page, "waits-for-you")
    return {key: int(count) for key, count in re.findall(
        r'data-waiting="([\w-]+)"><a class="govuk-link" href="#\1"><span class="figure">(\d+)</span>', summary)}


def line_of(html: str, code: str) -> str:
    """The list item of ``html`` that names ``code`` (its HTML)."""
    found = re.search(rf"<li[^>]*>(?:(?!</li>).)*{re.escape(code)}(?:(?!</li>).)*</li>", html, re.DOTALL)
    assert found, f"{code} is not listed"
    return found.group(0)


def open_case(app, cell, family_name: str, **weighing) -> tuple[int, str]:
    """A partner's signal about a person of their own, weighed into a case: (id, code)."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(cell.partner), signal_values(
            family_name=family_name, national_number=None, given_names="Test"))
        case_id = weighed_and_confirmed(cell, signal, **weighing)
        code = db.session.get(Case, case_id).code
        db.session.commit()
        db.session.remove()
    return case_id, code


def in_cell(app, cell, change) -> None:
    """Run ``change()`` inside the cell, as a request would, and commit."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        change()
        db.session.commit()
        db.session.remove()


def review_due(case_id: int, days: int) -> None:
    review = db.session.scalar(sa.select(Review).where(Review.case_id == case_id, Review.held_on.is_(None)))
    review.due_on = db.session.get(Case, case_id).next_review_on = date.today() + timedelta(days=days)


def organisation_of(member) -> int:
    return membership(member).organisation_id


def add_measure(cell, case_id: int, organisation_id: int, days: int | None) -> int:
    """The coordinator adds a measure for ``organisation_id``, due in ``days`` (None: no day)."""
    measure = cases.add_measure(db.session.get(Case, case_id), membership(cell.coordinator), {
        "organisation_id": organisation_id, "description": "A secret description of the measure", "category": "guidance",
        "due_on": date.today() + timedelta(days=days) if days is not None else None,
    })
    return measure.id


# --- the coordinator ---------------------------------------------------------------------------


def test_the_coordinator_sees_each_queue_counted_on_top_and_the_overdue_first_said_in_words(app, cell):
    late_id, late = open_case(app, cell, "Late")
    soon_id, soon = open_case(app, cell, "Soon")

    def arrange():
        review_due(late_id, -3)
        review_due(soon_id, 5)
        add_measure(cell, soon_id, organisation_of(cell.social), -2)
        submit_signal(membership(cell.partner), signal_values(urgency="urgent", family_name="Waiting"))

    in_cell(app, cell, arrange)

    page = home(app, cell.coordinator)

    assert waiting(page) == {"signals-to-weigh": 1, "reviews-due": 2, "measures-due": 1}
    reviews = card(page, "reviews-due")
    assert reviews.index(late) < reviews.index(soon)
    assert "Overdue" in line_of(reviews, late) and "Overdue" not in line_of(reviews, soon)
    assert "Overdue" in line_of(card(page, "measures-due"), soon)
    assert "Urgent: the coordinator acts today" in words(card(page, "signals-to-weigh"))
    assert "No decision waits for your confirmation." in words(card(page, "decisions-to-confirm"))
    assert "No feedback form waits for you." in words(card(page, "feedback-forms"))
    assert late in card(page, "cases-by-stage") and soon in card(page, "cases-by-stage")
    assert "A secret description" not in page
    assert "<table" not in page.split('class="dashboard"')[1].split("All pages")[0]  # lists reflow at 360 px
    assert page.index('class="dashboard"') < page.index("All pages") and "Is this person known to the cell?" in page


def test_the_signals_to_weigh_come_most_urgent_first_then_the_longest_waiting(app, cell):
    """Ten at most on the card: the urgent and the soon ones before any of the twelve normal
    ones, each urgency oldest first (read per urgency from its index, then merged)."""
    def arrange():
        partner = membership(cell.partner)
        for n, urgency in enumerate(["normal"] * 6 + ["soon", "urgent"] + ["normal"] * 6 + ["soon"]):
            signal = submit_signal(partner, signal_values(urgency=urgency, family_name=f"Waiting{n:02d}"))
            signal.received_at = utcnow() - timedelta(hours=100 - n)

    in_cell(app, cell, arrange)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        board = dashboard(person_for(membership(cell.coordinator)))
        shown = [(s.urgency.value, s.received_at) for s in board.open_signals]
    assert board.open_signals_count == 15
    assert [urgency for urgency, _ in shown] == ["urgent", "soon", "soon"] + ["normal"] * 7
    assert shown[1][1] < shown[2][1] and [day for _, day in shown[3:]] == sorted(day for _, day in shown[3:])
    assert shown[3][1] == min(day for urgency, day in shown if urgency == "normal")


def test_the_coordinator_is_told_when_the_cell_is_overdue_for_a_meeting(app, cell):
    case_id, _code = open_case(app, cell, "Weekly")  # flagged red: the table meets weekly

    def opened_ten_days_ago():
        db.session.get(Case, case_id).opened_at = utcnow() - timedelta(days=10)

    in_cell(app, cell, opened_ten_days_ago)

    page = home(app, cell.coordinator)

    assert waiting(page)["meetings"] == 1
    meetings_card = words(card(page, "meetings"))
    assert "Overdue" in meetings_card and "The cell is overdue" in meetings_card
    assert "Weekly: at least one case is problematic" in meetings_card


def test_the_coordinator_approves_then_releases_the_feedback_form(app, cell):
    case_id, code = open_case(app, cell, "Feedback")

    def started_and_approved_by_the_partner():
        case = db.session.get(Case, case_id)
        feedback = cases.start_feedback(case, membership(cell.coordinator), ANSWERS)
        cases.approve_feedback(case, feedback, membership(cell.partner))

    in_cell(app, cell, started_and_approved_by_the_partner)
    forms = card(home(app, cell.coordinator), "feedback-forms")
    assert "waiting for your approval" in line_of(forms, code)

    def approved_by_the_coordinator():
        case = db.session.get(Case, case_id)
        cases.approve_feedback(case, cases.feedback_of(case)[0], membership(cell.coordinator))

    in_cell(app, cell, approved_by_the_coordinator)
    page = home(app, cell.coordinator)
    forms = card(page, "feedback-forms")
    assert "ready to release" in line_of(forms, code) and f"/cases/{case_id}/feedback/" in forms
    assert waiting(page)["feedback-forms"] == 1


def test_the_match_alerts_waiting_for_the_coordinator_are_counted_on_top(app, two):
    leuven, _herko = two
    linked_with_alert(app, two)  # an alert on Leuven's case, for Leuven's coordinator to look at first

    page = home(app, leuven.coordinator)

    assert waiting(page)["federation-alerts"] == 1 and "Match alerts" in words(card(page, "waits-for-you"))
    assert "Match alerts waiting for you: 1." in page
    assert "federation-alerts" not in home(app, leuven.partner)


# --- a partner ---------------------------------------------------------------------------------


def test_a_partner_sees_the_measures_of_their_organisation_in_their_case_teams_and_nothing_else(app, cell, cells):
    ours_id, ours = open_case(app, cell, "Ours")  # the partner (CLB) is in its team
    other_id, other = open_case(app, cell, "Other", team_ids=[cell.social.membership_id])
    herko = ready_cell(app, cells[HERKO], HERKO)
    _elsewhere_id, elsewhere = open_case(app, herko, "Elsewhere")
    measure_ids = {}

    def plans():
        measure_ids["ours"] = add_measure(cell, ours_id, organisation_of(cell.partner), -1)
        measure_ids["later"] = add_measure(cell, ours_id, organisation_of(cell.partner), None)
        measure_ids["ocmw"] = add_measure(cell, ours_id, organisation_of(cell.social), 3)
        measure_ids["not_my_team"] = add_measure(cell, other_id, organisation_of(cell.partner), 3)
        review_due(ours_id, 10)

    in_cell(app, cell, plans)

    page = home(app, cell.partner)

    measures = card(page, "my-measures")
    assert f"measures/{measure_ids['ours']}" in measures and f"measures/{measure_ids['later']}" in measures
    assert f"measures/{measure_ids['ocmw']}" not in measures and f"measures/{measure_ids['not_my_team']}" not in measures
    assert measures.index(f"measures/{measure_ids['ours']}") < measures.index(f"measures/{measure_ids['later']}")
    assert "Overdue" in words(measures) and "no due date" in words(measures)
    assert "Test clb" in words(measures)
    teams = card(page, "case-teams")
    assert "next review due on" in line_of(teams, ours)
    assert waiting(page) == {"my-measures": 2, "case-teams": 1}
    assert other not in page and elsewhere not in page
    assert not card(page, "signals-to-weigh") and not card(page, "figures")
    assert "A secret description" not in page


def test_a_member_with_nothing_waiting_is_told_so_in_words(app, cell):
    page = home(app, cell.social)

    assert "Nothing waits for you now." in words(card(page, "waits-for-you")) and waiting(page) == {}
    assert "No open measure of your organisation in your case teams." in words(card(page, "my-measures"))
    assert "No case to follow." in words(card(page, "case-teams"))
    assert "No feedback form waits for your approval." in words(card(page, "feedback-to-approve"))
    assert "You have not recorded a signal yet." in words(card(page, "my-signals"))
    assert "No meeting planned that you are invited to." in words(card(page, "next-meeting"))


# --- the information officer -----------------------------------------------------------------


def test_the_information_officer_approves_delivers_then_records_the_answer_of_the_local_task_force(app, cell):
    team = [cell.partner.membership_id, cell.information_officer.membership_id]
    case_id, code = open_case(app, cell, "Police", follow_up_kind=FollowUpKind.MIXED, team_ids=team)

    def approved_by_the_others():
        case = db.session.get(Case, case_id)
        feedback = cases.start_feedback(case, membership(cell.coordinator), ANSWERS)
        for member in (cell.coordinator, cell.partner):
            cases.approve_feedback(case, feedback, membership(member))

    in_cell(app, cell, approved_by_the_others)
    page = home(app, cell.information_officer)
    assert waiting(page)["ltf-feedback"] == 1
    assert f"/cases/{case_id}/feedback/" in line_of(card(page, "ltf-feedback"), code)
    assert "No released feedback form waits to be delivered." in words(card(page, "ltf-feedback"))

    def approved_and_released():
        case = db.session.get(Case, case_id)
        feedback = cases.feedback_of(case)[0]
        cases.approve_feedback(case, feedback, membership(cell.information_officer))
        cases.release_feedback(case, feedback, membership(cell.coordinator))

    in_cell(app, cell, approved_and_released)
    to_deliver = card(home(app, cell.information_officer), "ltf-feedback")
    assert "Released on" in line_of(to_deliver, code) and "/ltf-feedback/" in to_deliver
    assert "No feedback form waits for your approval." in words(to_deliver)

    def delivered():
        case = db.session.get(Case, case_id)
        cases.deliver_feedback(case, cases.feedback_of(case)[0], membership(cell.information_officer), {})

    in_cell(app, cell, delivered)
    page = home(app, cell.information_officer)
    assert code not in card(page, "ltf-feedback")
    assert "delivered on" in line_of(card(page, "police-information"), code)
    assert waiting(page)["police-information"] == 1

    def answered():
        case = db.session.get(Case, case_id)
        cases.record_ltf_answer(case, cases.feedback_of(case)[0], membership(cell.information_officer),
                                {"answer": "The LTF keeps the person on its list."})

    in_cell(app, cell, answered)
    page = home(app, cell.information_officer)
    assert code not in card(page, "police-information") and "Nothing to record" in words(card(page, "police-information"))
    assert "The LTF keeps" not in page
    assert code in card(page, "case-teams")


def test_the_information_officer_sees_the_police_information_on_the_coming_agendas(app, cell):
    def planned_with_police_information():
        table = Table(kind=TableKind.MAIN, name="Main table", chair_membership_id=cell.coordinator.membership_id)
        db.session.add(table)
        db.session.flush()
        for member in cell.members():
            db.session.add(TableSeat(table_id=table.id, membership_id=member.membership_id))
        start = utcnow().replace(microsecond=0) + timedelta(days=3)
        coordinator = membership(cell.coordinator)
        meeting = meetings.plan_meeting(coordinator, {"table_id": table.id, "starts_at": start,
                                                      "ends_at": start + timedelta(hours=2), "place": "Town hall"})
        meetings.add_item(meeting, coordinator, person_for(coordinator),
                          {"title": "What the federal police report", "police_information": True})

    in_cell(app, cell, planned_with_police_information)

    officer = home(app, cell.information_officer)
    assert "What the federal police report" in words(card(officer, "police-information"))
    assert waiting(officer)["police-information"] == 1
    assert "What the federal police report" not in home(app, cell.partner)


def test_an_information_officer_without_a_valid_clearance_is_told_why_the_police_cards_are_empty(app, cell):
    def expired():
        db.session.get(Membership, cell.information_officer.membership_id).clearance_expires_on = (
            date.today() - timedelta(days=1))

    in_cell(app, cell, expired)

    page = home(app, cell.information_officer)

    for key in ("ltf-feedback", "police-information"):
        assert "Your security clearance is missing or expired" in words(card(page, key))
    assert "Every released feedback form" not in page


# --- the mayor ---------------------------------------------------------------------------------


def test_the_mayor_sees_the_years_key_figures_with_small_counts_hidden_and_no_case_code(app, cell):
    first_id, first = open_case(app, cell, "First")
    _second_id, second = open_case(app, cell, "Second")
    references = []

    def one_more_signal_and_a_plan():
        references.append(submit_signal(membership(cell.partner), signal_values(family_name="Third")).reference)
        add_measure(cell, first_id, organisation_of(cell.partner), 10)

    in_cell(app, cell, one_more_signal_and_a_plan)

    page = home(app, cell.mayor)

    figures = card(page, "figures")
    # Three signals and two cases: counts below five are shown as "< 5", as on the figures page.
    assert re.search(r'data-figure="signals_received"><span class="figure">&lt; 5</span> signals received in \d{4}', figures)
    assert re.search(r'data-figure="cases_opened"><span class="figure">&lt; 5</span> cases opened in', figures)
    assert re.search(r'data-figure="cases_active"><span class="figure">&lt; 5</span> cases followed now', figures)
    assert f'href="/{LEUVEN}/figures"' in figures
    for code in (first, second, references[0]):
        assert code not in page
    assert f"/{LEUVEN}/cases/" not in page.split('class="dashboard"')[1].split("All pages")[0]
    assert not card(page, "case-teams") and not card(page, "signals-to-weigh")


def test_a_measure_waits_for_every_member_of_its_organisation_in_the_case_team(app, cell):
    """A measure names an organisation, not a member: two CLB members of the team both see it,
    and neither sees another organisation's."""
    case_id, code = open_case(app, cell, "Shared")

    def clb_colleague_in_the_team():
        colleague = db.session.get(Membership, cell.social.membership_id)
        colleague.organisation_id = organisation_of(cell.partner)
        db.session.add(CaseTeamMember(case_id=case_id, membership_id=colleague.id))
        add_measure(cell, case_id, organisation_of(cell.partner), 5)
        other = Organisation(name="Another service", kind=membership(cell.partner).organisation.kind)
        db.session.add(other)
        db.session.flush()
        add_measure(cell, case_id, other.id, 5)

    in_cell(app, cell, clb_colleague_in_the_team)

    for member in (cell.partner, cell.social):
        measures = card(home(app, member), "my-measures")
        assert len(re.findall(r'data-measure="\d+"', measures)) == 1 and code in measures
