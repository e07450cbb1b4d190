"""What the decisions' API answers, by reader (:class:`livc.tenants.decisions.reading.Reading`).

One schema, two exposures: who may not read the decision's subject gets its kind and code
only (:data:`CODE_ONLY`), and whether they may confirm it; everyone else its whole state. What
is proposed is never in these answers: the decision's own answer adds it, audited, for whoever
may read it.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from livc.tenants.decisions.models import (
    DECISION_KIND_LABELS,
    DECISION_STATUS_LABELS,
    PARTICIPANT_ROLE_LABELS,
    TAKEN_IN_LABELS,
    DecisionKind,
    DecisionStatus,
    ParticipantRole,
    TakenIn,
)
from livc.tenants.decisions.operations import overdue
from livc.tenants.decisions.reading import Reading
from livc.tenants.members.models import Membership
from livc.tenants.web import enum_value, label_of

CODE_ONLY = ("id", "kind", "kind_label", "subject_type", "subject_code", "shown", "may_confirm", "why_not")


def member_name(membership: Membership | None) -> str | None:
    return membership.account.label if membership is not None else None


class ParticipantOut(Schema):
    """Who took part: the proposer, who confirmed, or who was present at the meeting."""

    membership_id = fields.Integer(allow_none=True)
    name = fields.Function(lambda participant: member_name(participant.membership))
    role = enum_value(ParticipantRole)
    role_label = fields.Function(lambda participant: label_of(PARTICIPANT_ROLE_LABELS, participant.role))
    at = fields.DateTime()


class DecisionOut(Schema):
    """A decision's state as one member sees it (dumps a :class:`Reading`)."""

    id = fields.Integer(attribute="proposal.id")
    kind = fields.Enum(DecisionKind, by_value=True, attribute="proposal.kind")
    kind_label = fields.Function(lambda reading: label_of(DECISION_KIND_LABELS, reading.proposal.kind))
    subject_type = fields.String(attribute="proposal.subject_type")
    subject_code = fields.String(attribute="proposal.subject_code", allow_none=True)
    status = fields.Enum(DecisionStatus, by_value=True, attribute="proposal.status")
    status_label = fields.Function(lambda reading: label_of(DECISION_STATUS_LABELS, reading.proposal.status))
    urgent = fields.Boolean(attribute="proposal.urgent")
    police_information = fields.Boolean(attribute="proposal.police_information")
    proposed_by = fields.Function(lambda reading: member_name(reading.proposal.proposed_by))
    proposed_by_id = fields.Integer(attribute="proposal.proposed_by_id", allow_none=True)
    proposed_at = fields.DateTime(attribute="proposal.proposed_at")
    confirm_by = fields.DateTime(attribute="proposal.confirm_by", allow_none=True)
    overdue = fields.Function(lambda reading: overdue(reading.proposal))
    decided_at = fields.DateTime(attribute="proposal.decided_at", allow_none=True)
    taken_in = fields.Enum(TakenIn, by_value=True, attribute="proposal.taken_in", allow_none=True)
    taken_in_label = fields.Function(lambda reading: label_of(TAKEN_IN_LABELS, reading.proposal.taken_in))
    meeting_id = fields.Integer(attribute="proposal.meeting_id", allow_none=True)
    participants = fields.List(fields.Nested(ParticipantOut), attribute="proposal.participants")
    shown = fields.Boolean()
    may_confirm = fields.Boolean()
    why_not = fields.String(allow_none=True)
    may_withdraw = fields.Boolean()
    may_take_in_meeting = fields.Boolean()


class DescribedLineOut(Schema):
    label = fields.String()
    value = fields.String()


class DecisionWithContentOut(DecisionOut):
    """A decision's own answer: what is proposed, for who may read it (``null`` otherwise)."""

    described = fields.List(fields.Nested(DescribedLineOut), allow_none=True)


class ProposalSummaryOut(Schema):
    """What :func:`livc.tenants.decisions.operations.proposal_summary` answers: a decision's state
    when a case or meeting request puts it to the cell (codes, dates and statuses)."""

    id = fields.Integer()
    kind = enum_value(DecisionKind)
    status = enum_value(DecisionStatus)
    subject_type = fields.String()
    subject_code = fields.String(allow_none=True)
    in_effect = fields.Boolean()
    taken_in = enum_value(TakenIn, allow_none=True)
    meeting_id = fields.Integer(allow_none=True)
    confirm_by = fields.String(allow_none=True, metadata={"description": "UTC, ISO 8601 without an offset."})
    participants = fields.Integer(metadata={"description": "How many members took part."})


def decision_state(reading: Reading) -> dict[str, Any]:
    """The answer for one reader: the whole state, or the kind and code only."""
    return DecisionOut(only=None if reading.shown else CODE_ONLY).dump(reading)


def described_lines(lines: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"label": str(label), "value": str(value)} for label, value in lines]
