"""Weighing a signal: the page and the API where the cell records its joint decision, and so
opens a case, adds the signal to one, refers it elsewhere, or closes it.

Views only parse and answer: the rules live in :mod:`livc.tenants.cases.weighing`. The page
shows every decision's fields at once; only those of the decision taken are used. The flag,
the facts ticked and who took part may rest on police information: the coordinator's only.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, jsonify, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields

from livc.platform.api import InvalidFields, load_body
from livc.platform.db import db
from livc.platform.forms import apply_or_422, field_messages
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.platform.roles import ROLE_LABELS, Role
from livc.tenants.access import guard
from livc.tenants.cases.models import Case
from livc.tenants.cases.operations import cases_for
from livc.tenants.cases.schemas import (
    NAMED_PARTICIPANTS,
    FactSchema,
    WeighingSchema,
    facts_from_form,
)
from livc.tenants.cases.weighing import (
    FactObserved,
    check_weighing,
    weigh_signal,
    weighing_participants,
)
from livc.tenants.decisions.models import DECISION_WAY_LABELS, DecisionKind, Proposal
from livc.tenants.decisions.operations import open_proposal_about, proposal_summary, ways_for
from livc.tenants.decisions.schemas import ProposalSummaryOut
from livc.tenants.house_rules.gate import Obstacle, case_work_obstacles
from livc.tenants.members.models import Membership
from livc.tenants.signals.models import (
    DECISION_LABELS,
    FLAG_LABELS,
    FOLLOW_UP_LABELS,
    OBSERVED_FACT_LABELS,
    TARGET_GROUP_LABELS,
    FlagLevel,
    ObservedFact,
    Signal,
    SignalStatus,
    WeighingDecision,
)
from livc.tenants.signals.operations import case_settings, read_signal
from livc.tenants.signals.territory import (
    all_municipality_names,
    form_value,
    residence_choices,
    residence_of,
    territory_codes,
)
from livc.tenants.signals.views import (
    LABELS,
    SignalSummaryOut,
    WeighingOut,
    case_reference,
    case_url,
    load_signal,
    weighing_of,
)
from livc.tenants.web import blueprint, no_store_answer, no_store_page

# Fields each decision of the weighing uses (the page shows them all; others are ignored).
DECISION_FIELDS = {
    WeighingDecision.OPEN_CASE: ("target_group", "follow_up_kind", "approached_for_other_problem", "team_ids"),
    WeighingDecision.ADD_TO_CASE: ("case_id",),
    WeighingDecision.REFER: ("referred_to",),
    WeighingDecision.INSUFFICIENT: (),
}
WEIGHING_SCALARS = ("flag", "decision", "rationale", "referred_to", "target_group", "follow_up_kind", "case_id",
                    "residence", "residence_outside")


def _texts(messages: Any) -> Any:
    """Messages as strings in the reader's language, nested where marshmallow nests them."""
    if isinstance(messages, dict):
        return {str(key): _texts(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [_texts(value) for value in messages]
    return str(messages)


def _flat(messages: Any) -> list[str]:
    """Every message of a (nested) field as one list, for a page that shows them in one place."""
    if isinstance(messages, dict):
        return [text for value in messages.values() for text in _flat(value)]
    if isinstance(messages, list | tuple):
        return [text for value in messages for text in _flat(value)]
    return [str(messages)]


class WeighingBody(WeighingSchema):
    """The weighing schema, keeping nested faults where they are (``facts.0.description``)."""

    def handle_error(self, error: ValidationError, data, **kwargs) -> None:
        raise ValidationError(_texts(error.normalized_messages()), data=error.data, valid_data=error.valid_data)


class CaseReferenceOut(Schema):
    id = fields.Integer()
    code = fields.String()
    readable = fields.Boolean()


class WeighingAnswer(Schema):
    """201 once the decision is in effect (``weighing`` and ``case`` then say what it did);
    202 while it waits for a second member (``decision`` and ``signal`` only)."""

    decision = fields.Nested(ProposalSummaryOut)
    signal = fields.Nested(SignalSummaryOut)
    weighing = fields.Nested(WeighingOut)
    case = fields.Nested(CaseReferenceOut, allow_none=True)


def _participant_label(membership: Membership) -> str:
    return f"{membership.account.label} ({ROLE_LABELS[membership.role]}, {membership.organisation.name})"


def _only_for_decision(values: dict) -> dict:
    """The values the chosen decision uses (the page shows every decision's fields at once)."""
    decision = values.get("decision")
    unused = {name for fields_ in DECISION_FIELDS.values() for name in fields_} - set(DECISION_FIELDS.get(decision, ()))
    return {name: value for name, value in values.items() if name not in unused}


def _facts(items) -> list[FactObserved]:
    return [FactObserved(item["fact"], item.get("description") or "", item.get("observed_on")) for item in items]


def _weighing_from_form(form) -> tuple[dict, dict[str, list[str]]]:
    """The weighing page's fields as the schema's values, and the faults per field (a fact's
    under ``fact_<key>``, next to its checkbox)."""
    errors: dict[str, list[str]] = {}
    if form.getlist("participant_ids"):
        # A form of before the joint decisions: refused as the API refuses it, said above the form.
        errors["form"] = [str(NAMED_PARTICIPANTS)]
    facts = []
    for ticked in facts_from_form(form):
        try:
            facts.append(FactSchema().load(ticked))
        except ValidationError as error:
            errors[f"fact_{ticked['fact']}"] = _flat(error.normalized_messages())
    raw: dict[str, Any] = {name: form[name].strip() for name in (*WEIGHING_SCALARS, "way") if form.get(name, "").strip()}
    raw.update(
        team_ids=form.getlist("team_ids"),
        approached_for_other_problem=bool(form.get("approached_for_other_problem")),
    )
    try:
        values = WeighingBody().load(raw)
    except ValidationError as error:
        errors.update({name: _flat(messages) for name, messages in error.normalized_messages().items()})
        values = {}
    values["facts"] = _facts(facts)
    return _only_for_decision(values), errors


def _weigh_context(signal: Signal) -> dict:
    settings = case_settings()
    participants = [m for m in weighing_participants() if m.id != g.membership.id]
    codes = territory_codes()
    # What the residence fields show first: the signal's, or the cell's one municipality.
    residence = form_value(signal.residence_nis or (codes[0] if len(codes) == 1 else None))
    return {
        "signal": signal,
        "residence": residence_of(signal.residence_nis),
        "residences": residence_choices(),
        "residence_default": residence["residence"],
        "residence_outside_default": residence["residence_outside"],
        "municipality_names": all_municipality_names(),
        "weighing": weighing_of(signal),
        "labels": LABELS,
        "case_url": case_url,
        "case": case_reference(g.person, signal.case),
        "full_weighing": True,
        "flags": [(level.value, FLAG_LABELS[level], settings.criteria(level)) for level in FlagLevel],
        "facts": [(fact.value, OBSERVED_FACT_LABELS[fact]) for fact in ObservedFact],
        "ways": [(way.value, DECISION_WAY_LABELS[way]) for way in ways_for(g.membership, DecisionKind.WEIGHING, signal)],
        "pending": open_proposal_about(DecisionKind.WEIGHING, "signal", signal.id),
        "team_candidates": [(m.id, _participant_label(m)) for m in participants if m.role != Role.COORDINATOR],
        "decisions": list(DECISION_LABELS.items()),
        "target_groups": list(TARGET_GROUP_LABELS.items()),
        "follow_ups": list(FOLLOW_UP_LABELS.items()),
        "open_cases": [(case.id, case.code) for case in cases_for(g.person, include_closed=False)],
        "ticked": {"team_ids": set(request.form.getlist("team_ids"))},
        "obstacles": case_work_obstacles() if signal.status == SignalStatus.NEW else [],
    }


def _already_weighed(signal: Signal) -> dict[str, list[str]]:
    """The rule's own answer to a second weighing (the decision stands)."""
    try:
        check_weighing(signal, {}, g.membership)
    except ValidationError as error:
        return field_messages(error)
    raise AssertionError("a weighed signal was weighed again")  # pragma: no cover


def _after_weighing(signal: Signal, proposal: Proposal):
    if not proposal.in_effect:
        flash(_l("The weighing of signal %(reference)s is proposed: it takes effect once another member "
                 "confirms it.", reference=signal.reference), "info")
        return redirect(url_for("tenant.signal", signal_id=signal.id))
    weighing = weighing_of(signal)
    if weighing.case_id is not None:
        case = db.session.get(Case, weighing.case_id)
        if weighing.decision == WeighingDecision.OPEN_CASE:
            flash(_l("Case %(code)s opened on signal %(reference)s.", code=case.code, reference=signal.reference), "info")
        else:
            flash(_l("Signal %(reference)s added to case %(code)s.", code=case.code, reference=signal.reference), "info")
        return redirect(case_url(case.id))
    flash(_l("The decision on signal %(reference)s is recorded.", reference=signal.reference), "info")
    return redirect(url_for("tenant.signal", signal_id=signal.id))


@blueprint.route("/signals/<int:signal_id>/weigh", methods=["GET", "POST"])
@guard(Action.SIGNAL_WEIGH, load=load_signal)
def signal_weigh(signal_id: int):
    signal = g.resource
    if request.method == "GET":
        read_signal(signal)
        return no_store_page("tenants/signal_weigh.html", **_weigh_context(signal))
    if signal.status != SignalStatus.NEW:
        return no_store_page("tenants/signal_weigh.html", 422, _already_weighed(signal), **_weigh_context(signal))
    if case_work_obstacles():  # the legal basis first (seed 002): the page says why and where
        return no_store_page("tenants/signal_weigh.html", 422, **_weigh_context(signal))
    values, errors = _weighing_from_form(request.form)
    if not errors:
        try:
            proposal = weigh_signal(signal, g.membership, values)
        except ValidationError as error:
            errors = field_messages(error)
    if errors:
        return no_store_page("tenants/signal_weigh.html", 422, errors, **_weigh_context(signal))
    return _after_weighing(signal, proposal)


def _case_work_refused(obstacles: list[Obstacle]):
    """409: the cell may not weigh yet; each rule by its key, message and the page that puts it right."""
    response = jsonify(error={
        "status": 409,
        "title": str(_l("The cell cannot weigh signals or open cases yet")),
        "rules": [{"rule": obstacle.rule, "message": str(obstacle.message),
                   "href": url_for(obstacle.endpoint)} for obstacle in obstacles],
    })
    response.status_code = 409
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/api/signals/<int:signal_id>/weighing")
@documented(body=WeighingSchema, answer=WeighingAnswer, status=201, also=(202,), errors=(409,), summary="The cell's decision on a signal.", tags=("cases",))
@guard(Action.SIGNAL_WEIGH, load=load_signal)
def api_signal_weigh(signal_id: int):
    """The cell's decision (body per the weighing schema, ``facts`` as a list); a signal
    weighed already answers 422 with the rule's message, whatever the body."""
    signal = g.resource
    if signal.status != SignalStatus.NEW:
        raise InvalidFields(_already_weighed(signal))
    if obstacles := case_work_obstacles():
        return _case_work_refused(obstacles)
    values = load_body(WeighingBody())
    values["facts"] = _facts(values.get("facts") or ())
    proposal = apply_or_422(weigh_signal, signal, g.membership, _only_for_decision(values))
    decision = proposal_summary(proposal)
    if not proposal.in_effect:
        # Accepted, not done: nothing happens until another member confirms.
        return no_store_answer(202, url_for("tenant.api_signal", signal_id=signal.id),
                               decision=decision, signal=SignalSummaryOut().dump(signal))
    weighing = weighing_of(signal)
    case = case_reference(g.person, weighing.case)
    return no_store_answer(
        201, url_for("tenant.api_signal", signal_id=signal.id), decision=decision,
        weighing=WeighingOut(g.person).dump(weighing), signal=SignalSummaryOut().dump(signal), case=case,
    )
