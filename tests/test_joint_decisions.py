"""The cell decides together (issue 14, point 4; seeds 001 and 004).

Weighing a signal (and so opening a case), changing a case team and closing a case are
proposals until a second member confirms them: a proposal alone changes nothing. The second
member is never the proposer nor a guest expert, is the information officer when police
information is involved, and may read the case for a case's decisions. An urgent signal keeps
its fast path: the coordinator acts, a second member confirms later.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

from auth_helpers import add_member, give_session
from case_helpers import LEUVEN, membership, open_case, ready_cell, signal_values, weighing_values
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.tenants.cases import operations as cases
from livc.tenants.cases.erasure import erase_case
from livc.tenants.cases.models import Case, CaseStatus, ClosureReason, FurtherFollowUp, TerroristPhase
from livc.tenants.cases.weighing import weigh_signal
from livc.tenants.decisions.models import DecisionStatus, DecisionWay, ParticipantRole, Proposal
from livc.tenants.decisions.operations import confirm, withdraw
from livc.tenants.signals.models import FollowUpKind, Signal, SignalStatus, Urgency, Weighing
from livc.tenants.signals.operations import submit_signal

EN = {"Accept-Language": "en"}


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


@pytest.fixture
def ctx(app, cell):
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        yield
        db.session.rollback()


def refusal(call, *args) -> str:
    with pytest.raises(ValidationError) as refused:
        call(*args)
    return " ".join(message for messages in refused.value.messages.values() for message in messages)


def case_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Case.id)))


def proposed_weighing(cell, **overrides) -> tuple[Signal, Proposal]:
    signal = submit_signal(membership(cell.partner), signal_values(**overrides.pop("signal", {})))
    return signal, weigh_signal(signal, membership(cell.coordinator), weighing_values(cell, **overrides))


def test_a_proposed_weighing_opens_no_case_until_a_second_member_confirms_it(cell, ctx):
    signal, proposal = proposed_weighing(cell)

    assert proposal.status == DecisionStatus.PROPOSED and not proposal.in_effect
    assert case_count() == 0 and signal.status == SignalStatus.NEW and signal.case_id is None

    confirm(proposal, membership(cell.partner))

    assert proposal.status == DecisionStatus.TAKEN and case_count() == 1
    assert signal.status == SignalStatus.CASE_OPENED and signal.case_id is not None
    weighing = db.session.scalar(sa.select(Weighing).where(Weighing.signal_id == signal.id))
    # Who took part: who proposed and who confirmed, nobody typed in.
    assert {p.membership_id for p in weighing.participants} == {cell.coordinator.membership_id, cell.partner.membership_id}


def test_the_proposer_cannot_confirm_their_own_proposal(cell, ctx):
    _signal, proposal = proposed_weighing(cell)
    assert "another member" in refusal(confirm, proposal, membership(cell.coordinator))
    assert case_count() == 0


def test_a_guest_expert_never_confirms_a_decision(app, cell, ctx):
    guest = add_member(app, cell.tenant_id, cell.slug, Role.GUEST_EXPERT)
    _signal, proposal = proposed_weighing(cell)
    assert "guest experts" in refusal(confirm, proposal, membership(guest))
    assert case_count() == 0


def test_a_list_of_participants_typed_by_one_person_is_refused(cell, ctx):
    signal = submit_signal(membership(cell.partner), signal_values())
    values = weighing_values(cell, participant_ids=[cell.partner.membership_id, cell.mayor.membership_id])
    assert "not typed" in refusal(weigh_signal, signal, membership(cell.coordinator), values)
    assert db.session.scalar(sa.select(sa.func.count(Proposal.id))) == 0


def test_with_police_information_only_the_cleared_information_officer_confirms(cell, ctx):
    _signal, proposal = proposed_weighing(cell, follow_up_kind=FollowUpKind.MIXED)
    assert proposal.police_information
    assert "information officer" in refusal(confirm, proposal, membership(cell.partner))
    confirm(proposal, membership(cell.information_officer))
    assert case_count() == 1


def test_a_withdrawn_proposal_can_no_longer_be_confirmed(cell, ctx):
    _signal, proposal = proposed_weighing(cell)
    withdraw(proposal, membership(cell.coordinator))
    assert "no longer waiting" in refusal(confirm, proposal, membership(cell.partner))
    assert case_count() == 0


def test_a_second_proposal_on_the_same_signal_waits_for_the_first(cell, ctx):
    signal, _proposal = proposed_weighing(cell)
    values = weighing_values(cell)
    assert "already waiting" in refusal(weigh_signal, signal, membership(cell.coordinator), values)


def test_a_team_change_waits_for_a_member_who_may_read_the_case(app, cell):
    case_id, _code = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        proposal = cases.add_team_member(case, membership(cell.coordinator), {"membership_id": cell.social.membership_id})
        assert case.team_membership_ids == {cell.partner.membership_id}
        # The OCMW partner is outside the team: they do not decide on a case they may not read.
        assert "not in the team" in refusal(confirm, proposal, membership(cell.social))
        confirm(proposal, membership(cell.partner))
        assert case.team_membership_ids == {cell.partner.membership_id, cell.social.membership_id}

        member = cases.find_team_member(case, next(m.id for m in case.team if m.membership_id == cell.social.membership_id))
        leaving = cases.remove_team_member(case, member, membership(cell.coordinator))
        assert cell.social.membership_id in case.team_membership_ids
        confirm(leaving, membership(cell.partner))
        assert case.team_membership_ids == {cell.partner.membership_id}
        db.session.rollback()


def test_a_case_stays_open_until_its_closure_is_confirmed(app, cell):
    case_id, _code = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        proposal = cases.close_case(case, membership(cell.coordinator), {"reason": ClosureReason.GOALS_REACHED})
        assert case.status == CaseStatus.OPEN
        confirm(proposal, membership(cell.partner))
        assert case.status == CaseStatus.CLOSED and case.closed_by_id == cell.coordinator.membership_id
        db.session.rollback()


def test_a_mixed_case_outside_the_officers_team_is_still_closed_with_their_confirmation(app, cell):
    case_id, _code = open_case(app, cell, follow_up_kind=FollowUpKind.MIXED)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        assert cell.information_officer.membership_id not in case.team_membership_ids
        proposal = cases.close_case(case, membership(cell.coordinator), {"reason": ClosureReason.GOALS_REACHED})
        assert "information officer" in refusal(confirm, proposal, membership(cell.partner))
        confirm(proposal, membership(cell.information_officer))
        assert case.status == CaseStatus.CLOSED
        db.session.rollback()


def test_the_feedback_form_is_never_released_on_one_members_approval(app, cell):
    case_id, _code = open_case(app, cell, team_ids=[])
    answers = {"effectiveness": "Good", "cooperation": "Willing", "distance": "Distanced clearly",
               "further_follow_up": FurtherFollowUp.NOT_USEFUL, "other_elements": "Back at school",
               "terrorist_phase": TerroristPhase.NO}
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case, coordinator = db.session.get(Case, case_id), membership(cell.coordinator)
        feedback = cases.start_feedback(case, coordinator, answers)
        cases.approve_feedback(case, feedback, coordinator)
        # The coordinator is the only participating member: their approval alone releases nothing.
        assert "a second member of the case team approves it" in refusal(cases.release_feedback, case, feedback, coordinator)
        assert not feedback.released
        db.session.rollback()


def test_an_urgent_signal_is_acted_on_at_once_and_confirmed_afterwards(cell, ctx):
    signal, proposal = proposed_weighing(cell, signal={"urgency": Urgency.URGENT.value}, way=DecisionWay.URGENT)

    assert proposal.status == DecisionStatus.ACTED_URGENTLY and proposal.confirm_by is not None
    assert case_count() == 1 and signal.status == SignalStatus.CASE_OPENED

    confirm(proposal, membership(cell.partner))

    assert proposal.status == DecisionStatus.TAKEN
    weighing = db.session.scalar(sa.select(Weighing).where(Weighing.signal_id == signal.id))
    assert {p.membership_id for p in weighing.participants} == {cell.coordinator.membership_id, cell.partner.membership_id}
    assert {p.role for p in proposal.participants} == {ParticipantRole.PROPOSED, ParticipantRole.CONFIRMED}


def test_a_signal_that_is_not_urgent_has_no_fast_path(cell, ctx):
    signal = submit_signal(membership(cell.partner), signal_values())
    values = weighing_values(cell, way=DecisionWay.URGENT)
    assert "urgent signal" in refusal(weigh_signal, signal, membership(cell.coordinator), values)
    assert case_count() == 0


def test_without_a_meeting_in_session_a_decision_cannot_claim_one(cell, ctx):
    signal = submit_signal(membership(cell.partner), signal_values())
    values = weighing_values(cell, way=DecisionWay.MEETING)
    assert "No meeting" in refusal(weigh_signal, signal, membership(cell.coordinator), values)


def test_erasing_a_case_erases_the_decisions_about_it(app, cell):
    case_id, _code = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        confirm(cases.close_case(case, membership(cell.coordinator), {"reason": ClosureReason.GOALS_REACHED}),
                membership(cell.partner))
        assert db.session.scalar(sa.select(sa.func.count(Proposal.id)).where(Proposal.subject_type == "case")) == 1
        erase_case(case)
        assert db.session.scalar(sa.select(sa.func.count(Proposal.id)).where(Proposal.subject_type == "case")) == 0
        db.session.rollback()


# --- through the API -----------------------------------------------------------------------------


def api_client(app, member):
    client = app.test_client()
    give_session(app, client, member)
    token = client.get(f"/{member.tenant_slug}/api/session").get_json()["csrf_token"]
    return client, {"X-CSRFToken": token, **EN}


def api_weighing_body(cell, **overrides) -> dict:
    return {
        "flag": "red", "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social",
        "facts": [{"fact": "propaganda", "description": "Shared an attack video in the class group chat."}],
        "team_ids": [cell.partner.membership_id], **overrides,
    }


def test_through_the_api_a_weighing_is_accepted_as_a_proposal_and_opens_nothing(app, cell):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal_id = submit_signal(membership(cell.partner), signal_values()).id
        db.session.commit()
    client, headers = api_client(app, cell.coordinator)

    answer = client.post(f"/{cell.slug}/api/signals/{signal_id}/weighing", json=api_weighing_body(cell), headers=headers)

    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert answer.get_json()["decision"]["status"] == "proposed" and "case" not in answer.get_json()
    with app.app_context(), tenant_context(cell.tenant_id):
        assert case_count() == 0


def test_through_the_api_named_participants_are_refused(app, cell):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal_id = submit_signal(membership(cell.partner), signal_values()).id
        db.session.commit()
    client, headers = api_client(app, cell.coordinator)
    body = api_weighing_body(cell, participant_ids=[cell.partner.membership_id])

    answer = client.post(f"/{cell.slug}/api/signals/{signal_id}/weighing", json=body, headers=headers)

    assert answer.status_code == 422
    assert "participant_ids" in answer.get_json()["error"]["fields"]


def test_through_the_api_a_closure_waits_and_a_team_change_waits(app, cell):
    case_id, _code = open_case(app, cell)
    client, headers = api_client(app, cell.coordinator)

    closing = client.post(f"/{cell.slug}/api/cases/{case_id}/closure", json={"reason": "goals_reached"}, headers=headers)
    joining = client.post(f"/{cell.slug}/api/cases/{case_id}/team", json={"membership_id": cell.social.membership_id},
                          headers=headers)

    assert closing.status_code == 202 and joining.status_code == 202
    assert closing.get_json()["case"]["status"] == "open"
    with app.app_context(), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        assert case.status == CaseStatus.OPEN and case.team_membership_ids == {cell.partner.membership_id}
