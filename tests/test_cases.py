"""Signals, weighing, cases, follow-up, LTF feedback, closure and erasure: the rules themselves.

These tests call the operations the pages and API share (tests/test_case_pages.py and
tests/test_case_api.py go through HTTP). They run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

from case_helpers import (
    HERKO,
    IDENTITY,
    LEUVEN,
    OBSERVATION,
    case_confirmer,
    confirmed,
    membership,
    open_case,
    ready_cell,
    signal_values,
    weighing_values,
)
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.keys import DataKey, KeyDestroyed, decrypt
from livc.tenants.cases import operations as cases
from livc.tenants.cases import weighing as weighing_ops
from livc.tenants.cases.models import (
    Case,
    CaseStatus,
    CaseTeamMember,
    ClosureReason,
    FurtherFollowUp,
    MeasureStatus,
    NoteVisibility,
    ReviewKind,
    ReviewOutcome,
    TerroristPhase,
)
from livc.tenants.decisions.models import DecisionStatus
from livc.tenants.retention import operations as retention
from livc.tenants.signals import operations as signals
from livc.tenants.signals.models import (
    ErasureTally,
    FlagLevel,
    Identity,
    Signal,
    SignalChannel,
    SignalStatus,
    Weighing,
    WeighingDecision,
)

EN = {"Accept-Language": "en"}  # the messages asserted are the English ones


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


@pytest.fixture
def ctx(app, cell):
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        yield
        db.session.rollback()


def faults(call, *args, **kwargs) -> dict:
    with pytest.raises(ValidationError) as refused:
        call(*args, **kwargs)
    db.session.rollback()
    return refused.value.messages


def test_a_partner_signal_needs_the_filter_of_their_own_organisation(cell, ctx):
    refused = faults(signals.submit_signal, membership(cell.partner), signal_values(internal_assessment="not_done"))
    assert "own organisation first" in refused["internal_assessment"][0]
    assert db.session.scalar(sa.select(sa.func.count(Signal.id))) == 0


def test_only_the_coordinator_logs_calls_and_only_the_information_officer_brings_ltf_referrals(cell, ctx):
    assert "channel" in faults(signals.submit_signal, membership(cell.partner), signal_values(channel=SignalChannel.PHONE))
    assert "channel" in faults(signals.submit_signal, membership(cell.coordinator),
                               signal_values(channel=SignalChannel.LTF_REFERRAL))
    phoned = faults(signals.submit_signal, membership(cell.coordinator),
                    signal_values(channel=SignalChannel.PHONE, internal_assessment="not_applicable"))
    assert "reporter_contact" in phoned  # who called, and how to reach them
    referral = signals.submit_signal(membership(cell.information_officer),
                                     signal_values(channel=SignalChannel.LTF_REFERRAL, internal_assessment="not_applicable"))
    assert referral.reference.startswith("S-") and referral.status == SignalStatus.NEW


def test_a_signal_may_be_anonymous_and_never_becomes_a_case_by_itself(cell, ctx):
    signal = signals.submit_signal(membership(cell.partner), {k: v for k, v in signal_values().items() if k not in IDENTITY})
    assert signal.identity_id is None and signal.case_id is None
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 0


def test_weighing_opens_a_case_with_a_pseudonymous_code(app, cell):
    """The coordinator proposes, the partner confirms: who took part are those two (proposer and
    confirmer), never a typed list."""
    case_id, code = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        assert code == f"LEU-{date.today().year}-001"
        assert case.team_membership_ids == {cell.partner.membership_id}
        assert case.next_review_on is not None
        signal = db.session.scalar(sa.select(Signal).where(Signal.case_id == case_id))
        assert signal.status == SignalStatus.CASE_OPENED and signal.identity_id == case.identity_id
        weighed = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "signal.weighed"))
        assert weighed.details["case"] == code and weighed.details["participants"] == 2
        weighing = db.session.scalar(sa.select(Weighing).where(Weighing.signal_id == signal.id))
        assert {p.membership_id for p in weighing.participants} == {
            cell.coordinator.membership_id, cell.partner.membership_id}
        assert "Van den Berghe" not in str(weighed.details) and OBSERVATION not in str(weighed.details)


def test_weighing_refuses_summary_grounds_low_flags_and_typed_participants(cell, ctx):
    """Who took part is never a list one person types: a weighing naming ``participant_ids`` is refused."""
    signal = signals.submit_signal(membership(cell.partner), signal_values())
    db.session.commit()
    coordinator = membership(cell.coordinator)
    refused = faults(weighing_ops.weigh_signal, signal, coordinator,
                     weighing_values(cell, facts=[], participant_ids=[cell.partner.membership_id], flag=FlagLevel.YELLOW))
    assert "facts" in refused and "participant_ids" in refused and "flag" in refused
    signal = db.session.get(Signal, signal.id)
    assert signal.status == SignalStatus.NEW and signal.weighing is None
    # Otherwise sound, the weighing is refused for the typed list alone.
    refused = faults(weighing_ops.weigh_signal, db.session.get(Signal, signal.id), coordinator,
                     weighing_values(cell, participant_ids=[cell.partner.membership_id]))
    assert list(refused) == ["participant_ids"]
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 0


def test_a_weighing_is_only_proposed_until_a_second_member_confirms_it(app, cell):
    """One person's weighing opens no case: neither its proposer nor a guest expert confirms it,
    another member of the table does; then the case opens."""
    from auth_helpers import add_member
    from livc.platform.roles import Role

    guest = add_member(app, cell.tenant_id, LEUVEN, Role.GUEST_EXPERT)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        _proposed_then_confirmed(cell, guest)
        db.session.rollback()


def _proposed_then_confirmed(cell, guest):
    signal = signals.submit_signal(membership(cell.partner), signal_values())
    db.session.commit()
    proposal = weighing_ops.weigh_signal(signal, membership(cell.coordinator), weighing_values(cell))
    db.session.commit()
    assert proposal.status == DecisionStatus.PROPOSED and not proposal.in_effect
    signal = db.session.get(Signal, signal.id)
    assert signal.status == SignalStatus.NEW and signal.weighing is None and signal.case_id is None
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 0
    assert "another member" in faults(confirmed, proposal, cell.coordinator)["_schema"][0]
    assert "guest experts" in faults(confirmed, proposal, guest)["_schema"][0]
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 0
    confirmed(proposal, cell.mayor)
    db.session.commit()
    signal = db.session.get(Signal, signal.id)
    assert signal.status == SignalStatus.CASE_OPENED and signal.case_id is not None
    assert {p.membership_id for p in signal.weighing.participants} == {
        cell.coordinator.membership_id, cell.mayor.membership_id}


def test_police_information_is_confirmed_by_the_cleared_information_officer_only(cell, ctx):
    from livc.tenants.signals.models import FollowUpKind

    signal = signals.submit_signal(membership(cell.partner), signal_values())
    db.session.commit()
    proposal = weighing_ops.weigh_signal(signal, membership(cell.coordinator),
                                         weighing_values(cell, follow_up_kind=FollowUpKind.MIXED))
    db.session.commit()
    assert proposal.police_information
    assert "information officer" in faults(confirmed, proposal, cell.partner)["_schema"][0]
    assert db.session.get(Signal, signal.id).case_id is None
    confirmed(proposal, cell.information_officer)
    assert db.session.get(Signal, signal.id).status == SignalStatus.CASE_OPENED


def test_insufficient_elements_is_final(cell, ctx):
    signal = signals.submit_signal(membership(cell.partner), signal_values())
    db.session.commit()
    coordinator = membership(cell.coordinator)
    assert "rationale" in faults(weighing_ops.weigh_signal, signal, coordinator,
                                 weighing_values(cell, decision=WeighingDecision.INSUFFICIENT, flag=FlagLevel.GREEN))
    signal = db.session.get(Signal, signal.id)
    proposal = weighing_ops.weigh_signal(signal, coordinator, weighing_values(
        cell, decision=WeighingDecision.INSUFFICIENT, flag=FlagLevel.GREEN, facts=[], rationale="A school conflict, no ideology."))
    db.session.commit()
    # While the proposal waits, another proposal on the same signal is refused, and nothing changed.
    pending = faults(weighing_ops.weigh_signal, db.session.get(Signal, signal.id), coordinator, weighing_values(cell))
    assert "already waiting" in pending["_schema"][0]
    assert db.session.get(Signal, signal.id).status == SignalStatus.NEW
    confirmed(proposal, cell.partner)
    db.session.commit()
    signal = db.session.get(Signal, signal.id)
    again = faults(weighing_ops.weigh_signal, signal, coordinator, weighing_values(cell))
    assert "record a new signal" in again["decision"][0]
    assert db.session.get(Signal, signal.id).status == SignalStatus.INSUFFICIENT


def test_the_legal_minimum_comes_before_the_first_case(app, cells):
    from auth_helpers import add_member
    from livc.platform.roles import Role

    coordinator = add_member(app, cells[HERKO], HERKO, Role.COORDINATOR)
    partner = add_member(app, cells[HERKO], HERKO, Role.PARTNER)
    with app.test_request_context(headers=EN), tenant_context(cells[HERKO]):
        signal = signals.submit_signal(membership(partner), signal_values())
        db.session.commit()
        values = weighing_values(type("C", (), {"partner": partner, "information_officer": partner})(), team_ids=[])
        refused = faults(weighing_ops.weigh_signal, signal, membership(coordinator), values)
        # Without house rules in force, the legal basis (seed 002) is what the cell hears first.
        assert "article 458ter of the Criminal Code, seed 002" in refused["decision"][0]


def test_identities_are_encrypted_and_found_through_the_blind_index_only(app, cell):
    case_id, code = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        with db.engine.connect() as connection:
            dump = "\n".join(str(row) for table in ("identities", "signals", "weighing_facts")
                             for row in connection.execute(sa.text(f"select * from {table}")))
        for secret in ("Van den Berghe", "Berghe", "lodie", "123.42", "Bondgenotenlaan", "glorifying", "class group chat"):
            assert secret not in dump
        found = cases.search_people(name="vandenberghe elodie")
        assert [(hit.kind, hit.reference) for hit in found] == [("case", code), ("signal", found[1].reference)]
        assert cases.search_people(name="VAN DEN BERGHE")[0].reference == code
        assert cases.search_people(national_number="07031412342")[0].reference == code
        assert cases.search_people(name="Vandenberg") == []
        searched = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "identity.searched"))
        assert searched.details == {"hits": 2}


def test_the_case_team_and_guest_experts_for_a_limited_time(app, cell):
    from auth_helpers import add_member
    from livc.platform.roles import Role

    guest = add_member(app, cell.tenant_id, LEUVEN, Role.GUEST_EXPERT)
    case_id, _ = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case, coordinator = db.session.get(Case, case_id), membership(cell.coordinator)
        too_long = faults(cases.add_team_member, case, coordinator,
                          {"membership_id": guest.membership_id, "until": date.today() + timedelta(days=90)})
        assert "invitation ends" in too_long["until"][0]
        case = db.session.get(Case, case_id)
        proposal = cases.add_team_member(case, coordinator, {"membership_id": guest.membership_id})
        assert guest.membership_id not in case.team_membership_ids  # nothing before a second member confirms
        confirmed(proposal, case_confirmer(cell, case))
        member = db.session.scalar(sa.select(CaseTeamMember).where(
            CaseTeamMember.case_id == case_id, CaseTeamMember.membership_id == guest.membership_id))
        assert member.until == membership(guest).expires_at.date()
        assert guest.membership_id in case.team_membership_ids
        member.until = date.today() - timedelta(days=1)
        assert guest.membership_id not in case.team_membership_ids


def test_closing_with_open_measures_needs_a_reason_and_plans_reviews_after_closure(app, cell):
    case_id, code = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case, coordinator = db.session.get(Case, case_id), membership(cell.coordinator)
        measure = cases.add_measure(case, coordinator, {
            "description": "Talk with the pupil guidance counsellor", "organisation_id": membership(cell.partner).organisation_id,
            "due_on": date.today() + timedelta(days=10), "category": "education"})
        db.session.commit()
        refused = faults(cases.close_case, db.session.get(Case, case_id), coordinator, {"reason": ClosureReason.GOALS_REACHED})
        assert "still open" in refused["note"][0]
        case = db.session.get(Case, case_id)
        assert case.status == CaseStatus.OPEN
        proposal = cases.close_case(case, coordinator, {"reason": ClosureReason.MOVED_AWAY, "municipality": "44021", "note": "Moved to Gent; their cell takes over."})
        db.session.commit()
        case = db.session.get(Case, case_id)
        # Proposed only: the case stays open and its measure too until a second member confirms.
        assert case.status == CaseStatus.OPEN and case.closed_at is None
        assert db.session.get(type(measure), measure.id).status != MeasureStatus.CANCELLED
        assert "another member" in faults(confirmed, proposal, cell.coordinator)["_schema"][0]
        assert "team of this case" in faults(confirmed, proposal, cell.social)["_schema"][0]
        case = db.session.get(Case, case_id)
        confirmed(db.session.get(type(proposal), proposal.id), case_confirmer(cell, case))
        assert case.status == CaseStatus.CLOSED
        assert db.session.get(type(measure), measure.id).status == MeasureStatus.CANCELLED
        after = [review for review in cases.reviews_of(case) if review.kind == ReviewKind.AFTER_CLOSURE]
        assert [r.due_on for r in after] == [cases.add_months(date.today(), 6), cases.add_months(date.today(), 12)]
        assert case.erase_after == cases.add_months(date.today(), 24)
        db.session.commit()
        assert "closed" in faults(cases.add_measure, db.session.get(Case, case_id), coordinator,
                                  {"description": "x", "organisation_id": 1, "category": "care"})["_schema"][0]
        # A review after closure can take the case up again.
        case = db.session.get(Case, case_id)
        cases.hold_review(case, cases.next_open_review(case), coordinator, {"outcome": ReviewOutcome.REOPEN, "summary": "New worrying signs."})
        assert case.status == CaseStatus.OPEN and case.erase_after is None


def test_restricted_notes_reach_the_coordinator_and_information_officer_only(app, cell):
    from livc.tenants.access import person_for

    case_id, _ = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        cases.add_note(case, membership(cell.partner), {"body": "Met the pupil; calm.", "visibility": NoteVisibility.TEAM})
        cases.add_note(case, membership(cell.coordinator), {"body": "Police file exists.", "visibility": NoteVisibility.RESTRICTED})
        seen = {name: [note.body for note in cases.notes_for(person_for(membership(member)), case)]
                for name, member in (("partner", cell.partner), ("coordinator", cell.coordinator),
                                     ("officer", cell.information_officer))}
        assert seen["partner"] == ["Met the pupil; calm."]
        assert seen["coordinator"] == seen["officer"] == ["Met the pupil; calm.", "Police file exists."]


def test_feedback_is_released_only_after_every_participant_approved_its_current_revision(app, cell):
    case_id, code = open_case(app, cell)
    answers = {"effectiveness": "Good", "cooperation": "Willing", "distance": "Distanced clearly",
               "further_follow_up": FurtherFollowUp.NOT_USEFUL, "other_elements": "Back at school",
               "terrorist_phase": TerroristPhase.NO}
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case, coordinator, partner = db.session.get(Case, case_id), membership(cell.coordinator), membership(cell.partner)
        feedback = cases.start_feedback(case, coordinator, answers)
        cases.approve_feedback(case, feedback, coordinator)
        db.session.commit()
        refused = faults(cases.release_feedback, db.session.get(Case, case_id), feedback, coordinator)
        assert "waiting for: Test partner" in refused["approvals"][0]
        case, feedback = db.session.get(Case, case_id), db.session.get(type(feedback), feedback.id)
        assert "_schema" in faults(cases.approve_feedback, case, feedback, membership(cell.social))  # not in the team
        case, feedback = db.session.get(Case, case_id), db.session.get(type(feedback), feedback.id)
        cases.approve_feedback(case, feedback, partner, revision=1)
        cases.update_feedback(case, feedback, coordinator, {"distance": "Distanced, with doubts"})
        assert feedback.revision == 2 and not cases.approval_state(case, feedback).approved
        db.session.commit()
        assert "approvals" in faults(cases.release_feedback, db.session.get(Case, case_id), feedback, coordinator)
        case, feedback = db.session.get(Case, case_id), db.session.get(type(feedback), feedback.id)
        assert "revision" in faults(cases.approve_feedback, case, feedback, partner, revision=1)
        case, feedback = db.session.get(Case, case_id), db.session.get(type(feedback), feedback.id)
        for member in (coordinator, partner):
            cases.approve_feedback(case, feedback, member, revision=2)
        cases.release_feedback(case, feedback, coordinator)
        db.session.commit()
        assert feedback.released and "_schema" in faults(cases.update_feedback, db.session.get(Case, case_id),
                                                         feedback, coordinator, {"distance": "x"})
        trail = [entry.action for entry in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq))]
        assert trail.count("case.feedback_approved") == 4 and "case.feedback_changed" in trail
        assert "case.feedback_released" in trail


def test_erasure_destroys_the_keys_and_leaves_anonymous_counts(app, cell):
    case_id, code = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        case, coordinator = db.session.get(Case, case_id), membership(cell.coordinator)
        cases.add_note(case, coordinator, {"body": "Follow-up going well.", "visibility": NoteVisibility.TEAM})
        confirmed(cases.close_case(case, coordinator, {"reason": ClosureReason.GOALS_REACHED}), case_confirmer(cell, case))
        identity_id = case.identity_id
        ciphertext = db.session.get(Identity, identity_id).family_name_ciphertext
        db.session.commit()
        later = case.erase_after + timedelta(days=1)
        report = retention.apply_retention(later, dry_run=True)
        assert [(item.kind, item.reference) for item in report] == [("case", code)]
        assert db.session.get(Case, case_id) is not None  # a dry run erases nothing
        retention.apply_retention(later)
        db.session.commit()
        assert db.session.get(Case, case_id) is None and db.session.get(Identity, identity_id) is None
        assert db.session.scalar(sa.select(sa.func.count(Signal.id))) == 0
        scopes = {key.scope: key.destroyed_at for key in db.session.scalars(sa.select(DataKey))}
        assert scopes[f"case:{case_id}"] and scopes[f"identity:{identity_id}"]
        with pytest.raises(KeyDestroyed):
            decrypt(ciphertext, f"identity:{identity_id}")
        tally = db.session.scalar(sa.select(ErasureTally).where(ErasureTally.record == "case"))
        assert (tally.count, tally.outcome, tally.year) == (1, "goals_reached", date.today().year)
        assert cases.search_people(name=IDENTITY["family_name"]) == []
