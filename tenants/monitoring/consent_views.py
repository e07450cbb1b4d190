"""The cell's consent to count in the platform-wide figures: its page and its JSON API.

``/<cell>/figures/consent`` shows whether the cell counts and what waits for a second member, to
every member of the table (``Action.DECISIONS_TAKE``); the coordinator puts the question to the
cell from it (``Action.SETUP_MANAGE``), and another member confirms it on the decisions' pages.
``/<cell>/api/monitoring/consent`` answers the same: ``GET`` the state, ``POST``
``{"platform_figures": true|false, "way": "propose"|"meeting"}`` puts it to the cell (202 while
it waits for a second member, 201 when the meeting in session took it; a refused rule 422 field
by field). The rules are :mod:`livc.tenants.monitoring.consent`'s.
"""

from __future__ import annotations

from flask import flash, g, redirect, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from livc.platform.api import load_body
from livc.platform.db import db
from livc.platform.forms import REQUIRED, apply_or_422, submit_form
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.tenants.access import guard
from livc.tenants.decisions.models import DECISION_WAY_LABELS, DecisionKind, DecisionWay
from livc.tenants.decisions.operations import proposal_summary, ways_for
from livc.tenants.decisions.schemas import ProposalSummaryOut
from livc.tenants.members.schemas import FieldSchema
from livc.tenants.monitoring.consent import (
    CHOOSE,
    ConsentState,
    consent_row,
    consent_state,
    may_propose,
    propose_consent,
)
from livc.tenants.web import blueprint, no_store_answer, no_store_page

CONSENT_WAYS = (DecisionWay.PROPOSE, DecisionWay.MEETING)
WAY_CHOICE = _l("Choose how the cell decides: propose it, or decide it in the meeting in session.")
PROPOSED = _l("Proposed: it takes effect once another member of the table confirms it.")
TAKEN = _l("The meeting in session decided it: it is in effect.")


class ConsentSchema(FieldSchema):
    """The cell counts in the platform-wide figures (true) or no longer (false), and how it decides."""

    platform_figures = fields.Boolean(required=True, error_messages={**REQUIRED, "required": CHOOSE, "null": CHOOSE,
                                                                      "invalid": CHOOSE})
    way = fields.Enum(DecisionWay, by_value=True, load_default=DecisionWay.PROPOSE,
                      validate=validate.OneOf(CONSENT_WAYS, error=WAY_CHOICE),
                      error_messages={**REQUIRED, "unknown": WAY_CHOICE})


def _ways() -> list[tuple[str, object]]:
    """Propose it; for a member present at the meeting in session, also decide it there."""
    open_ways = ways_for(g.membership, DecisionKind.PLATFORM_FIGURES, consent_row())
    return [(way.value, DECISION_WAY_LABELS[way]) for way in open_ways if way in CONSENT_WAYS]


def _page(status: int = 200, errors: dict | None = None):
    return no_store_page("tenants/figures-consent.html", status, errors, state=consent_state(),
                         may_propose=may_propose(g.membership), ways=_ways())


@blueprint.get("/figures/consent")
@guard(Action.DECISIONS_TAKE)
def figures_consent():
    """Whether the cell counts in the platform-wide figures, and what waits for a second member."""
    return _page()


@blueprint.post("/figures/consent")
@guard(Action.SETUP_MANAGE)
def figures_consent_propose():
    """The coordinator puts it to the cell: a joint decision, never one member's."""
    proposal, errors = submit_form(ConsentSchema(), lambda values: propose_consent(g.membership, values),
                                   require_sent=True)
    if errors:
        db.session.rollback()  # nothing proposed half-way is shown as saved
        return _page(422, errors)
    flash(TAKEN if proposal.in_effect else PROPOSED, "info")
    return redirect(url_for("tenant.figures_consent"))


def state_json(state: ConsentState) -> dict:
    return {
        "platform_figures": state.platform_figures,
        "decided_at": state.decided_at.isoformat() if state.decided_at else None,
        "pending": None if state.pending is None else {**proposal_summary(state.pending), "platform_figures": state.wanted},
    }


class PendingConsentOut(ProposalSummaryOut):
    platform_figures = fields.Boolean(allow_none=True, metadata={"description": "What the pending proposal asks for."})


class ConsentOut(Schema):
    platform_figures = fields.Boolean()
    decided_at = fields.String(allow_none=True, metadata={"description": "UTC, ISO 8601 without an offset."})
    pending = fields.Nested(PendingConsentOut, allow_none=True)


class ConsentAnswer(Schema):
    consent = fields.Nested(ConsentOut)
    may_propose = fields.Boolean()


class ConsentProposedAnswer(Schema):
    """201 when the meeting in session took it, 202 while it waits for a second member."""

    consent = fields.Nested(ConsentOut)
    decision = fields.Nested(ProposalSummaryOut)


@blueprint.get("/api/monitoring/consent")
@documented(answer=ConsentAnswer, summary="Whether the cell counts in the platform-wide figures.", tags=("monitoring",))
@guard(Action.DECISIONS_TAKE)
def api_monitoring_consent():
    return no_store_answer(consent=state_json(consent_state()), may_propose=may_propose(g.membership))


@blueprint.post("/api/monitoring/consent")
@documented(body=ConsentSchema, answer=ConsentProposedAnswer, status=201, also=(202,), summary="Put the cell's consent to the cell.", tags=("monitoring",))
@guard(Action.SETUP_MANAGE)
def api_monitoring_consent_propose():
    proposal = apply_or_422(propose_consent, g.membership, load_body(ConsentSchema()))
    return no_store_answer(201 if proposal.in_effect else 202,
                           location=url_for("tenant.api_decision", decision_id=proposal.id),
                           consent=state_json(consent_state()), decision=proposal_summary(proposal))
