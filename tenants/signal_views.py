"""Intake, weighing, "is this person known?", the case settings and the dashboard: pages and API.

Views only parse and answer: the rules live in :mod:`livc.tenants.signals`,
:mod:`livc.tenants.cases` and :mod:`livc.tenants.retention`, and pages and API validate with the
same schemas (:mod:`livc.tenants.case_schemas`). A refused rule answers 422 field by field, and
since a refused request is rolled back, nothing is saved half-way (not even a reference number),
while the form shows again what was typed.

Need-to-know and privacy by design:

- lists, titles and addresses carry references and codes only, never the name of the person
  concerned; the signal page says whether a person is named, and the identity itself is shown
  on case pages only (audited there);
- a name searched for travels in a POST body, never in an address (addresses end up in
  browser histories and access logs); answers are codes and references only;
- whoever recorded a signal reads it and learns what the cell decided (and where it was
  referred, or why it was closed); the flag, the facts ticked and who took part are the
  coordinator's, since they may rest on police information;
- pages and answers with signal content are never kept by a browser or a proxy.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, g, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import NotFound

from livc.platform.api import InvalidFields, load_body
from livc.platform.db import db
from livc.platform.keys import normalise_for_index
from livc.platform.policy import Action, Person, decide
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.case_models import (
    ASSESSMENT_LABELS,
    CHANNEL_LABELS,
    DECISION_LABELS,
    DEFAULT_FLAG_CRITERIA,
    FLAG_LABELS,
    FOLLOW_UP_LABELS,
    MEASURE_STATUS_LABELS,
    OBSERVED_FACT_LABELS,
    REVIEW_KIND_LABELS,
    SIGNAL_STATUS_LABELS,
    STAGE_LABELS,
    TARGET_GROUP_LABELS,
    URGENCY_LABELS,
    Case,
    CaseStage,
    CaseStatus,
    FlagLevel,
    InternalAssessment,
    ObservedFact,
    Signal,
    SignalChannel,
    SignalStatus,
    Urgency,
    Weighing,
    WeighingDecision,
)
from livc.tenants.case_schemas import (
    CaseSettingsSchema,
    FactSchema,
    SearchSchema,
    SignalSchema,
    WeighingSchema,
    facts_from_form,
)
from livc.tenants.cases import Dashboard, cases_for, dashboard, search_people
from livc.tenants.forms import apply_or_422, field_messages, form_values, render_form
from livc.tenants.members import ROLE_LABELS, Membership, Organisation, Role
from livc.tenants.retention import upcoming_erasures
from livc.tenants.signals import (
    CRITERIA_FIELDS,
    REQUIRED,
    FactObserved,
    all_signals,
    case_settings,
    change_settings,
    channels_for,
    find_signal,
    read_signal,
    signals_recorded_by,
    submit_signal,
    weigh_signal,
    weighing_participants,
)
from livc.tenants.views import blueprint

RETENTION_WITHIN_DAYS = 60
URGENCY_ORDER = {Urgency.URGENT: 0, Urgency.SOON: 1, Urgency.NORMAL: 2}
CASE_STATUS_LABELS = {CaseStatus.OPEN: _l("Open"), CaseStatus.CLOSED: _l("Closed")}
RECORD_LABELS = {"case": _l("Case"), "signal": _l("Signal")}
SEARCH_EMPTY = _l("Give a name, a national number, or both.")
SETTINGS_EMPTY = _l("Send at least one setting to change.")
MONTHS_REQUIRED = _l("Give the months after closure at which a closed case is reviewed, e.g. 6,12.")
# Fields each decision of the weighing uses (the page shows them all; others are ignored).
DECISION_FIELDS = {
    WeighingDecision.OPEN_CASE: ("target_group", "follow_up_kind", "approached_for_other_problem", "team_ids"),
    WeighingDecision.ADD_TO_CASE: ("case_id",),
    WeighingDecision.REFER: ("referred_to",),
    WeighingDecision.INSUFFICIENT: (),
}
WEIGHING_SCALARS = ("flag", "decision", "rationale", "referred_to", "target_group", "follow_up_kind", "case_id")
SETTINGS_REQUIRED = ("code_prefix", "review_interval_days", "retention_months_closed", "retention_months_signals")


# --- helpers ----------------------------------------------------------------------------------


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


def _no_store(response):
    """Signal content is never kept by a browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _page(template: str, status: int = 200, errors: dict | None = None, **context):
    return _no_store(make_response(render_form(template, status, errors, **context)))


def _answer(status: int = 200, location: str | None = None, **body: Any):
    response = _no_store(jsonify(body))
    response.status_code = status
    if location:
        response.headers["Location"] = location
    return response


def case_url(case_id: int) -> str:
    """The case page (in :mod:`livc.tenants.case_views`)."""
    return url_for("tenant.case", case_id=case_id)


def _signal(signal_id: int) -> Signal:
    """A signal of this cell (another cell's ids are not found either)."""
    signal = find_signal(signal_id)
    if signal is None:
        raise NotFound()
    return signal


def _is_coordinator(person: Person) -> bool:
    return person.role == Role.COORDINATOR


def _visible_signals(person: Person) -> list[Signal]:
    """The coordinator sees every signal; others those they recorded."""
    return all_signals() if _is_coordinator(person) else signals_recorded_by(person.membership_id)


def _weighing_of(signal: Signal) -> Weighing | None:
    return db.session.scalar(sa.select(Weighing).where(Weighing.signal_id == signal.id))


def _case_reference(person: Person, case_id: int | None) -> dict | None:
    """The case a signal led to, as far as ``person`` may know of it: the code for who may see
    it, and whether they may open it."""
    case = db.session.get(Case, case_id) if case_id is not None else None
    if case is None or not decide(person, Action.CASE_SEE_CODE, case):
        return None
    return {"id": case.id, "code": case.code, "readable": bool(decide(person, Action.CASE_READ, case))}


def _label(labels: dict, value) -> str | None:
    return str(labels[value]) if value is not None else None


def _choice(enum_type) -> fields.Enum:
    return fields.Enum(enum_type, by_value=True)


def _participant_label(membership: Membership) -> str:
    return f"{membership.account.label} ({ROLE_LABELS[membership.role]}, {membership.organisation.name})"


# --- what is answered -------------------------------------------------------------------------


class SignalSummaryOut(Schema):
    """A signal as lists show it: reference, dates, channel, urgency, status; never the
    observation nor anything about the person concerned."""

    id = fields.Integer()
    reference = fields.String()
    channel = _choice(SignalChannel)
    channel_label = fields.Function(lambda signal: _label(CHANNEL_LABELS, signal.channel))
    urgency = _choice(Urgency)
    urgency_label = fields.Function(lambda signal: _label(URGENCY_LABELS, signal.urgency))
    status = _choice(SignalStatus)
    status_label = fields.Function(lambda signal: _label(SIGNAL_STATUS_LABELS, signal.status))
    received_at = fields.DateTime()
    decided_at = fields.DateTime()


class FactOut(Schema):
    fact = _choice(ObservedFact)
    fact_label = fields.Function(lambda fact: _label(OBSERVED_FACT_LABELS, fact.fact))
    description = fields.String()
    observed_on = fields.Date()


class ParticipantOut(Schema):
    membership_id = fields.Integer()
    display_name = fields.Function(lambda p: p.membership.account.label if p.membership else None)
    role = fields.Function(lambda p: p.membership.role.value if p.membership else None)
    role_label = fields.Function(lambda p: _label(ROLE_LABELS, p.membership.role) if p.membership else None)


class _ForPerson(Schema):
    """An answer that depends on who reads it."""

    def __init__(self, person: Person, **kwargs):
        super().__init__(**kwargs)
        self.person = person


class WeighingOut(_ForPerson):
    """What the cell decided. The flag, the facts and who took part are answered to those who
    weigh (they may rest on police information); ``null`` for others."""

    decision = _choice(WeighingDecision)
    decision_label = fields.Function(lambda weighing: _label(DECISION_LABELS, weighing.decision))
    decided_at = fields.DateTime()
    referred_to = fields.String()
    rationale = fields.String()
    case = fields.Method("_case")
    flag = fields.Method("_flag")
    flag_label = fields.Method("_flag_label")
    facts = fields.Method("_facts")
    participants = fields.Method("_participants")

    def _full(self) -> bool:
        return bool(decide(self.person, Action.SIGNAL_WEIGH))

    def _case(self, weighing: Weighing) -> dict | None:
        return _case_reference(self.person, weighing.case_id)

    def _flag(self, weighing: Weighing) -> str | None:
        return weighing.flag.value if self._full() else None

    def _flag_label(self, weighing: Weighing) -> str | None:
        return _label(FLAG_LABELS, weighing.flag) if self._full() else None

    def _facts(self, weighing: Weighing) -> list[dict] | None:
        return FactOut(many=True).dump(weighing.facts) if self._full() else None

    def _participants(self, weighing: Weighing) -> list[dict] | None:
        return ParticipantOut(many=True).dump(weighing.participants) if self._full() else None


class SignalOut(_ForPerson, SignalSummaryOut):
    """A signal with what was observed: for the coordinator and whoever recorded it."""

    observation = fields.String()
    observed_from = fields.Date()
    observed_until = fields.Date()
    internal_assessment = _choice(InternalAssessment)
    internal_assessment_label = fields.Function(lambda signal: _label(ASSESSMENT_LABELS, signal.internal_assessment))
    assessment_note = fields.String()
    reporter_contact = fields.String()
    reporter_organisation = fields.Function(
        lambda signal: signal.reporter_organisation.name if signal.reporter_organisation else None
    )
    recorded_by_id = fields.Integer()
    person_named = fields.Function(lambda signal: signal.identity_id is not None)
    weighing = fields.Method("_weighing")

    def _weighing(self, signal: Signal) -> dict | None:
        weighing = _weighing_of(signal)
        return WeighingOut(self.person).dump(weighing) if weighing is not None else None


class SearchHitOut(Schema):
    kind = fields.String()
    id = fields.Integer(attribute="record_id")
    reference = fields.String()
    status = fields.String()
    status_label = fields.Function(lambda hit: _hit_status_label(hit))


def _hit_status_label(hit) -> str:
    if hit.kind == "case":
        return str(CASE_STATUS_LABELS[CaseStatus(hit.status)])
    return str(SIGNAL_STATUS_LABELS[SignalStatus(hit.status)])


class CaseSettingsOut(Schema):
    """The cell's case settings; a criterion the cell did not write is ``null`` (the standard
    text applies, given under ``criteria``)."""

    code_prefix = fields.String()
    flag_green_criteria = fields.String()
    flag_yellow_criteria = fields.String()
    flag_red_criteria = fields.String()
    flag_black_criteria = fields.String()
    criteria = fields.Function(lambda settings: {level.value: settings.criteria(level) for level in FlagLevel})
    review_interval_days = fields.Integer()
    reviews_after_closure = fields.Boolean()
    review_months_after_closure = fields.String()
    retention_months_closed = fields.Integer()
    retention_months_signals = fields.Integer()
    updated_at = fields.DateTime()


class DueOut(Schema):
    kind = fields.String()
    id = fields.Integer(attribute="record_id")
    reference = fields.String()
    due_on = fields.Date()


def _dashboard_json(board: Dashboard) -> dict:
    def case_ref(case: Case) -> dict:
        return {"id": case.id, "code": case.code}

    return {
        "open_signals": SignalSummaryOut(many=True).dump(board.open_signals),
        "my_signals": SignalSummaryOut(many=True).dump(board.my_signals),
        "cases_by_stage": [
            {"stage": stage.value, "stage_label": str(STAGE_LABELS[stage]), "cases": [case_ref(c) for c in cases]}
            for stage, cases in board.cases_by_stage.items()
        ],
        "measures_due": [
            {"case": case_ref(case), "measure_id": measure.id, "due_on": measure.due_on.isoformat(),
             "status": measure.status.value, "status_label": _label(MEASURE_STATUS_LABELS, measure.status),
             "organisation": measure.organisation.name if measure.organisation else None}
            for case, measure in board.measures_due
        ],
        "reviews_due": [
            {"case": case_ref(case), "review_id": review.id, "kind": review.kind.value,
             "kind_label": _label(REVIEW_KIND_LABELS, review.kind), "due_on": review.due_on.isoformat()}
            for case, review in board.reviews_due
        ],
        "feedback_to_approve": [
            {"case": case_ref(case), "feedback_id": feedback.id, "revision": feedback.revision}
            for case, feedback in board.feedback_to_approve
        ],
    }


# --- the dashboard (the home page of the cell, in views.py) ---------------------------------------

LABELS = {
    "channel": CHANNEL_LABELS,
    "urgency": URGENCY_LABELS,
    "signal_status": SIGNAL_STATUS_LABELS,
    "stage": STAGE_LABELS,
    "review_kind": REVIEW_KIND_LABELS,
    "measure_status": MEASURE_STATUS_LABELS,
    "decision": DECISION_LABELS,
    "flag": FLAG_LABELS,
    "fact": OBSERVED_FACT_LABELS,
    "assessment": ASSESSMENT_LABELS,
    "target_group": TARGET_GROUP_LABELS,
    "follow_up": FOLLOW_UP_LABELS,
    "case_status": CASE_STATUS_LABELS,
    "record": RECORD_LABELS,
}


def dashboard_context(person: Person) -> dict:
    """What the home page shows: signals to weigh, my signals, cases by stage, what is due."""
    board = dashboard(person)
    return {
        "board": board,
        # the most urgent first, then in the order they came in
        "signals_to_weigh": sorted(board.open_signals, key=lambda signal: URGENCY_ORDER[signal.urgency]),
        "labels": LABELS,
        "case_url": case_url,
        "today": utcnow().date(),
        "stages": [stage for stage in CaseStage if stage != CaseStage.CLOSED],
        "closed_stage": CaseStage.CLOSED,
        "may_weigh": bool(decide(person, Action.SIGNAL_WEIGH)),
        "may_report": bool(decide(person, Action.SIGNAL_SUBMIT)),
    }


@blueprint.get("/api/dashboard")
@guard(Action.CELL_ENTER)
def api_dashboard():
    """The dashboard: signals to weigh (coordinator), my signals, the cases I may read by
    stage, measures and reviews due within two weeks, feedback forms waiting for my approval."""
    return _answer(dashboard=_dashboard_json(dashboard(g.person)))


# --- intake -----------------------------------------------------------------------------------


def _intake_context() -> dict:
    channels = channels_for(g.membership.role)
    assessments = list(ASSESSMENT_LABELS.items())
    if channels == (SignalChannel.FORM,):  # a partner reports from within their organisation
        assessments = [(key, label) for key, label in assessments if key != InternalAssessment.NOT_APPLICABLE]
    organisations = (
        list(db.session.scalars(sa.select(Organisation).order_by(Organisation.name)))
        if SignalChannel.PHONE in channels else []
    )
    return {
        "channels": [(channel.value, CHANNEL_LABELS[channel]) for channel in channels],
        "logs_calls": SignalChannel.PHONE in channels,
        "assessments": assessments,
        "urgencies": list(URGENCY_LABELS.items()),
        "organisations": [(organisation.id, organisation.name) for organisation in organisations],
    }


def _recorded_message(signal: Signal) -> None:
    flash(_l("Signal %(reference)s recorded.", reference=signal.reference), "info")
    if signal.urgency == Urgency.URGENT:
        flash(_l("It is marked urgent: the coordinator is told and sees it first on the dashboard."), "warning")


@blueprint.route("/signals/new", methods=["GET", "POST"])
@guard(Action.SIGNAL_SUBMIT)
def signal_new():
    if request.method == "GET":
        return _page("tenants/signal_new.html", **_intake_context())
    values, errors = form_values(SignalSchema())
    if not errors:
        try:
            signal = submit_signal(g.membership, values)
        except ValidationError as error:
            errors = field_messages(error)
    if errors:
        return _page("tenants/signal_new.html", 422, errors, **_intake_context())
    _recorded_message(signal)
    return redirect(url_for("tenant.signal", signal_id=signal.id))


@blueprint.get("/signals")
@guard(Action.SIGNAL_SUBMIT)
def signals():
    coordinator = _is_coordinator(g.person)
    return _page("tenants/signal_list.html", signals=_visible_signals(g.person), all_of_them=coordinator,
                 labels=LABELS, may_weigh=bool(decide(g.person, Action.SIGNAL_WEIGH)))


@blueprint.get("/signals/<int:signal_id>")
@guard(Action.SIGNAL_READ, load=_signal)
def signal(signal_id: int):
    signal = g.resource
    read_signal(signal)
    weighing = _weighing_of(signal)
    return _page(
        "tenants/signal_page.html", signal=signal, weighing=weighing, labels=LABELS,
        case=_case_reference(g.person, signal.case_id), full_weighing=bool(decide(g.person, Action.SIGNAL_WEIGH)),
        case_url=case_url,
    )


@blueprint.get("/api/signals")
@guard(Action.SIGNAL_SUBMIT)
def api_signals():
    """Every signal for the coordinator; the signals they recorded for others."""
    return _answer(signals=SignalSummaryOut(many=True).dump(_visible_signals(g.person)))


@blueprint.post("/api/signals")
@guard(Action.SIGNAL_SUBMIT)
def api_signal_new():
    values = load_body(SignalSchema())
    signal = apply_or_422(submit_signal, g.membership, values)
    return _answer(201, url_for("tenant.api_signal", signal_id=signal.id), signal=SignalOut(g.person).dump(signal))


@blueprint.get("/api/signals/<int:signal_id>")
@guard(Action.SIGNAL_READ, load=_signal)
def api_signal(signal_id: int):
    read_signal(g.resource)
    return _answer(signal=SignalOut(g.person).dump(g.resource))


# --- weighing ---------------------------------------------------------------------------------


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
    facts = []
    for ticked in facts_from_form(form):
        try:
            facts.append(FactSchema().load(ticked))
        except ValidationError as error:
            errors[f"fact_{ticked['fact']}"] = _flat(error.normalized_messages())
    raw: dict[str, Any] = {name: form[name].strip() for name in WEIGHING_SCALARS if form.get(name, "").strip()}
    raw.update(
        participant_ids=form.getlist("participant_ids"),
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
    return {
        "signal": signal,
        "weighing": _weighing_of(signal),
        "labels": LABELS,
        "case_url": case_url,
        "case": _case_reference(g.person, signal.case_id),
        "full_weighing": True,
        "flags": [(level.value, FLAG_LABELS[level], settings.criteria(level)) for level in FlagLevel],
        "facts": [(fact.value, OBSERVED_FACT_LABELS[fact]) for fact in ObservedFact],
        "participants": [(m.id, _participant_label(m)) for m in participants],
        "team_candidates": [(m.id, _participant_label(m)) for m in participants if m.role != Role.COORDINATOR],
        "decisions": list(DECISION_LABELS.items()),
        "target_groups": list(TARGET_GROUP_LABELS.items()),
        "follow_ups": list(FOLLOW_UP_LABELS.items()),
        "open_cases": [(case.id, case.code) for case in cases_for(g.person, include_closed=False)],
        "ticked": {name: set(request.form.getlist(name)) for name in ("participant_ids", "team_ids")},
    }


def _already_weighed(signal: Signal) -> dict[str, list[str]]:
    """The rule's own answer to a second weighing (the decision stands)."""
    try:
        weigh_signal(signal, g.membership, {})
    except ValidationError as error:
        return field_messages(error)
    raise AssertionError("a weighed signal was weighed again")  # pragma: no cover


def _after_weighing(signal: Signal, weighing: Weighing):
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
@guard(Action.SIGNAL_WEIGH, load=_signal)
def signal_weigh(signal_id: int):
    signal = g.resource
    if request.method == "GET":
        read_signal(signal)
        return _page("tenants/signal_weigh.html", **_weigh_context(signal))
    if signal.status != SignalStatus.NEW:
        return _page("tenants/signal_weigh.html", 422, _already_weighed(signal), **_weigh_context(signal))
    values, errors = _weighing_from_form(request.form)
    if not errors:
        try:
            weighing = weigh_signal(signal, g.membership, values)
        except ValidationError as error:
            errors = field_messages(error)
    if errors:
        return _page("tenants/signal_weigh.html", 422, errors, **_weigh_context(signal))
    return _after_weighing(signal, weighing)


@blueprint.post("/api/signals/<int:signal_id>/weighing")
@guard(Action.SIGNAL_WEIGH, load=_signal)
def api_signal_weigh(signal_id: int):
    """The cell's decision (body per the weighing schema, ``facts`` as a list); a signal
    weighed already answers 422 with the rule's message, whatever the body."""
    signal = g.resource
    if signal.status != SignalStatus.NEW:
        raise InvalidFields(_already_weighed(signal))
    values = load_body(WeighingBody())
    values["facts"] = _facts(values.get("facts") or ())
    weighing = apply_or_422(weigh_signal, signal, g.membership, _only_for_decision(values))
    case = _case_reference(g.person, weighing.case_id)
    return _answer(
        201, url_for("tenant.api_signal", signal_id=signal.id),
        weighing=WeighingOut(g.person).dump(weighing), signal=SignalSummaryOut().dump(signal), case=case,
    )


# --- is this person known to the cell? --------------------------------------------------------


def _search_faults(values: dict) -> dict[str, list[str]]:
    if any(normalise_for_index(values.get(name) or "") for name in ("name", "national_number")):
        return {}
    return {"name": [str(SEARCH_EMPTY)]}


@blueprint.route("/search", methods=["GET", "POST"])
@guard(Action.PERSON_SEARCH)
def person_search():
    """A POST, so that the name never lands in an address, a browser history or a log."""
    if request.method == "GET":
        return _page("tenants/signal_search.html", hits=None, labels=LABELS, case_url=case_url)
    values, errors = form_values(SearchSchema())
    errors = errors or _search_faults(values)
    if errors:
        return _page("tenants/signal_search.html", 422, errors, hits=None, labels=LABELS, case_url=case_url)
    hits = search_people(values.get("name"), values.get("national_number"))
    # What was searched for is not shown again: the answer carries references only.
    return _no_store(make_response(render_template(
        "tenants/signal_search.html", typed={}, errors={}, hits=hits, labels=LABELS, case_url=case_url,
    )))


@blueprint.post("/api/search")
@guard(Action.PERSON_SEARCH)
def api_search():
    """``{"name": ..., "national_number": ...}`` (either or both): the case codes and signal
    references the person is known under, with their status; audited with the number of hits."""
    values = load_body(SearchSchema())
    faults = _search_faults(values)
    if faults:
        raise InvalidFields(faults)
    hits = search_people(values.get("name"), values.get("national_number"))
    return _answer(hits=SearchHitOut(many=True).dump(hits))


# --- case settings and retention --------------------------------------------------------------


def _settings_from_form() -> tuple[dict, dict[str, list[str]]]:
    """Every field of the settings page: an empty criterion means the standard text."""
    values, errors = form_values(CaseSettingsSchema())
    for name in SETTINGS_REQUIRED:
        if not request.form.get(name, "").strip():
            errors.setdefault(name, [str(REQUIRED)])
    reviews_after = bool(request.form.get("reviews_after_closure"))
    if reviews_after and not request.form.get("review_months_after_closure", "").strip():
        errors.setdefault("review_months_after_closure", [str(MONTHS_REQUIRED)])
    if errors:
        return {}, errors
    values["reviews_after_closure"] = reviews_after
    for name in CRITERIA_FIELDS:
        values.setdefault(name, None)
    return values, {}


@blueprint.route("/case-settings", methods=["GET", "POST"], endpoint="case_settings")
@guard(Action.CASE_SETTINGS_MANAGE)
def case_settings_page():
    if request.method == "GET":
        return _page("tenants/signal_settings.html", **_settings_form_context())
    values, errors = _settings_from_form()
    if not errors:
        try:
            changed = change_settings(values)
        except ValidationError as error:
            errors = field_messages(error)
    if errors:
        return _page("tenants/signal_settings.html", 422, errors, **_settings_form_context())
    flash(_l("The case settings were saved.") if changed else _l("Nothing changed."), "info")
    return redirect(url_for("tenant.case_settings"))


def _settings_form_context() -> dict:
    return {
        "settings": case_settings(),
        "levels": [(level.value, FLAG_LABELS[level], DEFAULT_FLAG_CRITERIA[level]) for level in FlagLevel],
    }


@blueprint.get("/retention")
@guard(Action.CASE_SETTINGS_MANAGE)
def retention():
    """What will be erased within the coming 60 days: references and dates only."""
    return _page(
        "tenants/signal_retention.html", due=upcoming_erasures(RETENTION_WITHIN_DAYS), within=RETENTION_WITHIN_DAYS,
        settings=case_settings(), labels=LABELS, case_url=case_url,
    )


@blueprint.get("/api/case-settings")
@guard(Action.CASE_SETTINGS_MANAGE)
def api_case_settings():
    return _answer(settings=CaseSettingsOut().dump(case_settings()))


@blueprint.patch("/api/case-settings")
@guard(Action.CASE_SETTINGS_MANAGE)
def api_case_settings_change():
    """Change the settings sent (a criterion sent as ``null`` goes back to the standard text)."""
    values = load_body(CaseSettingsSchema())
    if not values:
        raise InvalidFields({"_schema": [str(SETTINGS_EMPTY)]})
    changed = apply_or_422(change_settings, values)
    return _answer(settings=CaseSettingsOut().dump(case_settings()), changed=changed)


@blueprint.get("/api/retention")
@guard(Action.CASE_SETTINGS_MANAGE)
def api_retention():
    return _answer(within_days=RETENTION_WITHIN_DAYS, due=DueOut(many=True).dump(upcoming_erasures(RETENTION_WITHIN_DAYS)))
