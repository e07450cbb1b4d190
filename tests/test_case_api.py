"""The JSON API for cases: the whole path of a case, need-to-know, the identity, bad input.

Runs on SQLite and PostgreSQL. Members get a server-side session directly
(``auth_helpers.give_session``) and have accepted the secrecy undertaking (``ready_cell``);
the rules themselves are tested in tests/test_cases.py.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session
from case_helpers import HERKO, IDENTITY, LEUVEN, confirm_latest, membership, open_case, ready_cell
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.tenants.cases.models import Case, LtfFeedback, Measure, ProgressNote

EN = {"Accept-Language": "en"}
API = f"/{LEUVEN}/api"
ANSWERS = {
    "effectiveness": "The mentoring at school works; attendance is regular again.",
    "cooperation": "Cooperates with the CLB, reluctantly with the youth worker.",
    "distance": "Distances themselves from the video, with doubts.",
    "further_follow_up": "useful",
    "other_elements": "Mentoring continues until the end of the school year.",
    "terrorist_phase": "no",
}
# What the API must never answer outside the reveal endpoint.
IDENTITY_TEXTS = ["Élodie", "Van den Berghe", "07.03.14-123.42", "Bondgenotenlaan", "2007-03-14"]


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


@pytest.fixture
def case(app, cell):
    return open_case(app, cell)


class Api:
    """A member's client for the API: JSON in and out, with the CSRF token of their session."""

    def __init__(self, app, member):
        self.client = app.test_client()
        give_session(app, self.client, member)
        self.headers = {"X-CSRFToken": self.client.get(f"/{member.tenant_slug}/api/session").get_json()["csrf_token"], **EN}

    def get(self, path: str):
        return self.client.get(path, headers=EN)

    def send(self, method: str, path: str, body=None):
        return self.client.open(path, method=method, json=body, headers=self.headers)

    def post(self, path: str, body=None):
        return self.send("POST", path, {} if body is None else body)

    def patch(self, path: str, body):
        return self.send("PATCH", path, body)

    def put(self, path: str, body):
        return self.send("PUT", path, body)

    def delete(self, path: str, body=None):
        return self.send("DELETE", path, body)


def fields_of(response) -> set[str]:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True))
    return set(response.get_json()["error"]["fields"])


def audit_entries(app, tenant_id: int, action: str) -> list[AuditEntry]:
    with app.app_context(), tenant_context(tenant_id):
        entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()
        db.session.expunge_all()
        db.session.remove()
    return entries


def organisation_of(app, cell, member) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        organisation_id = membership(member).organisation_id
        db.session.remove()
    return organisation_id


def no_identity(response) -> None:
    text = response.get_data(as_text=True)
    decoded = json.dumps(response.get_json(), ensure_ascii=False)
    for value in IDENTITY_TEXTS:
        assert value not in text and value not in decoded, value


# --- the whole path -----------------------------------------------------------------------------


def test_the_whole_path_of_a_case_through_the_api(app, cell, case):
    case_id, code = case
    coordinator, partner, officer = Api(app, cell.coordinator), Api(app, cell.partner), Api(app, cell.information_officer)
    path = f"{API}/cases/{case_id}"

    # The list and the case, by code, without the person.
    listed = coordinator.get(f"{API}/cases")
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    [row] = listed.get_json()["cases"]
    assert row["id"] == case_id and row["code"] == code and row["status"] == "open"
    assert (row["stage"], row["flag"], row["target_group"], row["open_measures"]) == ("building", "red", "other_extremism", 0)
    assert row["stage_label"] == "Case building" and row["next_review_on"] == (date.today() + timedelta(days=90)).isoformat()
    no_identity(listed)
    assert [c["code"] for c in partner.get(f"{API}/cases").get_json()["cases"]] == [code]

    read = partner.get(path)
    assert read.status_code == 200, read.get_data(as_text=True)
    body = read.get_json()["case"]
    assert [member["membership_id"] for member in body["team"]] == [cell.partner.membership_id]
    assert body["team"][0]["role"] == "partner" and body["identity_recorded"] is True
    [review] = body["reviews"]
    assert review["kind"] == "follow_up" and review["held"] is False
    assert {event["kind"] for event in body["timeline"]} >= {"opened", "signal", "weighing", "team_added"}
    no_identity(read)

    # The coordinator sets the goal (only the field sent changes) and plans a measure.
    changed = coordinator.patch(path, {"goal": "Back to school with a mentor."})
    assert changed.status_code == 200 and changed.get_json()["changed"] == ["goal"]
    assert coordinator.get(path).get_json()["case"]["follow_up_kind"] == "social"
    clb = organisation_of(app, cell, cell.partner)
    due = (date.today() + timedelta(days=30)).isoformat()
    added = coordinator.post(f"{path}/measures", {"description": "Mentoring at school", "organisation_id": clb, "due_on": due,
                                                  "category": "education"})
    assert added.status_code == 201, added.get_data(as_text=True)
    measure = added.get_json()["measure"]
    assert (measure["status"], measure["due_on"], measure["organisation_id"]) == ("planned", due, clb)

    # The partner of the measure's organisation moves its status, nothing else.
    moved = partner.patch(f"{path}/measures/{measure['id']}", {"status": "in_progress"})
    assert moved.status_code == 200 and moved.get_json()["measure"]["status"] == "in_progress"
    assert fields_of(partner.patch(f"{path}/measures/{measure['id']}", {"due_on": due, "status": "done"})) == {"due_on"}
    # Adding the information officer to the team is a joint decision: accepted (202), nothing
    # changes until a second member of the team confirms it.
    joined = coordinator.post(f"{path}/team", {"membership_id": cell.information_officer.membership_id})
    assert joined.status_code == 202, joined.get_data(as_text=True)
    decision = joined.get_json()["decision"]
    assert (decision["kind"], decision["status"], decision["in_effect"]) == ("team_change", "proposed", False)
    assert officer.get(path).status_code == 403
    assert [m["membership_id"] for m in coordinator.get(path).get_json()["case"]["team"]] == [cell.partner.membership_id]
    outside = officer.post(f"{API}/decisions/{decision['id']}/confirm")  # not in the team: may not read the case
    assert outside.status_code == 422 and "team of this case" in outside.get_json()["error"]["fields"]["_schema"][0]
    accepted = partner.post(f"{API}/decisions/{decision['id']}/confirm")
    assert accepted.status_code == 200 and accepted.get_json()["decision"]["status"] == "taken"
    # The information officer, once in the team, reads the case but does not change the CLB's measure.
    assert officer.get(path).status_code == 200
    assert officer.patch(f"{path}/measures/{measure['id']}", {"status": "done"}).status_code == 403
    # Taking them out of the team needs a confirmation; then they no longer read the case.
    [team_member] = [m for m in coordinator.get(path).get_json()["case"]["team"]
                     if m["membership_id"] == cell.information_officer.membership_id]
    member_path = f"{path}/team/{team_member['id']}"
    assert fields_of(coordinator.delete(member_path, {})) == {"confirm"}
    assert fields_of(coordinator.delete(member_path)) == {"confirm"}
    assert fields_of(coordinator.delete(member_path, {"confirm": False})) == {"confirm"}
    assert officer.get(path).status_code == 200
    removal = coordinator.delete(member_path, {"confirm": True})
    assert removal.status_code == 202 and removal.get_json()["decision"]["status"] == "proposed"
    assert officer.get(path).status_code == 200  # still in the team until a second member confirms
    confirm_latest(app, cell, cell.partner)
    assert officer.get(path).status_code == 403
    assert coordinator.delete(member_path, {"confirm": True}).status_code == 404

    # Notes: the partner writes for the team; the coordinator's restricted note stays with them.
    note = partner.post(f"{path}/notes", {"body": "Met the pupil with the mentor.", "visibility": "team"})
    assert note.status_code == 201 and note.get_json()["note"]["author_id"] == cell.partner.membership_id
    assert coordinator.post(f"{path}/notes", {"body": "Police context.", "visibility": "restricted"}).status_code == 201
    assert [n["body"] for n in partner.get(path).get_json()["case"]["notes"]] == ["Met the pupil with the mentor."]
    assert len(coordinator.get(path).get_json()["case"]["notes"]) == 2

    # The review is held and the next one planned.
    next_on = (date.today() + timedelta(days=60)).isoformat()
    held = coordinator.post(f"{path}/reviews/{review['id']}",
                            {"outcome": "continue", "summary": "Going well.", "flag": "yellow", "next_review_on": next_on})
    assert held.status_code == 200, held.get_data(as_text=True)
    assert held.get_json()["review"]["held"] is True and held.get_json()["case"]["next_review_on"] == next_on
    assert held.get_json()["case"]["flag"] == "yellow"
    assert fields_of(coordinator.post(f"{path}/reviews/{review['id']}", {"outcome": "continue", "summary": "Again"})) == {"_schema"}

    # Closing with a measure still open needs a word on why: refused, nothing changed.
    refused = coordinator.post(f"{path}/closure", {"reason": "goals_reached"})
    assert fields_of(refused) == {"note"}
    after = coordinator.get(path).get_json()["case"]
    assert after["status"] == "open" and after["measures"][0]["status"] == "in_progress"
    # Closing is a joint decision: proposed (202), the case stays open until the partner confirms.
    closed = coordinator.post(f"{path}/closure", {"reason": "goals_reached", "note": "The mentoring goes on at school."})
    assert closed.status_code == 202, closed.get_data(as_text=True)
    assert closed.get_json()["decision"]["kind"] == "closure" and closed.get_json()["case"]["status"] == "open"
    after = coordinator.get(path).get_json()["case"]
    assert after["status"] == "open" and after["measures"][0]["status"] == "in_progress"
    confirm_latest(app, cell, cell.partner)
    after = coordinator.get(path).get_json()["case"]
    assert after["status"] == "closed" and after["stage"] == "aftercare"
    assert after["measures"][0]["status"] == "cancelled" and after["closure_reason"] == "goals_reached"
    assert {r["kind"] for r in after["reviews"] if not r["held"]} == {"after_closure"}

    # The feedback form to the Local Task Force.
    started = coordinator.post(f"{path}/feedback", ANSWERS)
    assert started.status_code == 201, started.get_data(as_text=True)
    feedback = started.get_json()["feedback"]
    feedback_path = f"{path}/feedback/{feedback['id']}"
    assert started.headers["Location"] == feedback_path
    assert (feedback["revision"], feedback["status"], feedback["terrorist_phase_label"]) == (1, "draft", "No")
    assert feedback["approvals"]["waiting"] == sorted([cell.coordinator.membership_id, cell.partner.membership_id])
    assert fields_of(coordinator.post(f"{path}/feedback", {})) == {"_schema"}  # one draft at a time

    assert coordinator.post(f"{feedback_path}/approvals", {"revision": 1}).status_code == 201
    assert partner.post(f"{feedback_path}/approvals", {"revision": 1}).status_code == 201
    assert partner.get(feedback_path).get_json()["feedback"]["approvals"]["complete"] is True
    # A change makes revision 2: the approvals of revision 1 no longer count.
    patched = coordinator.patch(feedback_path, {"distance": "Distances themselves clearly now."})
    assert patched.status_code == 200 and patched.get_json()["changed"] == ["distance"]
    state = patched.get_json()["feedback"]
    assert state["revision"] == 2 and state["approvals"]["approved"] == [] and state["approvals"]["complete"] is False
    assert fields_of(coordinator.post(f"{feedback_path}/release", {"confirm": True})) == {"approvals"}
    assert fields_of(partner.post(f"{feedback_path}/approvals", {"revision": 1})) == {"revision"}
    assert partner.post(f"{feedback_path}/approvals", {"revision": 2}).status_code == 201
    assert fields_of(coordinator.post(f"{feedback_path}/release", {"confirm": True})) == {"approvals"}
    assert coordinator.post(f"{feedback_path}/approvals", {"revision": 2}).status_code == 201
    assert officer.get(f"{API}/ltf-feedback").get_json()["feedback"] == []
    assert fields_of(coordinator.post(f"{feedback_path}/release", {})) == {"confirm"}
    released = coordinator.post(f"{feedback_path}/release", {"confirm": True})
    assert released.status_code == 200, released.get_data(as_text=True)
    assert released.get_json()["feedback"]["status"] == "released"
    assert fields_of(coordinator.patch(feedback_path, {"distance": "Later."})) == {"_schema"}

    # The information officer receives it by case code, and each read is audited.
    [listed_form] = officer.get(f"{API}/ltf-feedback").get_json()["feedback"]
    assert (listed_form["id"], listed_form["case_code"], listed_form["revision"]) == (feedback["id"], code, 2)
    form = officer.get(f"{API}/ltf-feedback/{feedback['id']}")
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    received = form.get_json()["feedback"]
    assert received["case_code"] == code and received["distance"] == "Distances themselves clearly now."
    assert received["further_follow_up"] == "useful" and received["released_at"]
    no_identity(form)
    assert officer.get(path).status_code == 403  # the form, not the case
    reads = [e for e in audit_entries(app, cell.tenant_id, "case.read") if e.details == {"part": "feedback"}]
    assert reads[-1].actor == f"account:{cell.information_officer.account_id}" and reads[-1].subject == f"case:{code}"
    trail = {e.action for e in audit_entries(app, cell.tenant_id, "case.feedback_released")}
    assert trail == {"case.feedback_released"}


def test_a_partner_outside_the_team_sees_nothing_of_the_case(app, cell, case):
    case_id, code = case
    social, mayor = Api(app, cell.social), Api(app, cell.mayor)
    path = f"{API}/cases/{case_id}"
    for api in (social, mayor):
        assert api.get(path).status_code == 403
        assert api.post(f"{path}/identity/reveal").status_code == 403
        assert api.post(f"{path}/notes", {"body": "Not mine to write.", "visibility": "team"}).status_code == 403
        listed = api.get(f"{API}/cases")
        assert listed.status_code == 200 and listed.get_json()["cases"] == []
        assert api.get(f"{API}/ltf-feedback").status_code == 403
    denied = audit_entries(app, cell.tenant_id, "access.denied")
    assert any(e.subject == f"case:{case_id}" and e.actor == f"account:{cell.social.account_id}" for e in denied)
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count(ProgressNote.id))) == 0
        db.session.remove()


def test_the_identity_is_answered_only_by_the_reveal_endpoint(app, cell, case):
    case_id, code = case
    coordinator, partner = Api(app, cell.coordinator), Api(app, cell.partner)
    path = f"{API}/cases/{case_id}"
    for api in (coordinator, partner):
        no_identity(api.get(path))
        no_identity(api.get(f"{API}/cases"))

    revealed = partner.post(f"{path}/identity/reveal")
    assert revealed.status_code == 200 and revealed.headers["Cache-Control"] == "no-store"
    assert revealed.get_json()["identity"] == IDENTITY
    [entry] = audit_entries(app, cell.tenant_id, "case.identity_revealed")
    assert entry.subject == f"case:{code}" and entry.actor == f"account:{cell.partner.account_id}"

    # Writing it answers which fields changed, never their values; the partner may not.
    assert partner.put(f"{path}/identity", {"address": "Naamsestraat 2, 3000 Leuven"}).status_code == 403
    written = coordinator.put(f"{path}/identity", {"address": "Naamsestraat 2, 3000 Leuven", "family_name": "Van den Berghe"})
    assert written.status_code == 200 and written.get_json() == {"changed": ["address"], "identity_recorded": True}
    assert "Naamsestraat" not in written.get_data(as_text=True)
    assert fields_of(coordinator.put(f"{path}/identity", {"national_number": "07.03.14-123.43"})) == {"national_number"}
    assert coordinator.post(f"{path}/identity/reveal").get_json()["identity"]["address"] == "Naamsestraat 2, 3000 Leuven"
    [changed] = audit_entries(app, cell.tenant_id, "case.identity_changed")
    assert changed.details == {"fields": ["address"]}


def test_a_target_group_kept_from_the_team_is_answered_as_null(app, cell):
    case_id, _code = open_case(app, cell, approached_for_other_problem=True)
    for member, expected in ((cell.partner, None), (cell.coordinator, "other_extremism")):
        api = Api(app, member)
        [row] = api.get(f"{API}/cases").get_json()["cases"]
        case = api.get(f"{API}/cases/{case_id}").get_json()["case"]
        assert row["target_group"] == case["target_group"] == expected
        assert (row["target_group_label"] is None) == (expected is None)
        if expected is None:
            answered = json.dumps([row, case])
            assert "other_extremism" not in answered and "Other violent extremism" not in answered


def test_every_read_of_the_case_is_audited(app, cell, case):
    case_id, code = case
    coordinator, partner = Api(app, cell.coordinator), Api(app, cell.partner)
    assert coordinator.get(f"{API}/cases/{case_id}").status_code == 200
    assert partner.get(f"{API}/cases/{case_id}").status_code == 200
    assert partner.get(f"{API}/cases/{case_id}").status_code == 200
    reads = [e for e in audit_entries(app, cell.tenant_id, "case.read") if e.details == {"part": "case"}]
    assert [e.actor for e in reads] == [f"account:{m.account_id}" for m in (cell.coordinator, cell.partner, cell.partner)]
    assert {e.subject for e in reads} == {f"case:{code}"}
    # A refused read reads nothing: no read entry, a denial instead.
    assert Api(app, cell.social).get(f"{API}/cases/{case_id}").status_code == 403
    assert len(audit_entries(app, cell.tenant_id, "case.read")) == 3


def test_another_cells_coordinator_cannot_reach_our_cases(app, cells, cell, case):
    case_id, _code = case
    herko = ready_cell(app, cells[HERKO], HERKO)
    their_case_id, _their_code = open_case(app, herko)
    stranger = Api(app, herko.coordinator)
    # Signed in to their own cell only: here, they are asked to sign in.
    for response in (
        stranger.get(f"{API}/cases/{case_id}"),
        stranger.get(f"{API}/cases"),
        stranger.post(f"{API}/cases/{case_id}/identity/reveal"),
    ):
        assert response.status_code in (401, 403), response.status_code
    # In their own cell, our ids look like ids that do not exist.
    theirs = f"/{HERKO}/api/cases"
    missing = stranger.get(f"{theirs}/987654")
    ours = stranger.get(f"{theirs}/{case_id}")
    assert ours.status_code == missing.status_code == 404
    assert ours.get_json() == missing.get_json()
    assert stranger.post(f"{theirs}/{case_id}/identity/reveal").status_code == 404
    assert stranger.patch(f"{theirs}/{case_id}", {"goal": "Not theirs"}).status_code == 404
    assert [c["id"] for c in stranger.get(theirs).get_json()["cases"]] == [their_case_id]
    assert audit_entries(app, cell.tenant_id, "case.identity_revealed") == []


def test_records_of_another_case_are_not_found_under_this_one(app, cell, case):
    case_id, _code = case
    other_id, _ = open_case(app, cell)
    coordinator = Api(app, cell.coordinator)
    clb = organisation_of(app, cell, cell.partner)
    measure = coordinator.post(f"{API}/cases/{other_id}/measures", {"description": "Elsewhere", "organisation_id": clb,
                                                                      "category": "guidance"})
    measure_id = measure.get_json()["measure"]["id"]
    other = coordinator.get(f"{API}/cases/{other_id}").get_json()["case"]
    review_id, member_id = other["reviews"][0]["id"], other["team"][0]["id"]
    path = f"{API}/cases/{case_id}"
    assert coordinator.patch(f"{path}/measures/{measure_id}", {"status": "done"}).status_code == 404
    assert coordinator.post(f"{path}/reviews/{review_id}", {"outcome": "continue", "summary": "x"}).status_code == 404
    assert coordinator.delete(f"{path}/team/{member_id}", {"confirm": True}).status_code == 404
    assert coordinator.get(f"{path}/feedback/987654").status_code == 404
    assert coordinator.get(f"{API}/ltf-feedback/987654").status_code == 404


def test_a_draft_feedback_form_is_not_the_information_officers(app, cell, case):
    case_id, _code = case
    coordinator = Api(app, cell.coordinator)
    started = coordinator.post(f"{API}/cases/{case_id}/feedback", {"effectiveness": "Too early to say."})
    feedback_id = started.get_json()["feedback"]["id"]
    assert Api(app, cell.information_officer).get(f"{API}/ltf-feedback/{feedback_id}").status_code == 404
    assert Api(app, cell.partner).get(f"{API}/ltf-feedback/{feedback_id}").status_code == 403
    # The case team reads it in the case (audited), and may approve it; the others may not.
    partner = Api(app, cell.partner)
    assert partner.get(f"{API}/cases/{case_id}/feedback/{feedback_id}").get_json()["feedback"]["effectiveness"] == "Too early to say."
    assert Api(app, cell.social).post(f"{API}/cases/{case_id}/feedback/{feedback_id}/approvals", {"revision": 1}).status_code == 403
    assert partner.patch(f"{API}/cases/{case_id}/feedback/{feedback_id}", {"distance": "x"}).status_code == 403
    assert fields_of(partner.post(f"{API}/cases/{case_id}/feedback/{feedback_id}/approvals", {})) == {"revision"}
    # An incomplete form is not released, even when everyone approved it.
    for member in (cell.coordinator, cell.partner):
        assert Api(app, member).post(f"{API}/cases/{case_id}/feedback/{feedback_id}/approvals", {"revision": 1}).status_code == 201
    refused = fields_of(coordinator.post(f"{API}/cases/{case_id}/feedback/{feedback_id}/release", {"confirm": True}))
    assert refused == {"cooperation", "distance", "further_follow_up", "other_elements", "terrorist_phase"}


# --- bad input ----------------------------------------------------------------------------------


def test_bad_input_is_answered_field_by_field_and_nothing_is_saved(app, cell, case):
    case_id, _code = case
    coordinator, partner = Api(app, cell.coordinator), Api(app, cell.partner)
    path = f"{API}/cases/{case_id}"
    assert coordinator.patch(path, {"goal": "The goal as agreed."}).status_code == 200

    refused = coordinator.patch(path, {"target_group": "martians", "follow_up_kind": "police", "goal": "x" * 5001})
    assert fields_of(refused) == {"target_group", "goal"}
    assert refused.get_json()["error"]["fields"]["target_group"] == ["Choose one of the options."]
    assert fields_of(coordinator.patch(path, {"target_group": None})) == {"target_group"}
    assert fields_of(coordinator.patch(path, {"colour": "blue"})) == {"colour"}
    kept = coordinator.get(path).get_json()["case"]
    assert (kept["goal"], kept["follow_up_kind"], kept["target_group"]) == ("The goal as agreed.", "social", "other_extremism")

    clb = organisation_of(app, cell, cell.partner)
    assert fields_of(coordinator.post(f"{path}/measures", {"description": "Mentoring", "organisation_id": clb, "category": "care",
                                                           "due_on": "2026-13-45", "status": "someday"})) == {"due_on", "status"}
    assert fields_of(coordinator.post(f"{path}/measures", {"description": "", "organisation_id": 987654, "category": "care"})) == {
        "description", "organisation_id"}
    assert fields_of(coordinator.post(f"{path}/measures", {})) == {"description", "organisation_id", "category"}
    assert fields_of(partner.post(f"{path}/notes", {"body": "x" * 5001, "visibility": "everyone"})) == {"body", "visibility"}
    assert fields_of(coordinator.post(f"{path}/team", {"membership_id": "someone", "until": "tomorrow"})) == {
        "membership_id", "until"}
    assert fields_of(coordinator.post(f"{path}/team", {"membership_id": cell.partner.membership_id})) == {"membership_id"}
    assert fields_of(coordinator.post(f"{path}/closure", {"reason": "bored"})) == {"reason"}
    assert fields_of(coordinator.post(f"{path}/feedback", {"terrorist_phase": "perhaps"})) == {"terrorist_phase"}
    review_id = kept["reviews"][0]["id"]
    assert fields_of(coordinator.post(f"{path}/reviews/{review_id}", {"outcome": "no_concern", "summary": "x",
                                                                       "next_review_on": "2020-01-01"})) == {
        "outcome", "next_review_on"}

    # Not JSON, or malformed JSON.
    assert coordinator.client.patch(path, data="goal=x", headers={**coordinator.headers,
                                    "Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    assert coordinator.client.patch(path, data="{", headers={**coordinator.headers,
                                    "Content-Type": "application/json"}).status_code == 400
    # Without the CSRF token of the session, no change at all.
    assert coordinator.client.patch(path, json={"goal": "Without a token"}, headers=EN).status_code in (400, 403)

    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count(Measure.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(ProgressNote.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(LtfFeedback.id))) == 0
        stored = db.session.get(Case, case_id)
        assert (stored.goal, stored.status.value, stored.closure_reason) == ("The goal as agreed.", "open", None)
        assert stored.team_membership_ids == {cell.partner.membership_id}
        db.session.remove()
    refusals = audit_entries(app, cell.tenant_id, "request.refused")
    assert refusals and all(entry.details["status"] in (400, 415, 422) for entry in refusals)


def test_a_closed_measure_and_a_closed_case_take_no_changes(app, cell, case):
    case_id, _code = case
    coordinator, partner = Api(app, cell.coordinator), Api(app, cell.partner)
    path = f"{API}/cases/{case_id}"
    clb = organisation_of(app, cell, cell.partner)
    measure_id = coordinator.post(f"{path}/measures", {"description": "Mentoring", "organisation_id": clb,
                                                       "category": "guidance"}).get_json()["measure"]["id"]
    assert partner.patch(f"{path}/measures/{measure_id}", {"status": "done"}).status_code == 200
    assert fields_of(partner.patch(f"{path}/measures/{measure_id}", {"status": "in_progress"})) == {"status"}
    # An empty change changes nothing and answers the measure.
    unchanged = partner.patch(f"{path}/measures/{measure_id}", {})
    assert unchanged.status_code == 200 and unchanged.get_json() == {"changed": [], "measure": unchanged.get_json()["measure"]}
    assert coordinator.post(f"{path}/closure", {"reason": "no_longer_concerning"}).status_code == 202
    # While the closure waits, the case still takes changes; the partner's confirmation closes it.
    assert coordinator.patch(path, {"goal": "Before the closure"}).status_code == 200
    confirm_latest(app, cell, cell.partner)
    assert fields_of(coordinator.patch(path, {"goal": "Later"})) == {"_schema"}
    assert fields_of(coordinator.post(f"{path}/measures", {"description": "More", "organisation_id": clb,
                                                           "category": "care"})) == {"_schema"}
    assert fields_of(coordinator.post(f"{path}/team", {"membership_id": cell.social.membership_id})) == {"_schema"}
    # Notes may still be written after closure (aftercare).
    assert partner.post(f"{path}/notes", {"body": "Saw the pupil at school.", "visibility": "team"}).status_code == 201
