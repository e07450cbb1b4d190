"""The decisions' pages and API: the cell decides together (issue 14, point 4).

A proposal has no effect until a second member confirms it on ``/<cell>/decisions/<id>``, or a
meeting in session takes it; never its proposer, never a guest expert; the cleared information
officer when police information is involved. Who may not read a decision's case sees its kind
and code only. Runs on SQLite and PostgreSQL; members get a server-side session directly and
have accepted the secrecy undertaking (``ready_cell``). The engine's rules themselves are
tested in tests/test_cases.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import add_member, give_session, post_form
from case_helpers import (
    HERKO,
    LEUVEN,
    membership,
    open_case,
    ready_cell,
    signal_values,
    weighing_values,
)
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import Case, CaseStatus, ClosureReason
from livc.tenants.cases.operations import close_case
from livc.tenants.cases.weighing import weigh_signal
from livc.tenants.decisions.models import DecisionStatus, ParticipantRole, Proposal, TakenIn
from livc.tenants.decisions.operations import (
    NOT_OPEN,
    ONLY_PROPOSER_WITHDRAWS,
    OWN_PROPOSAL,
    POLICE_CONFIRMATION,
    Sitting,
    register_sitting_provider,
)
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import accept_undertaking
from livc.tenants.signals.models import FollowUpKind, Signal, SignalStatus, Weighing
from livc.tenants.signals.operations import submit_signal

EN = {"Accept-Language": "en"}
API = f"/{LEUVEN}/api/decisions"
GOALS_REACHED = "The goals of the follow-up plan are reached"
IN_SESSION: dict[str, Sitting | None] = {"sitting": None}


def _sitting_now() -> Sitting | None:
    return IN_SESSION["sitting"]


register_sitting_provider(_sitting_now)


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


@pytest.fixture
def meeting_in_session(cell):
    """A meeting of the table in session, the coordinator and the partner registered present."""
    IN_SESSION["sitting"] = Sitting(meeting_id=41, title="Operational table, 5 December 2026",
                                    present_ids=frozenset({cell.coordinator.membership_id, cell.partner.membership_id}))
    yield IN_SESSION["sitting"]
    IN_SESSION["sitting"] = None


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def page(proposal_id: int) -> str:
    return f"/{LEUVEN}/decisions/{proposal_id}"


def propose_weighing(app, cell, **overrides) -> int:
    """The coordinator proposes to weigh a signal the partner recorded into a case: the proposal's id."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(cell.partner), signal_values())
        proposal = weigh_signal(signal, membership(cell.coordinator), weighing_values(cell, **overrides))
        proposal_id = proposal.id
        db.session.commit()
        db.session.remove()
    return proposal_id


def propose_closure(app, cell, case_id: int) -> int:
    with app.test_request_context(), tenant_context(cell.tenant_id):
        proposal = close_case(db.session.get(Case, case_id), membership(cell.coordinator),
                              {"reason": ClosureReason.GOALS_REACHED})
        proposal_id = proposal.id
        db.session.commit()
        db.session.remove()
    return proposal_id


def state(app, cell, proposal_id: int) -> dict:
    """What is stored: the proposal's status, where it was taken, who took part, and the case."""
    with app.app_context(), tenant_context(cell.tenant_id):
        proposal = db.session.get(Proposal, proposal_id)
        signal = db.session.get(Signal, proposal.subject_id) if proposal.subject_type == "signal" else None
        weighing = signal and db.session.scalar(sa.select(Weighing).where(Weighing.signal_id == signal.id))
        found = {
            "status": proposal.status,
            "taken_in": proposal.taken_in,
            "meeting_id": proposal.meeting_id,
            "participants": {(p.membership_id, p.role) for p in proposal.participants},
            "case_id": signal.case_id if signal else proposal.subject_id,
            "weighed_by": {p.membership_id for p in weighing.participants} if weighing else set(),
            "cases": db.session.scalar(sa.select(sa.func.count()).select_from(Case)),
        }
        db.session.remove()
        return found


def trail(app, cell, action: str) -> list[AuditEntry]:
    with app.app_context(), tenant_context(cell.tenant_id):
        entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()
        db.session.expunge_all()
        return entries


class Api:
    """A member's client for the API, with the CSRF token of their session."""

    def __init__(self, app, member):
        self.client = client_for(app, member)
        self.headers = {"X-CSRFToken": self.client.get(f"/{member.tenant_slug}/api/session").get_json()["csrf_token"], **EN}

    def get(self, path: str):
        return self.client.get(path, headers=EN)

    def post(self, path: str):
        return self.client.post(path, json={}, headers=self.headers)


# --- a proposal waits for a second member ------------------------------------------------------


def test_a_weighing_proposed_by_the_coordinator_opens_no_case_until_the_partner_confirms_it(app, cell):
    proposal_id = propose_weighing(app, cell)
    assert state(app, cell, proposal_id)["cases"] == 0

    partner = client_for(app, cell.partner)
    listed = partner.get(f"/{LEUVEN}/decisions", headers=EN)
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    assert "Weighing of a signal" in text(listed) and "You may confirm it" in text(listed)
    shown = partner.get(page(proposal_id), headers=EN)
    assert "Shared an attack video in the class group chat." in text(shown)  # what is proposed
    assert [entry.subject for entry in trail(app, cell, "decision.read")] == [f"decision:{proposal_id}"]

    confirmed = post_form(partner, page(proposal_id) + "/confirm", {}, form_path=page(proposal_id), headers=EN)

    after = state(app, cell, proposal_id)
    assert after["cases"] == 1 and after["status"] == DecisionStatus.TAKEN and after["taken_in"] == TakenIn.CONFIRMATION
    assert confirmed.status_code == 302 and confirmed.headers["Location"].endswith(f"/{LEUVEN}/cases/{after['case_id']}")
    assert after["participants"] == {(cell.coordinator.membership_id, ParticipantRole.PROPOSED),
                                     (cell.partner.membership_id, ParticipantRole.CONFIRMED)}
    assert after["weighed_by"] == {cell.coordinator.membership_id, cell.partner.membership_id}


def test_the_proposer_confirming_their_own_proposal_is_refused_with_the_rule_and_nothing_changes(app, cell):
    proposal_id = propose_weighing(app, cell)
    coordinator = client_for(app, cell.coordinator)
    assert "You may confirm it" not in text(coordinator.get(f"/{LEUVEN}/decisions", headers=EN))

    refused = post_form(coordinator, page(proposal_id) + "/confirm", {}, form_path=page(proposal_id), headers=EN)

    assert refused.status_code == 422 and refused.headers["Cache-Control"] == "no-store"
    assert str(OWN_PROPOSAL) in text(refused)
    after = state(app, cell, proposal_id)
    assert after["status"] == DecisionStatus.PROPOSED and after["cases"] == 0
    assert after["participants"] == {(cell.coordinator.membership_id, ParticipantRole.PROPOSED)}


def test_a_confirmation_refused_half_way_leaves_nothing_behind(app, cell):
    """The weighing's values are checked again when confirmed: a signal referred elsewhere since
    the proposal is refused with the rule, and the confirmer is not left among who took part."""
    proposal_id = propose_weighing(app, cell)
    with app.app_context(), tenant_context(cell.tenant_id):
        signal = db.session.get(Signal, db.session.get(Proposal, proposal_id).subject_id)
        signal.status, signal.decided_at = SignalStatus.REFERRED, utcnow()
        db.session.commit()
    partner = client_for(app, cell.partner)

    refused = post_form(partner, page(proposal_id) + "/confirm", {}, form_path=page(proposal_id), headers=EN)

    assert refused.status_code == 422 and "the decision stands" in text(refused)
    assert f'data-membership="{cell.partner.membership_id}"' not in text(refused)
    after = state(app, cell, proposal_id)
    assert after["status"] == DecisionStatus.PROPOSED and after["cases"] == 0
    assert after["participants"] == {(cell.coordinator.membership_id, ParticipantRole.PROPOSED)}


def test_a_guest_expert_cannot_see_the_decisions(app, cell):
    proposal_id = propose_weighing(app, cell)
    guest = add_member(app, cell.tenant_id, LEUVEN, Role.GUEST_EXPERT)
    with app.app_context(), tenant_context(cell.tenant_id):
        accept_undertaking(db.session.get(Membership, guest.membership_id))
        db.session.commit()
    client = client_for(app, guest)

    assert client.get(f"/{LEUVEN}/decisions").status_code == 403
    assert client.get(page(proposal_id)).status_code == 403
    assert client.get(API).status_code == 403
    assert "Decisions waiting" not in text(client.get(f"/{LEUVEN}/home", headers=EN))


def test_a_proposal_with_police_information_is_confirmed_by_the_cleared_information_officer_only(app, cell):
    proposal_id = propose_weighing(app, cell, follow_up_kind=FollowUpKind.POLICE)
    partner = client_for(app, cell.partner)
    assert str(POLICE_CONFIRMATION) in text(partner.get(f"/{LEUVEN}/decisions", headers=EN))
    hidden = partner.get(page(proposal_id), headers=EN)
    assert "Shared an attack video" not in text(hidden) and trail(app, cell, "decision.read") == []

    refused = post_form(partner, page(proposal_id) + "/confirm", {"confirm": "yes"}, form_path=page(proposal_id), headers=EN)
    assert refused.status_code == 422 and str(POLICE_CONFIRMATION) in text(refused)
    assert state(app, cell, proposal_id)["cases"] == 0

    officer = client_for(app, cell.information_officer)
    assert "Shared an attack video" in text(officer.get(page(proposal_id), headers=EN))
    confirmed = post_form(officer, page(proposal_id) + "/confirm", {}, form_path=page(proposal_id), headers=EN)
    assert confirmed.status_code == 302
    after = state(app, cell, proposal_id)
    assert after["cases"] == 1 and (cell.information_officer.membership_id, ParticipantRole.CONFIRMED) in after["participants"]


def test_the_proposer_withdraws_a_proposal_and_it_can_no_longer_be_confirmed(app, cell):
    proposal_id = propose_weighing(app, cell)
    partner = client_for(app, cell.partner)
    assert "Withdraw the proposal" not in text(partner.get(page(proposal_id), headers=EN))
    refused = post_form(partner, page(proposal_id) + "/withdraw", {}, form_path=page(proposal_id), headers=EN)
    assert refused.status_code == 422 and str(ONLY_PROPOSER_WITHDRAWS) in text(refused)

    coordinator = client_for(app, cell.coordinator)
    withdrawn = post_form(coordinator, page(proposal_id) + "/withdraw", {}, form_path=page(proposal_id), headers=EN)

    assert withdrawn.status_code == 302 and withdrawn.headers["Location"].endswith(f"/{LEUVEN}/decisions")
    assert state(app, cell, proposal_id)["status"] == DecisionStatus.WITHDRAWN
    assert "No decision is waiting for confirmation." in text(partner.get(f"/{LEUVEN}/decisions", headers=EN))
    late = Api(app, cell.partner).post(f"{API}/{proposal_id}/confirm")
    assert late.status_code == 422 and late.get_json()["error"]["fields"] == {"_schema": [str(NOT_OPEN)]}
    assert state(app, cell, proposal_id)["cases"] == 0


# --- need-to-know -------------------------------------------------------------------------------


def test_a_member_outside_the_case_team_sees_only_the_code_of_a_closure_proposal(app, cell):
    case_id, code = open_case(app, cell)
    proposal_id = propose_closure(app, cell, case_id)
    outsider = client_for(app, cell.social)  # OCMW, not in the case team

    listed = text(outsider.get(f"/{LEUVEN}/decisions", headers=EN))
    assert code in listed and "Closure of a case" in listed and 'data-shown="no"' in listed
    assert "Test coordinator" not in listed  # nor who proposed it
    shown = outsider.get(page(proposal_id), headers=EN)
    assert shown.status_code == 200 and GOALS_REACHED not in text(shown) and "Who took part" not in text(shown)
    answer = Api(app, cell.social).get(f"{API}/{proposal_id}").get_json()["decision"]
    assert set(answer) == {"id", "kind", "kind_label", "subject_type", "subject_code", "shown", "may_confirm",
                           "why_not", "described"}
    assert answer["subject_code"] == code and answer["shown"] is False and answer["described"] is None
    assert trail(app, cell, "decision.read") == []

    team = client_for(app, cell.partner)
    assert "Test coordinator" in text(team.get(f"/{LEUVEN}/decisions", headers=EN))
    assert GOALS_REACHED in text(team.get(page(proposal_id), headers=EN))
    confirmed = post_form(team, page(proposal_id) + "/confirm", {}, form_path=page(proposal_id), headers=EN)
    assert confirmed.headers["Location"].endswith(f"/{LEUVEN}/cases/{case_id}")
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.get(Case, case_id).status == CaseStatus.CLOSED


# --- the meeting in session, and the urgent fast path ------------------------------------------


def test_a_member_present_at_the_meeting_in_session_takes_the_proposal_in_it(app, cell, meeting_in_session):
    proposal_id = propose_weighing(app, cell)
    assert "Take it in this meeting" not in text(client_for(app, cell.social).get(page(proposal_id), headers=EN))
    partner = client_for(app, cell.partner)
    assert "Take it in this meeting (Operational table, 5 December 2026)" in text(partner.get(page(proposal_id), headers=EN))

    taken = post_form(partner, page(proposal_id) + "/take-in-meeting", {}, form_path=page(proposal_id), headers=EN)

    assert taken.status_code == 302
    after = state(app, cell, proposal_id)
    assert (after["status"], after["taken_in"], after["meeting_id"]) == (DecisionStatus.TAKEN, TakenIn.MEETING, 41)
    assert after["cases"] == 1 and after["weighed_by"] == {cell.coordinator.membership_id, cell.partner.membership_id}


def test_without_a_meeting_in_session_nothing_is_taken_in_one(app, cell):
    proposal_id = propose_weighing(app, cell)
    refused = Api(app, cell.partner).post(f"{API}/{proposal_id}/take-in-meeting")
    assert refused.status_code == 422 and "_schema" in refused.get_json()["error"]["fields"]
    assert state(app, cell, proposal_id)["status"] == DecisionStatus.PROPOSED


def test_an_urgent_act_not_confirmed_in_time_is_shown_as_late(app, cell):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(cell.partner), signal_values(urgency="urgent"))
        proposal = weigh_signal(signal, membership(cell.coordinator), {**weighing_values(cell), "way": "urgent"})
        proposal.confirm_by = utcnow() - timedelta(hours=1)
        proposal_id = proposal.id
        db.session.commit()
        db.session.remove()

    listed = text(client_for(app, cell.partner).get(f"/{LEUVEN}/decisions", headers=EN))
    assert "Urgent: in effect, waiting for confirmation" in listed and "Late: this urgent act" in listed
    answer = Api(app, cell.partner).get(API).get_json()["decisions"][0]
    assert answer["id"] == proposal_id and answer["overdue"] is True and answer["confirm_by"] is not None


# --- the API ----------------------------------------------------------------------------------


def test_the_api_lists_confirms_and_refuses_field_by_field(app, cell, cells):
    proposal_id = propose_weighing(app, cell)
    coordinator, partner = Api(app, cell.coordinator), Api(app, cell.partner)

    listed = partner.get(API)
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    [waiting] = listed.get_json()["decisions"]
    assert waiting["id"] == proposal_id and waiting["kind"] == "weighing" and waiting["status"] == "proposed"
    assert waiting["may_confirm"] is True and waiting["why_not"] is None and waiting["proposed_by"] == "Test coordinator"
    mine = coordinator.get(API).get_json()["decisions"][0]
    assert mine["may_confirm"] is False and mine["why_not"] == str(OWN_PROPOSAL)

    refused = coordinator.post(f"{API}/{proposal_id}/confirm")
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"] == {"_schema": [str(OWN_PROPOSAL)]}

    confirmed = partner.post(f"{API}/{proposal_id}/confirm")
    assert confirmed.status_code == 200 and confirmed.headers["Cache-Control"] == "no-store"
    decision = confirmed.get_json()["decision"]
    assert (decision["status"], decision["taken_in"], decision["may_confirm"]) == ("taken", "confirmation", False)
    assert [(p["membership_id"], p["role"]) for p in decision["participants"]] == [
        (cell.coordinator.membership_id, "proposed"), (cell.partner.membership_id, "confirmed")]
    assert partner.get(API).get_json()["recent"][0]["subject_code"] == decision["subject_code"]

    detail = partner.get(f"{API}/{proposal_id}").get_json()["decision"]
    assert {"label": "Flag", "value": "Red"} in detail["described"]

    other = ready_cell(app, cells[HERKO], HERKO)
    assert Api(app, other.coordinator).get(f"/{HERKO}/api/decisions/{proposal_id}").status_code == 404


def test_the_home_page_counts_the_decisions_waiting_for_the_members_confirmation(app, cell):
    propose_weighing(app, cell)
    home = text(client_for(app, cell.partner).get(f"/{LEUVEN}/home", headers=EN))
    assert "Decisions waiting for your confirmation" in home and "(1)" in home
    coordinator_home = text(client_for(app, cell.coordinator).get(f"/{LEUVEN}/home", headers=EN))
    assert "No decision waits for your confirmation." in coordinator_home  # their own proposal waits for another
