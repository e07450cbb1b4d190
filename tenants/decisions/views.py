"""The decisions' pages: what waits for a second member, and one decision, to confirm,
withdraw or take in the meeting in session.

Views only parse and answer: the rules are the engine's
(:mod:`livc.tenants.decisions.operations`), what each member sees of a decision is
:mod:`livc.tenants.decisions.reading`. A refused rule answers 422 with the decision's page and
the rule's message; what was written before the refusal is undone first, so the page shows
what is saved, and nothing is saved half-way. The pages are never kept by the browser.
"""

from __future__ import annotations

from flask import flash, g, redirect, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.platform.db import db
from livc.platform.forms import field_messages
from livc.platform.policy import Action, decide
from livc.tenants.access import guard
from livc.tenants.decisions.models import (
    DECISION_KIND_LABELS,
    DECISION_STATUS_LABELS,
    PARTICIPANT_ROLE_LABELS,
    TAKEN_IN_LABELS,
    Proposal,
)
from livc.tenants.decisions.operations import confirm, overdue, take_in_current_meeting, withdraw
from livc.tenants.decisions.reading import (
    case_of,
    content_of,
    load_decision,
    read_as,
    recently_taken,
    waiting,
)
from livc.tenants.web import blueprint, no_store_page

LABELS = {
    "kind": DECISION_KIND_LABELS, "status": DECISION_STATUS_LABELS, "taken_in": TAKEN_IN_LABELS,
    "participant_role": PARTICIPANT_ROLE_LABELS,
}
CONFIRMED = _l("You confirmed the decision: it is taken, and you are among who took part.")
WITHDRAWN = _l("The proposal is withdrawn: it has no effect.")
TAKEN_IN_MEETING = _l("The meeting in session took the decision: its members present took part.")


@blueprint.get("/decisions")
@guard(Action.DECISIONS_TAKE)
def decisions():
    """What waits for a second member (by kind and code), and the decisions taken last."""
    return no_store_page(
        "tenants/decision_list.html", readings=waiting(g.person, g.membership), recent=recently_taken(),
        labels=LABELS, overdue=overdue,
    )


def _decision_page(proposal: Proposal, status: int = 200, errors: dict | None = None):
    reading = read_as(proposal, g.person, g.membership)
    return no_store_page(
        "tenants/decision_page.html", status, errors,
        reading=reading, proposal=proposal, lines=content_of(reading), overdue=overdue(proposal), labels=LABELS,
    )


@blueprint.get("/decisions/<int:decision_id>")
@guard(Action.DECISIONS_TAKE, load=load_decision)
def decision(decision_id: int):
    return _decision_page(g.resource)


def _after(proposal: Proposal) -> str:
    """Where a taken decision leads: its case, for who may read it; else the decision's page."""
    case = case_of(read_as(proposal, g.person, g.membership))
    if case is not None and decide(g.person, Action.CASE_READ, case):
        return url_for("tenant.case", case_id=case.id)
    return url_for("tenant.decision", decision_id=proposal.id)


def _act(operation, done, to_case: bool = True):
    """Run ``operation(proposal, member)``: flash and redirect, or 422 with the rule's message."""
    proposal: Proposal = g.resource
    try:
        operation(proposal, g.membership)
    except ValidationError as error:
        db.session.rollback()  # what the operation flushed before the refusal is not shown as saved
        return _decision_page(proposal, 422, field_messages(error))
    flash(done, "info")
    return redirect(_after(proposal) if to_case else url_for("tenant.decisions"))


@blueprint.post("/decisions/<int:decision_id>/confirm")
@guard(Action.DECISIONS_TAKE, load=load_decision)
def decision_confirm(decision_id: int):
    return _act(confirm, CONFIRMED)


@blueprint.post("/decisions/<int:decision_id>/withdraw")
@guard(Action.DECISIONS_TAKE, load=load_decision)
def decision_withdraw(decision_id: int):
    return _act(withdraw, WITHDRAWN, to_case=False)


@blueprint.post("/decisions/<int:decision_id>/take-in-meeting")
@guard(Action.DECISIONS_TAKE, load=load_decision)
def decision_take_in_meeting(decision_id: int):
    return _act(take_in_current_meeting, TAKEN_IN_MEETING)
