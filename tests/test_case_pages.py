"""The case pages as a coordinator and the members of a cell use them (HTTP, both backends).

The rules themselves are tested in tests/test_cases.py; here: who reaches which page, what a
page shows (never the identity, except on the deliberate reveal), what a refused form says
and leaves unchanged, and what the audit trail records of every view.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session, post_form
from case_helpers import LEUVEN, OBSERVATION, confirm_latest, membership, open_case, ready_cell
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.tenants.cases.models import (
    Case,
    CaseStatus,
    LtfFeedback,
    Measure,
    MeasureStatus,
    ProgressNote,
    Review,
    ReviewOutcome,
)

EN = {"Accept-Language": "en"}
NAME = "Van den Berghe"
PROPOSED = "Your proposal is recorded: it takes effect once another member confirms it."
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
def case(app, cell):
    """(id, code) of a case opened by weighing, with the partner (CLB) in its team."""
    return open_case(app, cell)


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def page(case_id: int) -> str:
    return f"/{LEUVEN}/cases/{case_id}"


def text(response) -> str:
    return response.get_data(as_text=True)


def trail(app, cell, action: str | None = None) -> list[AuditEntry]:
    with app.app_context(), tenant_context(cell.tenant_id):
        query = sa.select(AuditEntry).order_by(AuditEntry.seq)
        if action:
            query = query.where(AuditEntry.action == action)
        entries = db.session.scalars(query).all()
        db.session.expunge_all()
        return entries


def load(app, cell, model, record_id: int):
    with app.app_context(), tenant_context(cell.tenant_id):
        record = db.session.get(model, record_id)
        db.session.expunge_all()
        return record


def rows(app, cell, model, **where) -> list:
    with app.app_context(), tenant_context(cell.tenant_id):
        found = db.session.scalars(sa.select(model).filter_by(**where).order_by(model.id)).all()
        db.session.expunge_all()
        return found


def add_measure(app, cell, coordinator, case_id: int, organisation_of, **values) -> Measure:
    with app.app_context(), tenant_context(cell.tenant_id):
        organisation_id = membership(organisation_of).organisation_id
    data = {"description": "Talks with the pupil guidance counsellor", "organisation_id": organisation_id,
            "category": "education", **values}
    answer = post_form(coordinator, f"{page(case_id)}/measures", data, form_path=page(case_id))
    assert answer.status_code == 302 and answer.headers["Location"].endswith("#plan"), text(answer)
    return rows(app, cell, Measure, case_id=case_id)[-1]


# --- reading -----------------------------------------------------------------------------------


def test_the_coordinator_and_the_partner_in_the_team_read_the_case_page_by_code_only(app, cell, case):
    case_id, code = case
    for member in (cell.coordinator, cell.partner):
        client = client_for(app, member)
        listed = client.get(f"/{LEUVEN}/cases", headers=EN)
        assert listed.status_code == 200 and code in text(listed) and NAME not in text(listed)
        shown = client.get(page(case_id), headers=EN)
        body = text(shown)
        assert shown.status_code == 200 and code in body
        assert "Case team" in body and "Follow-up plan" in body and "Timeline" in body and "Show identity" in body
        assert NAME not in body and "lodie" not in body and "Bondgenotenlaan" not in body
        assert shown.headers["Cache-Control"] == "no-store"
    # The partner sees no coordinator's tools.
    partner_page = text(client_for(app, cell.partner).get(page(case_id), headers=EN))
    assert "Add a measure" not in partner_page and "Close the case" not in partner_page
    coordinator_page = text(client_for(app, cell.coordinator).get(page(case_id), headers=EN))
    assert "Add a measure" in coordinator_page and "Close the case" in coordinator_page


def test_a_partner_outside_the_case_team_reaches_nothing_of_it(app, cell, case):
    case_id, code = case
    social = client_for(app, cell.social)
    assert code not in text(social.get(f"/{LEUVEN}/cases", headers=EN))
    assert social.get(page(case_id)).status_code == 403
    csrf = _token(social)  # the social partner has no form of the case to take a token from
    assert social.post(f"{page(case_id)}/identity/reveal", data={"csrf_token": csrf, "reveal": "yes"}).status_code == 403
    assert social.post(f"{page(case_id)}/notes", data={"csrf_token": csrf, "body": "x", "visibility": "team"}).status_code == 403
    assert rows(app, cell, ProgressNote, case_id=case_id) == []
    assert trail(app, cell, "case.identity_revealed") == []
    denied = trail(app, cell, "access.denied")
    assert len(denied) == 3 and all(entry.subject == f"case:{case_id}" for entry in denied)


def _token(client) -> str:
    return client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]


def test_every_view_of_the_case_page_is_recorded(app, cell, case):
    case_id, code = case
    before = len(trail(app, cell, "case.read"))
    client = client_for(app, cell.partner)
    client.get(page(case_id))
    client.get(page(case_id))
    reads = trail(app, cell, "case.read")[before:]
    assert [(entry.subject, entry.details["part"]) for entry in reads] == [(f"case:{code}", "case")] * 2


def test_showing_the_identity_is_a_deliberate_audited_action(app, cell, case):
    case_id, code = case
    client = client_for(app, cell.partner)
    path = f"{page(case_id)}/identity/reveal"
    assert client.get(path).status_code == 405
    refused = post_form(client, path, {}, form_path=page(case_id))
    assert refused.status_code == 422 and NAME not in text(refused)
    assert trail(app, cell, "case.identity_revealed") == []
    shown = post_form(client, path, {"reveal": "yes"}, form_path=page(case_id), headers=EN)
    assert shown.status_code == 200 and NAME in text(shown) and "Élodie" in text(shown)
    assert "recorded in the audit trail" in text(shown)
    assert shown.headers["Cache-Control"] == "no-store"
    revealed = trail(app, cell, "case.identity_revealed")
    assert len(revealed) == 1 and revealed[0].subject == f"case:{code}" and NAME not in str(revealed[0].details)
    assert revealed[0].actor == f"account:{cell.partner.account_id}"


def test_the_coordinator_changes_the_identity_without_seeing_it(app, cell, case):
    case_id, _code = case
    coordinator = client_for(app, cell.coordinator)
    path = f"{page(case_id)}/identity"
    form = coordinator.get(path, headers=EN)
    assert form.status_code == 200 and NAME not in text(form) and "keeps its value" in text(form)
    assert client_for(app, cell.partner).get(path).status_code == 403
    assert post_form(coordinator, path, {}).status_code == 422
    wrong = post_form(coordinator, path, {"national_number": "12.34.56-789.00", "family_name": "Peeters"}, headers=EN)
    assert wrong.status_code == 422 and "national number" in text(wrong) and "Peeters" in text(wrong)
    done = post_form(coordinator, path, {"family_name": "Peeters", "clear_address": "yes"})
    assert done.status_code == 302
    shown = text(post_form(coordinator, f"{path}/reveal", {"reveal": "yes"}, form_path=page(case_id)))
    assert "Peeters" in shown and "Élodie" in shown and "Bondgenotenlaan" not in shown
    changed = trail(app, cell, "case.identity_changed")
    assert changed[-1].details == {"fields": ["family_name", "address"]}


def test_the_coordinator_changes_the_case_and_the_team(app, cell, case):
    case_id, _code = case
    coordinator = client_for(app, cell.coordinator)

    # The social partner joins the team, then reads the case, then leaves it again. A team change
    # is a joint decision: proposed by the coordinator, in effect once the partner (in the team of
    # this case with a social follow-up) confirms it. The team changes come first: once the case
    # has a mixed follow-up, only the information officer confirms them.
    added = post_form(coordinator, f"{page(case_id)}/team", {"membership_id": cell.social.membership_id},
                      form_path=page(case_id), headers=EN)  # (the flash is written in the POST's language)
    assert added.status_code == 302 and added.headers["Location"].endswith("#team")
    assert PROPOSED in text(coordinator.get(added.headers["Location"], headers=EN))
    social = client_for(app, cell.social)
    assert social.get(page(case_id)).status_code == 403  # not in the team before confirmation
    confirm_latest(app, cell, cell.partner)
    assert social.get(page(case_id)).status_code == 200
    twice = post_form(coordinator, f"{page(case_id)}/team", {"membership_id": cell.social.membership_id},
                      form_path=page(case_id), headers=EN)
    assert twice.status_code == 422 and "already in the case team" in text(twice)
    with app.app_context(), tenant_context(cell.tenant_id):
        member_id = db.session.get(Case, case_id).team[-1].id
    remove = f"{page(case_id)}/team/{member_id}/remove"
    assert post_form(coordinator, remove, {}).status_code == 422
    assert social.get(page(case_id)).status_code == 200
    assert post_form(coordinator, remove, {"confirm": "yes"}).status_code == 302
    assert social.get(page(case_id)).status_code == 200  # still in the team until confirmed
    confirm_latest(app, cell, cell.partner)
    assert social.get(page(case_id)).status_code == 403

    assert post_form(coordinator, f"{page(case_id)}/edit", {}).status_code == 422
    done = post_form(coordinator, f"{page(case_id)}/edit", {
        "target_group": "hate_propagandist", "follow_up_kind": "mixed", "approached_for_other_problem": "yes",
        "goal": "Back to school without incidents."})
    assert done.status_code == 302
    stored = load(app, cell, Case, case_id)
    assert stored.approached_for_other_problem and stored.follow_up_kind.value == "mixed"
    partner_page = text(client_for(app, cell.partner).get(page(case_id), headers=EN))
    assert "Not shown: the person is approached for another problem first." in partner_page
    assert "Hate propagandist" not in partner_page and "Back to school without incidents." in partner_page
    assert "Hate propagandist" in text(coordinator.get(page(case_id), headers=EN))


# --- the follow-up plan and notes ---------------------------------------------------------------


def test_measures_are_added_by_the_coordinator_and_updated_by_the_responsible_organisation(app, cell, case):
    case_id, _code = case
    coordinator = client_for(app, cell.coordinator)
    assert post_form(coordinator, f"{page(case_id)}/measures", {}, form_path=page(case_id)).status_code == 422
    refused = post_form(coordinator, f"{page(case_id)}/measures", {"description": "Home visit"},
                        form_path=page(case_id), headers=EN)
    assert refused.status_code == 422 and "Home visit" in text(refused)  # what was typed stays
    assert rows(app, cell, Measure, case_id=case_id) == []
    measure = add_measure(app, cell, coordinator, case_id, cell.partner, due_on=(date.today() - timedelta(days=2)).isoformat())
    assert "overdue" in text(coordinator.get(page(case_id), headers=EN))

    partner = client_for(app, cell.partner)
    path = f"{page(case_id)}/measures/{measure.id}"
    assert partner.get(path).status_code == 200
    assert post_form(partner, path, {}).status_code == 422
    assert post_form(partner, path, {"description": "Something else", "status": "done"}).status_code == 422
    assert post_form(partner, path, {"status": "in_progress"}, form_path=page(case_id)).status_code == 302
    assert load(app, cell, Measure, measure.id).status == MeasureStatus.IN_PROGRESS

    # A member of another organisation in the case team reads the measure but cannot change it.
    post_form(coordinator, f"{page(case_id)}/team", {"membership_id": cell.social.membership_id}, form_path=page(case_id))
    confirm_latest(app, cell, cell.partner)
    social = client_for(app, cell.social)
    assert social.get(page(case_id)).status_code == 200
    read_only = social.get(path)
    assert read_only.status_code == 200 and 'name="status"' not in read_only.get_data(as_text=True)
    assert social.post(path, data={"csrf_token": _token(social), "status": "done"}).status_code == 403
    assert trail(app, cell, "access.denied")[-1].details["reason"] == "not the responsible organisation"

    # The coordinator changes every field.
    with app.app_context(), tenant_context(cell.tenant_id):
        ocmw = membership(cell.social).organisation_id
    done = post_form(coordinator, path, {"description": "Home visit by the OCMW", "organisation_id": ocmw,
                                         "due_on": "", "status": "planned"})
    assert done.status_code == 302
    stored = load(app, cell, Measure, measure.id)
    assert stored.organisation_id == ocmw and stored.due_on is None
    assert social.post(path, data={"csrf_token": _token(social), "status": "done"}).status_code == 302
    assert load(app, cell, Measure, measure.id).status == MeasureStatus.DONE


def test_a_restricted_note_is_not_shown_to_the_partner(app, cell, case):
    case_id, _code = case
    coordinator, partner = client_for(app, cell.coordinator), client_for(app, cell.partner)
    assert post_form(partner, f"{page(case_id)}/notes", {}, form_path=page(case_id)).status_code == 422
    post_form(coordinator, f"{page(case_id)}/notes", {"body": "A police file exists.", "visibility": "restricted"},
              form_path=page(case_id))
    added = post_form(partner, f"{page(case_id)}/notes", {"body": "Met the pupil; calm.", "visibility": "team"},
                      form_path=page(case_id))
    assert added.status_code == 302 and added.headers["Location"].endswith("#notes")
    seen_by_partner = text(partner.get(page(case_id), headers=EN))
    assert "Met the pupil; calm." in seen_by_partner and "A police file exists." not in seen_by_partner
    seen_by_coordinator = text(coordinator.get(page(case_id), headers=EN))
    assert "Met the pupil; calm." in seen_by_coordinator and "A police file exists." in seen_by_coordinator
    # The timeline names notes by kind, never by what they say.
    assert seen_by_partner.count("Met the pupil; calm.") == 1


# --- reviews and closure ------------------------------------------------------------------------


def test_the_coordinator_holds_the_review_and_the_next_one_is_planned(app, cell, case):
    case_id, _code = case
    review = rows(app, cell, Review, case_id=case_id)[0]
    path = f"{page(case_id)}/reviews/{review.id}"
    coordinator = client_for(app, cell.coordinator)
    assert client_for(app, cell.partner).get(path).status_code == 403
    assert "Hold the review due on" not in text(client_for(app, cell.partner).get(page(case_id), headers=EN))
    assert "Hold the review due on" in text(coordinator.get(page(case_id), headers=EN))
    form = coordinator.get(path, headers=EN)
    assert "Continue the plan" in text(form) and "Take the case up again" not in text(form)
    assert post_form(coordinator, path, {}).status_code == 422
    wrong = post_form(coordinator, path, {"outcome": "reopen", "summary": "Good progress."}, headers=EN)
    assert wrong.status_code == 422 and "outcomes of this kind of review" in text(wrong)
    next_day = date.today() + timedelta(days=60)
    done = post_form(coordinator, path, {"outcome": "continue", "summary": "Good progress.", "flag": "yellow",
                                         "next_review_on": next_day.isoformat()}, form_path=page(case_id))
    assert done.status_code == 302 and done.headers["Location"].endswith("#reviews")
    held = load(app, cell, Review, review.id)
    assert held.outcome == ReviewOutcome.CONTINUE and load(app, cell, Case, case_id).next_review_on == next_day
    assert post_form(coordinator, path, {"outcome": "continue", "summary": "Again."}, form_path=page(case_id)).status_code == 422


def test_closing_with_an_open_measure_needs_a_note(app, cell, case):
    case_id, _code = case
    coordinator = client_for(app, cell.coordinator)
    measure = add_measure(app, cell, coordinator, case_id, cell.partner)
    path = f"{page(case_id)}/close"
    form = text(coordinator.get(path, headers=EN))
    assert "Talks with the pupil guidance counsellor" in form and "cancelled with the closure" in form
    assert "due for erasure" in form
    assert post_form(coordinator, path, {}).status_code == 422
    refused = post_form(coordinator, path, {"reason": "goals_reached"}, headers=EN)
    assert refused.status_code == 422 and "Measures of the plan are still open" in text(refused)
    assert load(app, cell, Case, case_id).status == CaseStatus.OPEN
    assert load(app, cell, Measure, measure.id).status == MeasureStatus.PLANNED
    done = post_form(coordinator, path, {"reason": "goals_reached", "note": "Goals reached; the CLB continues on its own."},
                     headers=EN)
    assert done.status_code == 302 and done.headers["Location"].endswith("#closure")
    # Proposed: the case and its measure are unchanged until a second member of its team confirms.
    assert PROPOSED in text(coordinator.get(done.headers["Location"], headers=EN))
    assert load(app, cell, Case, case_id).status == CaseStatus.OPEN
    assert load(app, cell, Measure, measure.id).status == MeasureStatus.PLANNED
    confirm_latest(app, cell, cell.partner)
    closed = load(app, cell, Case, case_id)
    assert closed.status == CaseStatus.CLOSED and closed.erase_after is not None
    assert load(app, cell, Measure, measure.id).status == MeasureStatus.CANCELLED
    shown = text(coordinator.get(page(case_id), headers=EN))
    assert "Goals reached; the CLB continues on its own." in shown and "Case closed" in shown


def test_records_of_another_case_are_not_found(app, cell, case):
    case_id, _code = case
    other_id, _other = open_case(app, cell)
    coordinator = client_for(app, cell.coordinator)
    measure = add_measure(app, cell, coordinator, other_id, cell.partner)
    review = rows(app, cell, Review, case_id=other_id)[0]
    for path in (f"{page(case_id)}/measures/{measure.id}", f"{page(case_id)}/reviews/{review.id}",
                 f"{page(case_id)}/feedback/987654", f"{page(987654)}", f"/{LEUVEN}/ltf-feedback/987654"):
        assert coordinator.get(path).status_code == 404, path


# --- feedback to the Local Task Force -----------------------------------------------------------


def test_the_feedback_form_is_approved_by_every_participant_then_released_to_the_information_officer(app, cell, case):
    case_id, code = case
    coordinator, partner = client_for(app, cell.coordinator), client_for(app, cell.partner)
    assert post_form(coordinator, f"{page(case_id)}/feedback", {}, form_path=page(case_id)).status_code == 422
    assert rows(app, cell, LtfFeedback, case_id=case_id) == []
    started = post_form(coordinator, f"{page(case_id)}/feedback", {"confirm": "yes"}, form_path=page(case_id))
    assert started.status_code == 302
    feedback = rows(app, cell, LtfFeedback, case_id=case_id)[0]
    base = f"{page(case_id)}/feedback/{feedback.id}"
    assert started.headers["Location"].endswith(f"{base}/edit")
    assert post_form(partner, f"{base}/edit", ANSWERS, form_path=base).status_code == 403

    edit = coordinator.get(f"{base}/edit", headers=EN)
    assert "resets the approvals" in text(edit) and "move to terrorist acts" in text(edit)
    assert post_form(coordinator, f"{base}/edit", {}).status_code == 422
    assert post_form(coordinator, f"{base}/edit", ANSWERS).status_code == 302
    revision = load(app, cell, LtfFeedback, feedback.id).revision

    assert "Your approval is awaited." in text(partner.get(page(case_id), headers=EN))
    shown = text(partner.get(base, headers=EN))
    assert ANSWERS["distance"] in shown and f"Approve revision {revision}" in shown
    assert "has not approved yet" in shown
    for client in (coordinator, partner):
        assert post_form(client, f"{base}/approve", {"revision": revision}, form_path=base).status_code == 302
    assert f"Approve revision {revision}" not in text(partner.get(base, headers=EN))

    # A change resets the approvals: the release is refused until everyone approved again.
    changed = dict(ANSWERS, distance="Distanced, with some doubts.")
    assert post_form(coordinator, f"{base}/edit", changed).status_code == 302
    refused = post_form(coordinator, f"{base}/release", {"confirm": "yes"}, headers=EN)
    assert refused.status_code == 422 and "waiting for" in text(refused)
    assert not load(app, cell, LtfFeedback, feedback.id).released
    stale = post_form(partner, f"{base}/approve", {"revision": revision}, form_path=base, headers=EN)
    assert stale.status_code == 422 and "changed since you read it" in text(stale)
    revision = load(app, cell, LtfFeedback, feedback.id).revision
    for client in (coordinator, partner):
        assert post_form(client, f"{base}/approve", {"revision": revision}, form_path=base).status_code == 302
    assert post_form(coordinator, f"{base}/release", {}).status_code == 422
    assert post_form(coordinator, f"{base}/release", {"confirm": "yes"}).status_code == 302
    assert load(app, cell, LtfFeedback, feedback.id).released

    # The information officer reads it in their inbox; the mayor has no inbox.
    officer = client_for(app, cell.information_officer)
    inbox = officer.get(f"/{LEUVEN}/ltf-feedback", headers=EN)
    assert inbox.status_code == 200 and code in text(inbox)
    before = len(trail(app, cell, "case.read"))
    released = officer.get(f"/{LEUVEN}/ltf-feedback/{feedback.id}", headers=EN)
    assert released.status_code == 200 and "Distanced, with some doubts." in text(released)
    assert NAME not in text(released)
    assert [entry.details["part"] for entry in trail(app, cell, "case.read")[before:]] == ["feedback"]
    assert client_for(app, cell.mayor).get(f"/{LEUVEN}/ltf-feedback").status_code == 403
    assert client_for(app, cell.mayor).get(f"/{LEUVEN}/ltf-feedback/{feedback.id}").status_code == 403


def test_a_form_in_preparation_is_not_in_the_inbox(app, cell, case):
    case_id, code = case
    coordinator = client_for(app, cell.coordinator)
    post_form(coordinator, f"{page(case_id)}/feedback", ANSWERS, form_path=page(case_id))
    feedback = rows(app, cell, LtfFeedback, case_id=case_id)[0]
    assert feedback.effectiveness_ciphertext is not None
    officer = client_for(app, cell.information_officer)
    assert code not in text(officer.get(f"/{LEUVEN}/ltf-feedback"))
    assert officer.get(f"/{LEUVEN}/ltf-feedback/{feedback.id}").status_code == 404
    # A second form is not started while one is in preparation.
    again = post_form(coordinator, f"{page(case_id)}/feedback", {"confirm": "yes"}, form_path=page(case_id), headers=EN)
    assert again.status_code == 422 and "in preparation already" in text(again)


def test_the_coordinator_erases_a_closed_case_at_once(app, cells):
    cell = ready_cell(app, cells[LEUVEN], LEUVEN)
    case_id, code = open_case(app, cell)
    coordinator = client_for(app, cell.coordinator)
    # An open case cannot be erased.
    refused = post_form(coordinator, f"{page(case_id)}/erase", {"confirm": "yes"}, headers=EN)
    assert refused.status_code == 422 and "Only a closed case can be erased" in text(refused)
    closed = post_form(coordinator, f"{page(case_id)}/close", {"reason": "goals_reached"})
    assert closed.status_code == 302
    proposed = post_form(coordinator, f"{page(case_id)}/erase", {"confirm": "yes"}, headers=EN)
    assert proposed.status_code == 422 and "Only a closed case can be erased" in text(proposed)  # not confirmed yet
    confirm_latest(app, cell, cell.partner)
    assert post_form(coordinator, f"{page(case_id)}/erase", {}).status_code == 422  # not confirmed
    assert coordinator.get(page(case_id)).status_code == 200
    erased = post_form(coordinator, f"{page(case_id)}/erase", {"confirm": "yes"})
    assert erased.status_code == 302 and erased.headers["Location"].endswith("/cases")
    assert coordinator.get(page(case_id)).status_code == 404
    assert code not in coordinator.get(f"/{LEUVEN}/cases").get_data(as_text=True)
    assert [entry.subject for entry in trail(app, cell, "case.erased")] == [f"case:{code}"]


def test_the_case_team_reads_what_was_observed_and_the_weighing_facts_stay_with_the_coordinator(app, cells):
    cell = ready_cell(app, cells[LEUVEN], LEUVEN)
    case_id, _code = open_case(app, cell)
    partner_page = text(client_for(app, cell.partner).get(page(case_id), headers=EN))
    coordinator_page = text(client_for(app, cell.coordinator).get(page(case_id), headers=EN))
    fact = "Shared an attack video in the class group chat."
    assert OBSERVATION in partner_page and OBSERVATION in coordinator_page
    assert fact in coordinator_page and fact not in partner_page
