"""The JSON API for the cell's joint decisions: what waits for a second member, one decision,
and confirming, withdrawing or taking one in the meeting in session.

Views only parse and answer; the rules are the engine's
(:mod:`livc.tenants.decisions.operations`). Every answer is a decision's state as the member
sees it (:mod:`livc.tenants.decisions.schemas`): its kind and code only for who may not read
its case. What is proposed (``described``) is answered, audited, to who may read it. A refused
rule answers 422 field by field (``_schema`` for the decision as a whole); a refused request is
rolled back, so nothing is saved half-way. Another cell's id answers 404.
"""

from __future__ import annotations

from flask import g
from marshmallow import Schema, fields

from livc.platform.forms import apply_or_422
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.tenants.access import guard
from livc.tenants.decisions.models import DECISION_KIND_LABELS, DecisionKind, Proposal, TakenIn
from livc.tenants.decisions.operations import confirm, take_in_current_meeting, withdraw
from livc.tenants.decisions.reading import (
    content_of,
    load_decision,
    read_as,
    recently_taken,
    waiting,
)
from livc.tenants.decisions.schemas import (
    DecisionOut,
    DecisionWithContentOut,
    decision_state,
    described_lines,
)
from livc.tenants.web import blueprint, enum_value, label_of, no_store_answer


class TakenOut(Schema):
    """A decision taken, as the list shows it: kind and code only."""

    id = fields.Integer()
    kind = enum_value(DecisionKind)
    kind_label = fields.Function(lambda proposal: label_of(DECISION_KIND_LABELS, proposal.kind))
    subject_type = fields.String()
    subject_code = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    taken_in = enum_value(TakenIn, allow_none=True)


class DecisionsAnswer(Schema):
    decisions = fields.List(fields.Nested(DecisionOut), metadata={
        "description": "Waiting for a second member; for who may not read the subject, its kind and code only."})
    recent = fields.List(fields.Nested(TakenOut))


def _state(proposal: Proposal) -> dict:
    return decision_state(read_as(proposal, g.person, g.membership))


@blueprint.get("/api/decisions")
@documented(answer=DecisionsAnswer, tags=("decisions",), summary="What waits for a second member, and the decisions taken last.")
@guard(Action.DECISIONS_TAKE)
def api_decisions():
    """What waits for a second member, oldest first, and the decisions taken last."""
    return no_store_answer(
        decisions=[decision_state(reading) for reading in waiting(g.person, g.membership)],
        recent=TakenOut(many=True).dump(recently_taken()),
    )


@blueprint.get("/api/decisions/<int:decision_id>")
@documented(answer=DecisionWithContentOut, envelope="decision", tags=("decisions",), summary="A decision, and what is proposed for who may read it.")
@guard(Action.DECISIONS_TAKE, load=load_decision)
def api_decision(decision_id: int):
    """The decision's state, and what is proposed for who may read it (``null`` otherwise)."""
    reading = read_as(g.resource, g.person, g.membership)
    lines = content_of(reading)
    return no_store_answer(decision={**decision_state(reading), "described": None if lines is None else described_lines(lines)})


@blueprint.post("/api/decisions/<int:decision_id>/confirm")
@documented(answer=DecisionOut, envelope="decision", errors=(422,), tags=("decisions",), summary="Confirm a decision as a second member.")
@guard(Action.DECISIONS_TAKE, load=load_decision)
def api_decision_confirm(decision_id: int):
    """Confirm as a second member: the decision takes effect."""
    return no_store_answer(decision=_state(apply_or_422(confirm, g.resource, g.membership)))


@blueprint.post("/api/decisions/<int:decision_id>/withdraw")
@documented(answer=DecisionOut, envelope="decision", errors=(422,), tags=("decisions",), summary="Withdraw a proposal.")
@guard(Action.DECISIONS_TAKE, load=load_decision)
def api_decision_withdraw(decision_id: int):
    """Withdraw a proposal (its proposer or the coordinator): it will have no effect."""
    return no_store_answer(decision=_state(apply_or_422(withdraw, g.resource, g.membership)))


@blueprint.post("/api/decisions/<int:decision_id>/take-in-meeting")
@documented(answer=DecisionOut, envelope="decision", errors=(422,), tags=("decisions",), summary="Take the decision in the meeting in session.")
@guard(Action.DECISIONS_TAKE, load=load_decision)
def api_decision_take_in_meeting(decision_id: int):
    """The meeting in session, where the member is registered present, takes the decision."""
    return no_store_answer(decision=_state(apply_or_422(take_in_current_meeting, g.resource, g.membership)))
