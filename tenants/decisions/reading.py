"""A decision as one member sees it, for the decisions' pages and API and the home page.

Need-to-know holds for decisions as for what they decide (seeds 001 and 004):

- a decision on a case shows more than its kind and code only to who may read the case;
- what is proposed (the handler's description, decrypted) is shown to who may read the case,
  for a case; for a signal's weighing, to the coordinator, whoever took part in it and the
  members who may confirm it now;
- when police information is involved, what is proposed is for the coordinator and the
  information officer with a valid clearance only, on top of the above.

Every showing of what is proposed is audited (``decision.read``).

This domain sits below signals and cases: it reaches a signal or a case through the handler
their domains registered (:func:`livc.tenants.decisions.operations.handler_for`), never by
importing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from werkzeug.exceptions import NotFound

from livc.platform import audit
from livc.platform.db import db
from livc.platform.policy import Action, Person, decide
from livc.platform.roles import Role
from livc.platform.web import after_refusal
from livc.tenants.decisions.models import DecisionKind, DecisionStatus, Proposal
from livc.tenants.decisions.operations import (
    Sitting,
    confirm_faults,
    current_sitting,
    described,
    handler_for,
    pending_proposals,
    withdraw_fault,
)
from livc.tenants.members.models import Membership

RECENT = 10  # taken decisions the list page shows


@dataclass(frozen=True)
class Reading:
    """``proposal`` as one member sees it."""

    proposal: Proposal
    subject: Any  # the signal or the case; None once erased
    shown: bool  # more than its kind and code: proposer, dates, status, who took part
    content: bool  # what is proposed
    why_not: str | None  # why the member may not confirm it (None: they may)
    may_withdraw: bool
    sitting: Sitting | None  # the meeting in session the member is present at, if any

    @property
    def may_confirm(self) -> bool:
        return self.why_not is None

    @property
    def may_take_in_meeting(self) -> bool:
        return self.sitting is not None and self.proposal.open


def subject_of(subject_type: str, subject_id: int) -> Any:
    """The signal or case with this id, as the domain that registered a handler for it loads it."""
    for kind in DecisionKind:
        try:
            handler = handler_for(kind)
        except KeyError:
            continue
        if handler.subject_type == subject_type:
            return handler.load(subject_id)
    return None


def _shown(person: Person, proposal: Proposal, subject: Any) -> bool:
    if proposal.subject_type == "case":
        return subject is not None and bool(decide(person, Action.CASE_READ, subject))
    return True


def _content(person: Person, proposal: Proposal, subject: Any, why_not: str | None) -> bool:
    if subject is None:
        return False
    if proposal.police_information and not decide(person, Action.POLICE_INFO_READ, subject):
        return False
    if proposal.subject_type == "case":
        return bool(decide(person, Action.CASE_READ, subject))
    return (
        person.role == Role.COORDINATOR
        or person.membership_id == proposal.proposed_by_id
        or person.membership_id in proposal.participant_ids
        or why_not is None
    )


def _sitting_for(membership: Membership) -> Sitting | None:
    sitting = current_sitting()
    return sitting if sitting is not None and membership.id in sitting.present_ids else None


def read_as(proposal: Proposal, person: Person, membership: Membership) -> Reading:
    subject = subject_of(proposal.subject_type, proposal.subject_id)
    shown = _shown(person, proposal, subject)
    why_not = confirm_faults(proposal, membership)
    return Reading(
        proposal=proposal,
        subject=subject,
        shown=shown,
        content=shown and _content(person, proposal, subject, why_not),
        why_not=why_not,
        may_withdraw=shown and withdraw_fault(proposal, membership) is None,
        sitting=_sitting_for(membership),
    )


def content_of(reading: Reading) -> list[tuple[str, str]] | None:
    """What is proposed, line by line, for who may read it (None for anyone else). Every showing
    is audited, also on a page that answers a refusal (recorded after the rollback)."""
    if not reading.content:
        return None
    subject = f"decision:{reading.proposal.id}"
    after_refusal(lambda: audit.record("decision.read", subject=subject))
    return described(reading.proposal)


def waiting(person: Person, membership: Membership) -> list[Reading]:
    """The decisions waiting for a second member, oldest first, as ``membership`` sees them."""
    return [read_as(proposal, person, membership) for proposal in pending_proposals()]


def waiting_for_confirmation_by(person: Person, membership: Membership) -> list[Reading]:
    """What ``membership`` may confirm now (the home page counts them)."""
    return [reading for reading in waiting(person, membership) if reading.may_confirm]


def recently_taken(limit: int = RECENT) -> list[Proposal]:
    """The decisions taken last, newest first (the list shows their kind and code only)."""
    return list(db.session.scalars(
        sa.select(Proposal).where(Proposal.status == DecisionStatus.TAKEN)
        .order_by(Proposal.decided_at.desc(), Proposal.id.desc()).limit(limit)
    ))


def case_of(reading: Reading) -> Any:
    """The case a decision concerns (a weighing's: the case it opened or added to), if any."""
    if reading.proposal.subject_type == "case":
        return reading.subject
    case_id = getattr(reading.subject, "case_id", None)  # a signal knows the case it went into
    return subject_of("case", case_id) if case_id else None


def load_decision(decision_id: int) -> Proposal:
    """What ``/decisions/<id>`` names, for ``guard(..., load=...)``: another cell's id is not found,
    exactly as an id that does not exist."""
    proposal = db.session.get(Proposal, decision_id)
    if proposal is None:
        raise NotFound()
    return proposal

