"""How the cell decides together: propose, confirm, withdraw, or decide in a meeting.

The domains whose decisions are joint (the cases: weighing, team changes, closure, the feedback
form's release) register a :class:`Handler` per :class:`DecisionKind`: how to check the values,
how to carry them until confirmation, and the effect. This module holds the rules every one of
those decisions shares, so that no page, API call or script can skip them:

- a proposal has no effect until another participating member confirms it (never its proposer,
  never a guest expert; the cleared information officer when police information is involved);
- in a meeting in session, a decision is taken by the members registered present (two at
  least, the one who records it among them): the attendance register is the proof;
- the urgent fast path (an urgent signal): the coordinator acts at once, a second member
  confirms within :data:`URGENT_CONFIRMATION_HOURS`, and the next meeting records it;
- the participants of a decision are who proposed, confirmed or attended, never names typed
  by one person;
- every step locks what it checks before checking it (the subject, then the proposal:
  :func:`livc.platform.db.locked`): a decision sent twice at once, a double-clicked form or two
  members confirming together take turns, and the second is refused field by field (422), never
  applied twice.

Meetings sit above this domain: they tell which meeting is in session through
:func:`register_sitting_provider`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.platform import audit
from livc.platform.db import db, locked
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.decisions.models import (
    OPEN_STATUSES,
    DecisionKind,
    DecisionParticipant,
    DecisionStatus,
    DecisionWay,
    ParticipantRole,
    Proposal,
    TakenIn,
)
from livc.tenants.members.models import Membership

URGENT_CONFIRMATION_HOURS = 48

OWN_PROPOSAL = _l("You proposed this decision: another member of the cell confirms it, not you.")
NOT_PARTICIPATING = _l("Only an active member of the cell's table confirms decisions (guest experts do not).")
POLICE_CONFIRMATION = _l(
    "Police information is involved: the information officer, with a valid security clearance, confirms this decision."
)
NOT_OPEN = _l("This decision is no longer waiting for confirmation.")
NOT_IN_TEAM = _l("You are not in the team of this case: its decisions are confirmed by its team.")
ALREADY_PROPOSED = _l("A proposal on this is already waiting for confirmation: confirm or withdraw that one first.")
NOT_PRESENT = _l("Only a member registered present at the meeting records its decisions.")
TOO_FEW_PRESENT = _l("A meeting decides with at least two members registered present.")
ONLY_PROPOSER_WITHDRAWS = _l("Only whoever proposed it, or the coordinator, withdraws a proposal.")
NOT_URGENT = _l("Only the coordinator, on an urgent signal, acts before a second member confirms.")
NO_SITTING = _l("No meeting of the cell is in session: propose the decision, another member confirms it.")


@dataclass(frozen=True)
class Sitting:
    """A meeting in session, as the decisions see it."""

    meeting_id: int
    title: str
    present_ids: frozenset[int]


@dataclass(frozen=True)
class Handler:
    """What a domain tells the engine about one kind of decision.

    ``check(subject, values, actor)`` raises a ``ValidationError`` field by field (it runs when
    proposed and again when taken: things change in between); ``apply(subject, values, actor,
    participant_ids, proposal)`` is the effect; ``dump``/``restore`` carry the values as JSON until
    then; ``may_confirm(membership, subject)`` adds the domain's need-to-know (a case decision
    is confirmed by someone who may read the case).
    """

    kind: DecisionKind
    subject_type: str
    load: Callable[[int], Any]
    code: Callable[[Any], str | None]
    check: Callable[[Any, Mapping[str, Any], Membership], dict[str, Any]]
    apply: Callable[[Any, Mapping[str, Any], Membership, Sequence[int], Proposal], None]
    dump: Callable[[Mapping[str, Any]], dict[str, Any]]
    restore: Callable[[Mapping[str, Any]], dict[str, Any]]
    police_information: Callable[[Any, Mapping[str, Any]], bool] = lambda _subject, _values: False
    may_confirm: Callable[[Membership, Any], bool] = lambda _membership, _subject: True
    may_act_urgently: Callable[[Any], bool] = lambda _subject: False
    # Called when an urgent decision already in effect gets its confirmation.
    confirmed_later: Callable[[Any, Proposal, int], None] = lambda _subject, _proposal, _membership_id: None
    # What is proposed, as (label, value) lines for whoever may read it (the pages and the API).
    describe: Callable[[Any, Mapping[str, Any]], list[tuple[str, str]]] = lambda _subject, _values: []
    # Why a member ``may_confirm`` refuses may not confirm it (a case decision: not in its team).
    not_allowed_to_confirm: Any = NOT_IN_TEAM


_HANDLERS: dict[DecisionKind, Handler] = {}
_SITTING_PROVIDERS: list[Callable[[], Sitting | None]] = []


def register(handler: Handler) -> Handler:
    _HANDLERS[handler.kind] = handler
    return handler


def handler_for(kind: DecisionKind) -> Handler:
    return _HANDLERS[kind]


def register_sitting_provider(provider: Callable[[], Sitting | None]) -> None:
    if provider not in _SITTING_PROVIDERS:
        _SITTING_PROVIDERS.append(provider)


def current_sitting() -> Sitting | None:
    """The cell's meeting in session now, if a meetings domain is installed and one is."""
    for provider in _SITTING_PROVIDERS:
        sitting = provider()
        if sitting is not None:
            return sitting
    return None


def _refuse(field_name: str, message: Any) -> None:
    raise ValidationError({field_name: [str(message)]})


def participating(membership: Membership) -> bool:
    """An active member of the table: who may propose, confirm or be counted present."""
    return membership.role != Role.GUEST_EXPERT and membership.seat_status == "active"


def _subject(proposal: Proposal) -> Any:
    subject = handler_for(proposal.kind).load(proposal.subject_id)
    if subject is None:
        _refuse("_schema", NOT_OPEN)
    return subject


def _lock(proposal: Proposal) -> None:
    """Lock ``proposal``'s subject, then the proposal (always in that order: no deadlock), and
    read both again as committed now."""
    subject = handler_for(proposal.kind).load(proposal.subject_id)
    if subject is not None:
        locked(subject)
    locked(proposal)


def _audit(action: str, proposal: Proposal, **details: Any) -> None:
    audit.record(
        action,
        subject=f"decision:{proposal.id}",
        details={"kind": proposal.kind.value, "about": f"{proposal.subject_type}:{proposal.subject_code}", **details},
    )


def _add_participant(proposal: Proposal, membership_id: int, role: ParticipantRole) -> None:
    if membership_id not in proposal.participant_ids:
        db.session.add(DecisionParticipant(proposal_id=proposal.id, membership_id=membership_id, role=role))
        db.session.flush()
        db.session.expire(proposal, ["participants"])


def _new_proposal(handler: Handler, subject: Any, values: Mapping[str, Any], actor: Membership, **fields: Any) -> Proposal:
    proposal = Proposal(
        kind=handler.kind,
        subject_type=handler.subject_type,
        subject_id=subject.id,
        subject_code=handler.code(subject),
        police_information=handler.police_information(subject, values),
        proposed_by_id=actor.id,
        payload_ciphertext="",
        **fields,
    )
    db.session.add(proposal)
    db.session.flush()
    proposal.payload = handler.dump(values)
    _add_participant(proposal, actor.id, ParticipantRole.PROPOSED)
    return proposal


def open_proposal_about(kind: DecisionKind, subject_type: str, subject_id: int) -> Proposal | None:
    return db.session.scalars(
        sa.select(Proposal).where(
            Proposal.kind == kind,
            Proposal.subject_type == subject_type,
            Proposal.subject_id == subject_id,
            Proposal.status == DecisionStatus.PROPOSED,
        )
    ).first()


def propose(kind: DecisionKind, subject: Any, values: Mapping[str, Any], actor: Membership, *, urgent: bool = False) -> Proposal:
    """Put a decision to the cell. It has no effect until confirmed, unless ``urgent`` (see the module)."""
    handler = handler_for(kind)
    if not participating(actor):
        _refuse("_schema", NOT_PARTICIPATING)
    locked(subject)
    checked = handler.check(subject, values, actor)
    if open_proposal_about(kind, handler.subject_type, subject.id) is not None:
        _refuse("_schema", ALREADY_PROPOSED)
    if urgent and not (actor.role == Role.COORDINATOR and handler.may_act_urgently(subject)):
        _refuse("urgent", NOT_URGENT)
    status = DecisionStatus.ACTED_URGENTLY if urgent else DecisionStatus.PROPOSED
    now = utcnow()
    proposal = _new_proposal(
        handler, subject, checked, actor, status=status, urgent=urgent,
        confirm_by=now + timedelta(hours=URGENT_CONFIRMATION_HOURS) if urgent else None,
    )
    if urgent:
        proposal.decided_at = now
        handler.apply(subject, checked, actor, [actor.id], proposal)
    _audit("decision.proposed", proposal, urgent=urgent)
    return proposal


def confirm_faults(proposal: Proposal, actor: Membership) -> str | None:
    """Why ``actor`` may not confirm ``proposal`` (None: they may). Pages show it before they try."""
    if not proposal.open:
        return str(NOT_OPEN)
    if actor.id == proposal.proposed_by_id:
        return str(OWN_PROPOSAL)
    if not participating(actor):
        return str(NOT_PARTICIPATING)
    cleared_officer = actor.role == Role.INFORMATION_OFFICER and actor.clearance_valid
    if proposal.police_information and not cleared_officer:
        return str(POLICE_CONFIRMATION)
    subject = handler_for(proposal.kind).load(proposal.subject_id)
    if subject is None:
        return str(NOT_OPEN)
    # With police information the cleared information officer confirms, in the case team or not:
    # otherwise a case whose team lacks them could never decide between meetings.
    handler = handler_for(proposal.kind)
    if not (proposal.police_information and cleared_officer) and not handler.may_confirm(actor, subject):
        return str(handler.not_allowed_to_confirm)
    return None


def confirm(proposal: Proposal, actor: Membership) -> Proposal:
    """A second member confirms: the decision takes effect (or, if urgent, is now joint)."""
    _lock(proposal)
    fault = confirm_faults(proposal, actor)
    if fault:
        _refuse("_schema", fault)
    handler = handler_for(proposal.kind)
    subject = _subject(proposal)
    _add_participant(proposal, actor.id, ParticipantRole.CONFIRMED)
    if proposal.status == DecisionStatus.ACTED_URGENTLY:
        handler.confirmed_later(subject, proposal, actor.id)
    else:
        values = handler.check(subject, handler.restore(proposal.payload), proposal.proposed_by or actor)
        proposer = proposal.proposed_by or actor
        handler.apply(subject, values, proposer, sorted(proposal.participant_ids), proposal)
    proposal.status, proposal.taken_in = DecisionStatus.TAKEN, TakenIn.CONFIRMATION
    proposal.decided_at = proposal.decided_at or utcnow()
    db.session.flush()
    _audit("decision.confirmed", proposal, participants=len(proposal.participant_ids))
    return proposal


def withdraw_fault(proposal: Proposal, actor: Membership) -> str | None:
    """Why ``actor`` may not withdraw ``proposal`` (None: they may): its proposer or the coordinator,
    while it waits."""
    if proposal.status != DecisionStatus.PROPOSED:
        return str(NOT_OPEN)
    if actor.id != proposal.proposed_by_id and actor.role != Role.COORDINATOR:
        return str(ONLY_PROPOSER_WITHDRAWS)
    return None


def withdraw(proposal: Proposal, actor: Membership) -> Proposal:
    _lock(proposal)
    fault = withdraw_fault(proposal, actor)
    if fault:
        _refuse("_schema", fault)
    proposal.status, proposal.withdrawn_at = DecisionStatus.WITHDRAWN, utcnow()
    db.session.flush()
    _audit("decision.withdrawn", proposal)
    return proposal


def sitting_fault(actor: Membership, sitting: Sitting) -> str | None:
    """Why ``actor`` may not record a decision of the meeting in session (None: they may): they
    are registered present, and two members at least are."""
    if actor.id not in sitting.present_ids:
        return str(NOT_PRESENT)
    if len(sitting.present_ids) < 2:
        return str(TOO_FEW_PRESENT)
    return None


def _sitting_faults(actor: Membership, sitting: Sitting) -> None:
    fault = sitting_fault(actor, sitting)
    if fault:
        _refuse("_schema", fault)


def _attended(proposal: Proposal, sitting: Sitting) -> None:
    for membership_id in sorted(sitting.present_ids):
        _add_participant(proposal, membership_id, ParticipantRole.ATTENDED)


def decide_in_meeting(kind: DecisionKind, subject: Any, values: Mapping[str, Any], actor: Membership, sitting: Sitting) -> Proposal:
    """The meeting in session decides: in effect at once, its members present took part."""
    handler = handler_for(kind)
    _sitting_faults(actor, sitting)
    locked(subject)
    checked = handler.check(subject, values, actor)
    pending = open_proposal_about(kind, handler.subject_type, subject.id)
    if pending is not None:
        _refuse("_schema", ALREADY_PROPOSED)
    now = utcnow()
    proposal = _new_proposal(handler, subject, checked, actor, status=DecisionStatus.TAKEN,
                             taken_in=TakenIn.MEETING, meeting_id=sitting.meeting_id, decided_at=now)
    _attended(proposal, sitting)
    handler.apply(subject, checked, actor, sorted(proposal.participant_ids), proposal)
    _audit("decision.taken_in_meeting", proposal, meeting=sitting.meeting_id, participants=len(proposal.participant_ids))
    return proposal


def take_in_current_meeting(proposal: Proposal, actor: Membership) -> Proposal:
    """The meeting in session takes ``proposal`` (refused field by field when none is in session)."""
    sitting = current_sitting()
    if sitting is None:
        _refuse("_schema", NO_SITTING)
    return take_in_meeting(proposal, actor, sitting)


def take_in_meeting(proposal: Proposal, actor: Membership, sitting: Sitting) -> Proposal:
    """A proposal waiting for confirmation (or an urgent act) is confirmed by the meeting in session."""
    _lock(proposal)
    if not proposal.open:
        _refuse("_schema", NOT_OPEN)
    _sitting_faults(actor, sitting)
    handler = handler_for(proposal.kind)
    subject = _subject(proposal)
    _attended(proposal, sitting)
    if proposal.status == DecisionStatus.ACTED_URGENTLY:
        for membership_id in sorted(sitting.present_ids - {proposal.proposed_by_id}):
            handler.confirmed_later(subject, proposal, membership_id)
    else:
        values = handler.check(subject, handler.restore(proposal.payload), proposal.proposed_by or actor)
        handler.apply(subject, values, proposal.proposed_by or actor, sorted(proposal.participant_ids), proposal)
    proposal.status, proposal.taken_in, proposal.meeting_id = DecisionStatus.TAKEN, TakenIn.MEETING, sitting.meeting_id
    proposal.decided_at = proposal.decided_at or utcnow()
    db.session.flush()
    _audit("decision.taken_in_meeting", proposal, meeting=sitting.meeting_id, participants=len(proposal.participant_ids))
    return proposal


def decide(kind: DecisionKind, subject: Any, values: Mapping[str, Any], actor: Membership,
           way: DecisionWay = DecisionWay.PROPOSE) -> Proposal:
    """The one door for every joint decision: propose it, decide it in the meeting in session,
    or act on it urgently. A ``way`` among the values (a form's or a body's choice) wins."""
    values = dict(values)
    way = DecisionWay(values.pop("way", None) or way)
    if way == DecisionWay.MEETING:
        sitting = current_sitting()
        if sitting is None:
            _refuse("way", NO_SITTING)
        return decide_in_meeting(kind, subject, values, actor, sitting)
    return propose(kind, subject, values, actor, urgent=way == DecisionWay.URGENT)


def ways_for(actor: Membership, kind: DecisionKind, subject: Any) -> list[DecisionWay]:
    """The ways open to ``actor`` now, for the form's choice."""
    ways = [DecisionWay.PROPOSE]
    sitting = current_sitting()
    if sitting is not None and actor.id in sitting.present_ids:
        ways.append(DecisionWay.MEETING)
    if actor.role == Role.COORDINATOR and handler_for(kind).may_act_urgently(subject):
        ways.append(DecisionWay.URGENT)
    return ways


def described(proposal: Proposal) -> list[tuple[str, str]]:
    """What ``proposal`` decides, line by line (decrypts: audit the read where it is shown)."""
    handler = handler_for(proposal.kind)
    subject = handler.load(proposal.subject_id)
    if subject is None:
        return []
    return handler.describe(subject, handler.restore(proposal.payload))


def proposal_summary(proposal: Proposal) -> dict[str, Any]:
    """A decision's state for a JSON answer: codes, dates and statuses, never what it decides."""
    return {
        "id": proposal.id,
        "kind": proposal.kind.value,
        "status": proposal.status.value,
        "subject_type": proposal.subject_type,
        "subject_code": proposal.subject_code,
        "in_effect": proposal.in_effect,
        "taken_in": proposal.taken_in.value if proposal.taken_in else None,
        "meeting_id": proposal.meeting_id,
        "confirm_by": proposal.confirm_by.isoformat() if proposal.confirm_by else None,
        "participants": len(proposal.participant_ids),
    }


def pending_proposals() -> list[Proposal]:
    """Waiting for a second member: proposals, and urgent acts not confirmed yet."""
    return list(
        db.session.scalars(sa.select(Proposal).where(Proposal.status.in_(OPEN_STATUSES)).order_by(Proposal.proposed_at))
    )


def overdue(proposal: Proposal, now: datetime | None = None) -> bool:
    """An urgent act whose confirmation is late: the coordinator and the next meeting see it."""
    return proposal.status == DecisionStatus.ACTED_URGENTLY and proposal.confirm_by is not None and (
        proposal.confirm_by < (now or utcnow())
    )


def proposals_of_meeting(meeting_id: int) -> list[Proposal]:
    return list(db.session.scalars(
        sa.select(Proposal).where(Proposal.meeting_id == meeting_id).order_by(Proposal.decided_at, Proposal.id)
    ))


def decisions_about(subject_type: str, subject_id: int) -> list[Proposal]:
    return list(db.session.scalars(
        sa.select(Proposal)
        .where(Proposal.subject_type == subject_type, Proposal.subject_id == subject_id)
        .order_by(Proposal.proposed_at, Proposal.id)
    ))


def forget_subject(subject_type: str, subject_id: int) -> int:
    """Erasure: the decisions about a signal or a case go with it (their payload key goes too)."""
    ids = list(db.session.scalars(
        sa.select(Proposal.id).where(Proposal.subject_type == subject_type, Proposal.subject_id == subject_id)
    ))
    if ids:
        db.session.execute(sa.delete(DecisionParticipant).where(DecisionParticipant.proposal_id.in_(ids)))
        db.session.execute(sa.delete(Proposal).where(Proposal.id.in_(ids)))
    return len(ids)

