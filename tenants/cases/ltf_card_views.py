"""The LTF's information cards on a case, page by page, and their JSON API.

``/cases/<id>/ltf-cards``: the cards of a case (newest first, each with its summary) and, for
the information officer with a valid clearance, the form to record one. The case page shows a
panel with the cards' references and a link to them, to the coordinator and that information
officer only (:data:`livc.tenants.panels.case_panels_wanted`); nobody else is shown anything.
``/ltf-feedback/<id>/cards``: the cards a feedback form to the LTF refers to, chosen by the
coordinator or the cleared information officer.

A refusal names the rule and its seed (``Forbidden`` with its text) and is audited with the
policy's reason; every read of the cards is audited (``case.read``, part ``ltf_cards``, with
the cards' ids), a refused form's re-display included.
"""

from __future__ import annotations

from functools import wraps

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import Forbidden, NotFound

from livc.platform import audit
from livc.platform.api import load_body
from livc.platform.db import db
from livc.platform.forms import NOTHING_SENT, REQUIRED, apply_or_422, field_messages, run_rule
from livc.platform.openapi import documented
from livc.platform.policy import Action, decide
from livc.platform.web import after_refusal
from livc.tenants.access import guard
from livc.tenants.cases.loads import load_any_feedback, load_case
from livc.tenants.cases.ltf_cards import (
    CARD_RETENTION_MONTHS,
    THREAT_LEVEL_LABELS,
    CardSchema,
    FeedbackCardsSchema,
    LtfCard,
    cards_of,
    cases_with_cards,
    choose_feedback_cards,
    feedback_cards,
    record_card,
)
from livc.tenants.cases.models import Case, LtfFeedback
from livc.tenants.cases.operations import find_case, find_case_by_code, subject_of
from livc.tenants.cases.views import _page, _submit
from livc.tenants.panels import CaseOccasion, Panel, case_panels_wanted
from livc.tenants.web import blueprint, no_store_answer

REFUSALS = {
    Action.LTF_CARD_READ: _l("The LTF's information cards are police information: only the coordinator and the "
                             "information officer with a valid security clearance read them (seed 004)."),
    Action.LTF_CARD_RECORD: _l("Only the information officer with a valid security clearance records the LTF's "
                               "information cards: the information officer is the cell's link with the Local Task "
                               "Force and the only member who needs a security clearance (seed 004)."),
}


def card_guard(action: Action, *, load=None):
    """:func:`livc.tenants.access.guard`, whose refusal says which rule refused and its seed."""

    def wrap(view):
        guarded = guard(action, load=load)(view)

        @wraps(view)
        def named(**values):
            try:
                return guarded(**values)
            except Forbidden as refused:
                if refused.description == Forbidden.description:  # the policy's plain refusal
                    raise Forbidden(description=str(REFUSALS[action])) from None
                raise

        named.access = guarded.access
        return named

    return wrap


def _audit_read(case: Case, cards: list[LtfCard], part: str = "ltf_cards") -> None:
    """Account for this read of the cards, also when the answer is a refusal (rolled back)."""
    subject, ids = subject_of(case), [card.id for card in cards]
    after_refusal(lambda: audit.record("case.read", subject=subject, details={"part": part, "card_ids": ids}))


def _labels() -> dict:
    return {"threat_level": THREAT_LEVEL_LABELS}


# --- pages -----------------------------------------------------------------------------------


def _cards_page(case: Case, status: int = 200, errors: dict | None = None):
    cards = cards_of(case)
    _audit_read(case, cards)
    may_record = bool(decide(g.person, Action.LTF_CARD_RECORD, case)) and not case.closed
    return _page("tenants/case_ltf_cards.html", status, errors, case=case, cards=cards, may_record=may_record,
                 may_read_case=bool(decide(g.person, Action.CASE_READ, case)), labels=_labels(),
                 threat_levels=list(THREAT_LEVEL_LABELS.items()), retention_months=CARD_RETENTION_MONTHS)


@blueprint.get("/cases/<int:case_id>/ltf-cards")
@card_guard(Action.LTF_CARD_READ, load=load_case)
def case_ltf_cards(case_id: int):
    return _cards_page(g.resource)


@blueprint.post("/cases/<int:case_id>/ltf-cards")
@card_guard(Action.LTF_CARD_RECORD, load=load_case)
def case_ltf_card_record(case_id: int):
    case = g.resource
    card, errors = _submit(CardSchema(), lambda values: record_card(case, g.membership, values))
    if errors:
        return _cards_page(case, 422, errors)
    flash(_l("The LTF information card %(reference)s is recorded with the case, for the coordinator and the "
             "information officer only.", reference=card.reference), "info")
    return redirect(url_for("tenant.case_ltf_cards", case_id=case.id, _anchor=f"card-{card.id}"))


UNKNOWN_CODE = _l("No case of the cell has this code.")


@blueprint.get("/ltf-cards")
@card_guard(Action.LTF_CARD_READ)
def ltf_cards():
    """The cases with cards (by code, how many, the newest card's date), and a case's cards by
    its code: how the information officer reaches a case whose team they are not in."""
    code = (request.args.get("code") or "").strip()
    errors = {}
    if "code" in request.args:
        case = find_case_by_code(code.upper()) if code else None
        if case is not None:
            return redirect(url_for("tenant.case_ltf_cards", case_id=case.id))
        errors = {"code": [str(UNKNOWN_CODE if code else REQUIRED["required"])]}
    rows = cases_with_cards()
    case_ids = [case.id for case, _count, _newest in rows]
    after_refusal(lambda: audit.record("ltf_cards.listed", details={"case_ids": case_ids}))
    return _page("tenants/ltf_cards.html", 422 if errors else 200, errors, rows=rows, code=code)


def _feedback_case(feedback: LtfFeedback) -> Case:
    return find_case(feedback.case_id)


def _readable_form(feedback: LtfFeedback) -> LtfFeedback:
    """A form in preparation is its case team's: for anyone else it does not exist (404), as on
    the information officer's pages of the feedback forms."""
    if not feedback.released and not decide(g.person, Action.CASE_WORK, _feedback_case(feedback)):
        raise NotFound()
    return feedback


def _feedback_cards_page(feedback: LtfFeedback, status: int = 200, errors: dict | None = None, chosen=None):
    case = _feedback_case(feedback)
    cards = cards_of(case)
    _audit_read(case, cards, "ltf_feedback_cards")
    chosen = {card.id for card in feedback_cards(feedback)} if chosen is None else chosen
    back = (url_for("tenant.ltf_feedback", feedback_id=feedback.id) if feedback.released
            and decide(g.person, Action.POLICE_INFO_READ) and not decide(g.person, Action.CASE_WORK, case)
            else url_for("tenant.case_feedback", case_id=case.id, feedback_id=feedback.id))
    return _page("tenants/ltf_feedback_cards.html", status, errors, case=case, feedback=feedback, cards=cards,
                 chosen=chosen, labels=_labels(), back=back)


@blueprint.route("/ltf-feedback/<int:feedback_id>/cards", methods=["GET", "POST"])
@card_guard(Action.LTF_CARD_READ, load=load_any_feedback)
def ltf_feedback_cards(feedback_id: int):
    """Which of the case's cards the feedback form refers to (shown by reference and date)."""
    feedback = _readable_form(g.resource)
    if request.method == "GET":
        return _feedback_cards_page(feedback)
    # Checkboxes: none ticked sends no field at all, which means "no card"; the form's marker
    # field tells a sent form from an empty post.
    if request.form.get("cards_form") != "yes":
        return _feedback_cards_page(feedback, 422, {"_schema": [str(NOTHING_SENT)]})
    try:
        values = FeedbackCardsSchema().load({"card_ids": request.form.getlist("card_ids")})
        errors = run_rule(choose_feedback_cards, feedback, g.membership, values["card_ids"])[1]
    except ValidationError as error:
        errors = field_messages(error)
    if errors:
        ticked = {int(value) for value in request.form.getlist("card_ids") if value.isdigit()}
        return _feedback_cards_page(feedback, 422, errors, chosen=ticked)
    flash(_l("The cards the feedback form refers to are saved."), "info")
    return redirect(url_for("tenant.ltf_feedback_cards", feedback_id=feedback.id))


# --- what the feedback form and the case page show --------------------------------------------


def feedback_card_refs(feedback: LtfFeedback) -> list[LtfCard] | None:
    """The cards a feedback form refers to, for a reader who may know of them (else None)."""
    if not decide(g.person, Action.LTF_CARD_READ):
        return None
    cards = feedback_cards(feedback)
    if cards:  # no card referred to: nothing of police information was read
        _audit_read(_feedback_case(feedback), cards, "ltf_feedback_cards")
    return cards


def printed_card_refs(feedback: LtfFeedback) -> str | None:
    """The cards the form refers to, in words for paper: reference and date, never the summary."""
    cards = feedback_cards(feedback)
    if not cards:
        return None
    _audit_read(_feedback_case(feedback), cards, "ltf_feedback_cards")
    return "; ".join(str(_l("%(reference)s of %(date)s", reference=card.reference, date=format_date(card.card_date)))
                     for card in cards)


def _case_panel(occasion: CaseOccasion, **_details) -> list[Panel]:
    """On the case page: the cards' references, dates and threat levels, and a link to them, for
    the coordinator and the cleared information officer; nothing at all for anyone else."""
    if not decide(occasion.person, Action.LTF_CARD_READ):
        return []
    case = db.session.get(Case, occasion.case_id)
    if case is None:
        return []
    cards = cards_of(case)
    _audit_read(case, cards, "ltf_cards_panel")
    html = render_template("tenants/ltf_card_panel.html", case=case, cards=cards, labels=_labels(),
                           may_record=bool(decide(occasion.person, Action.LTF_CARD_RECORD)) and not case.closed)
    return [Panel(name="ltf-cards", html=Markup(html))]


case_panels_wanted.connect(_case_panel)


# --- the JSON API ----------------------------------------------------------------------------


class CardOut(CardSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    threat_level = fields.Function(lambda card: card.threat_level.value)
    threat_level_label = fields.Function(lambda card: str(THREAT_LEVEL_LABELS[card.threat_level]))
    recorded_at = fields.DateTime()
    recorded_by_id = fields.Integer(allow_none=True)
    erase_after = fields.Date()


class CardRefOut(Schema):
    """A card as a feedback form refers to it: its reference and date only."""

    id = fields.Integer()
    reference = fields.String()
    card_date = fields.Date()


class CardRefsAnswer(Schema):
    cards = fields.List(fields.Nested(CardRefOut))


class CardRefsChangedAnswer(CardRefsAnswer):
    changed = fields.Boolean()


def _card_ref(card: LtfCard) -> dict:
    return {"id": card.id, "reference": card.reference, "card_date": card.card_date.isoformat()}


@blueprint.get("/api/cases/<int:case_id>/ltf-cards")
@documented(answer=CardOut, many=True, envelope="cards", summary="The LTF information cards of a case.", tags=("cases",))
@card_guard(Action.LTF_CARD_READ, load=load_case)
def api_case_ltf_cards(case_id: int):
    cards = cards_of(g.resource)
    _audit_read(g.resource, cards)
    return no_store_answer(cards=CardOut(many=True).dump(cards))


@blueprint.post("/api/cases/<int:case_id>/ltf-cards")
@documented(body=CardSchema, answer=CardOut, envelope="card", status=201, summary="Record an LTF information card on a case.", tags=("cases",))
@card_guard(Action.LTF_CARD_RECORD, load=load_case)
def api_case_ltf_card_record(case_id: int):
    card = apply_or_422(record_card, g.resource, g.membership, load_body(CardSchema()))
    return no_store_answer(201, location=url_for("tenant.api_case_ltf_cards", case_id=case_id),
                           card=CardOut().dump(card))


@blueprint.get("/api/ltf-feedback/<int:feedback_id>/cards")
@documented(answer=CardRefsAnswer, summary="The cards a feedback form refers to.", tags=("cases",))
@card_guard(Action.LTF_CARD_READ, load=load_any_feedback)
def api_ltf_feedback_cards(feedback_id: int):
    """The cards the form refers to: references and dates only."""
    cards = feedback_cards(_readable_form(g.resource))
    _audit_read(_feedback_case(g.resource), cards, "ltf_feedback_cards")
    return no_store_answer(cards=[_card_ref(card) for card in cards])


@blueprint.put("/api/ltf-feedback/<int:feedback_id>/cards")
@documented(body=FeedbackCardsSchema, answer=CardRefsChangedAnswer, summary="Set the cards a feedback form refers to.", tags=("cases",))
@card_guard(Action.LTF_CARD_READ, load=load_any_feedback)
def api_ltf_feedback_cards_choose(feedback_id: int):
    """Set the cards the form refers to: ``{"card_ids": [...]}`` (cards of the form's case)."""
    _readable_form(g.resource)
    values = load_body(FeedbackCardsSchema())
    changed = apply_or_422(choose_feedback_cards, g.resource, g.membership, values["card_ids"])
    return no_store_answer(changed=changed, cards=[_card_ref(card) for card in feedback_cards(g.resource)])
