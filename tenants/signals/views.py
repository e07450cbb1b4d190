"""Intake, the signal pages and the cell's case settings: pages and API.

Views only parse and answer: the rules live in :mod:`livc.tenants.signals.operations`, and pages
and API validate with the same schemas (:mod:`livc.tenants.signals.schemas`). A refused rule
answers 422 field by field, and since a refused request is rolled back, nothing is saved half-way
(not even a reference number), while the form shows again what was typed. The weighing, the
person search and the dashboard show signals with the labels, loader and answers defined here.

Need-to-know and privacy by design:

- lists, titles and addresses carry references and codes only, never the name of the person
  concerned; the signal page says whether a person is named, and the identity itself is shown
  on case pages only (audited there);
- whoever recorded a signal reads it and learns what the cell decided (and where it was
  referred, or why it was closed); the flag, the facts ticked and who took part are the
  coordinator's, since they may rest on police information;
- pages and answers with signal content are never kept by a browser or a proxy.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa
from flask import flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields
from sqlalchemy.orm import defer
from werkzeug.exceptions import NotFound

from livc.platform.api import InvalidFields, load_body
from livc.platform.db import db
from livc.platform.forms import apply_or_422, field_messages, form_status, form_values, run_rule
from livc.platform.openapi import documented
from livc.platform.paging import Key, Page, PageQuery, keyset_page, page_answer, page_args
from livc.platform.policy import Action, CaseLike, Person, decide
from livc.platform.roles import ROLE_LABELS, Role
from livc.tenants.access import guard
from livc.tenants.members.models import Organisation
from livc.tenants.signals.models import (
    ASSESSMENT_LABELS,
    CHANNEL_LABELS,
    DECISION_LABELS,
    DEFAULT_FLAG_CRITERIA,
    FLAG_LABELS,
    FOLLOW_UP_LABELS,
    OBSERVED_FACT_LABELS,
    SIGNAL_STATUS_LABELS,
    TARGET_GROUP_LABELS,
    URGENCY_LABELS,
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
from livc.tenants.signals.operations import (
    CRITERIA_FIELDS,
    REQUIRED,
    case_settings,
    change_settings,
    change_signal_registration,
    channels_for,
    find_signal,
    not_kept_reason,
    read_signal,
    signals_query,
    submit_signal,
)
from livc.tenants.signals.registration import ORAL_ONLY_SHOWN, REGISTRATION_LABELS, Registration
from livc.tenants.signals.schemas import CaseSettingsSchema, SignalRegistrationSchema, SignalSchema
from livc.tenants.signals.territory import (
    all_municipality_names,
    residence_choices,
    residence_of,
    territory_codes,
)
from livc.tenants.web import (
    AnswerFor,
    blueprint,
    enum_value,
    label_of,
    no_store_answer,
    no_store_page,
)

# What pages show of a piece of information shared orally only (signals, notes, minutes).
blueprint.add_app_template_global(ORAL_ONLY_SHOWN, "oral_only_shown")
# Why no identity is shown in this cell, or None (the case page asks; house rules decide).
blueprint.add_app_template_global(not_kept_reason, "identity_not_kept_reason")

SETTINGS_EMPTY = _l("Send at least one setting to change.")

MONTHS_REQUIRED = _l("Give the months after closure at which a closed case is reviewed, e.g. 6,12.")

SETTINGS_REQUIRED = ("code_prefix", "review_interval_days", "retention_months_closed", "retention_months_signals")

# The labels signal pages and their macros (``signal_macros.html``) use; pages that show cases
# too add theirs.
LABELS = {
    "channel": CHANNEL_LABELS,
    "urgency": URGENCY_LABELS,
    "signal_status": SIGNAL_STATUS_LABELS,
    "decision": DECISION_LABELS,
    "flag": FLAG_LABELS,
    "fact": OBSERVED_FACT_LABELS,
    "assessment": ASSESSMENT_LABELS,
    "target_group": TARGET_GROUP_LABELS,
    "follow_up": FOLLOW_UP_LABELS,
}


# --- helpers ---------------------------------------------------------------------------------


def case_url(case_id: int) -> str:
    """The case page (in :mod:`livc.tenants.cases.views`)."""
    return url_for("tenant.case", case_id=case_id)


def load_signal(signal_id: int) -> Signal:
    """A signal of this cell (another cell's ids are not found either)."""
    signal = find_signal(signal_id)
    if signal is None:
        raise NotFound()
    return signal


def _is_coordinator(person: Person) -> bool:
    return person.role == Role.COORDINATOR


#: The signal lists' order: newest first (``ix_signals_tenant_received``, migration 0033).
SIGNAL_ORDER = (Key(Signal.received_at, descending=True), Key(Signal.id, descending=True))


#: What a list of signals never shows, so never reads: what was observed and the reporter's
#: contact details, encrypted (reading one from a listed signal is a mistake, and raises).
_NOT_LISTED = tuple(defer(column, raiseload=True) for column in (
    Signal.observation_ciphertext, Signal.reporter_contact_ciphertext, Signal.assessment_note_ciphertext))


def _visible_signals(person: Person) -> Page:
    """The page of signals asked for: the coordinator sees every signal; others those they
    recorded. Newest first, one page at a time (``?after=``, ``?per_page=``)."""
    query = signals_query(None if _is_coordinator(person) else person.membership_id).options(*_NOT_LISTED)
    return keyset_page(query, SIGNAL_ORDER, page_args(request.args), scope="signals")


def weighing_of(signal: Signal) -> Weighing | None:
    return db.session.scalar(sa.select(Weighing).where(Weighing.signal_id == signal.id))


class ReferencedCase(CaseLike, Protocol):
    """What signal pages know of the case a signal led to (``Signal.case``): the cases domain
    sits above this one."""

    id: int
    code: str


def case_reference(person: Person, case: ReferencedCase | None) -> dict | None:
    """The case a signal led to, as far as ``person`` may know of it: the code for who may see
    it, and whether they may open it."""
    if case is None or not decide(person, Action.CASE_SEE_CODE, case):
        return None
    return {"id": case.id, "code": case.code, "readable": bool(decide(person, Action.CASE_READ, case))}


# --- what is answered ------------------------------------------------------------------------


class SignalSummaryOut(Schema):
    """A signal as lists show it: reference, dates, channel, urgency, status; never the
    observation nor anything about the person concerned."""

    id = fields.Integer()
    reference = fields.String()
    channel = enum_value(SignalChannel)
    channel_label = fields.Function(lambda signal: label_of(CHANNEL_LABELS, signal.channel))
    urgency = enum_value(Urgency)
    urgency_label = fields.Function(lambda signal: label_of(URGENCY_LABELS, signal.urgency))
    status = enum_value(SignalStatus)
    status_label = fields.Function(lambda signal: label_of(SIGNAL_STATUS_LABELS, signal.status))
    received_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)


class FactOut(Schema):
    fact = enum_value(ObservedFact)
    fact_label = fields.Function(lambda fact: label_of(OBSERVED_FACT_LABELS, fact.fact))
    description = fields.String(allow_none=True)
    observed_on = fields.Date(allow_none=True)


class ParticipantOut(Schema):
    membership_id = fields.Integer(allow_none=True)
    display_name = fields.Function(lambda p: p.membership.account.label if p.membership else None)
    role = fields.Function(lambda p: p.membership.role.value if p.membership else None)
    role_label = fields.Function(lambda p: label_of(ROLE_LABELS, p.membership.role) if p.membership else None)


class WeighingOut(AnswerFor):
    """What the cell decided. The flag, the facts and who took part are answered to those who
    weigh (they may rest on police information); ``null`` for others."""

    decision = enum_value(WeighingDecision)
    decision_label = fields.Function(lambda weighing: label_of(DECISION_LABELS, weighing.decision))
    decided_at = fields.DateTime()
    referred_to = fields.String(allow_none=True)
    rationale = fields.String(allow_none=True)
    case = fields.Method("_case")
    flag = fields.Method("_flag")
    flag_label = fields.Method("_flag_label")
    facts = fields.Method("_facts")
    participants = fields.Method("_participants")

    def _full(self) -> bool:
        return bool(decide(self.person, Action.SIGNAL_WEIGH))

    def _case(self, weighing: Weighing) -> dict | None:
        return case_reference(self.person, weighing.case)

    def _flag(self, weighing: Weighing) -> str | None:
        return weighing.flag.value if self._full() else None

    def _flag_label(self, weighing: Weighing) -> str | None:
        return label_of(FLAG_LABELS, weighing.flag) if self._full() else None

    def _facts(self, weighing: Weighing) -> list[dict] | None:
        return FactOut(many=True).dump(weighing.facts) if self._full() else None

    def _participants(self, weighing: Weighing) -> list[dict] | None:
        return ParticipantOut(many=True).dump(weighing.participants) if self._full() else None


class SignalOut(AnswerFor, SignalSummaryOut):
    """A signal with what was observed: for the coordinator and whoever recorded it."""

    observation = fields.String(allow_none=True)
    registration = enum_value(Registration)
    registration_label = fields.Function(
        lambda signal: str(ORAL_ONLY_SHOWN) if signal.registration == Registration.ORAL_ONLY
        else label_of(REGISTRATION_LABELS, signal.registration))
    observed_from = fields.Date(allow_none=True)
    observed_until = fields.Date(allow_none=True)
    internal_assessment = enum_value(InternalAssessment)
    internal_assessment_label = fields.Function(lambda signal: label_of(ASSESSMENT_LABELS, signal.internal_assessment))
    assessment_note = fields.String(allow_none=True)
    reporter_contact = fields.String(allow_none=True)
    reporter_organisation = fields.Function(
        lambda signal: signal.reporter_organisation.name if signal.reporter_organisation else None
    )
    recorded_by_id = fields.Integer(allow_none=True)
    person_named = fields.Function(lambda signal: signal.identity_id is not None)
    residence = fields.Function(lambda signal: residence_of(signal.residence_nis).as_answer())
    weighing = fields.Method("_weighing")

    def _weighing(self, signal: Signal) -> dict | None:
        weighing = weighing_of(signal)
        return WeighingOut(self.person).dump(weighing) if weighing is not None else None


class CaseSettingsOut(Schema):
    """The cell's case settings; a criterion the cell did not write is ``null`` (the standard
    text applies, given under ``criteria``)."""

    code_prefix = fields.String()
    flag_green_criteria = fields.String(allow_none=True)
    flag_yellow_criteria = fields.String(allow_none=True)
    flag_red_criteria = fields.String(allow_none=True)
    flag_black_criteria = fields.String(allow_none=True)
    criteria = fields.Function(lambda settings: {level.value: settings.criteria(level) for level in FlagLevel})
    review_interval_days = fields.Integer()
    reviews_after_closure = fields.Boolean()
    review_months_after_closure = fields.String()
    retention_months_closed = fields.Integer()
    retention_months_signals = fields.Integer()
    updated_at = fields.DateTime()
    version = fields.Integer(metadata={"description": "Send it back with a change: a change made meanwhile answers 409."})


class CaseSettingsAnswer(Schema):
    settings = fields.Nested(CaseSettingsOut)


class CaseSettingsChangedAnswer(CaseSettingsAnswer):
    changed = fields.List(fields.String())


# --- intake ----------------------------------------------------------------------------------


def _intake_context() -> dict:
    channels = channels_for(g.membership.role)
    assessments = list(ASSESSMENT_LABELS.items())
    if channels == (SignalChannel.FORM,):  # a partner reports from within their organisation
        assessments = [(key, label) for key, label in assessments if key != InternalAssessment.NOT_APPLICABLE]
    organisations = (
        list(db.session.scalars(sa.select(Organisation).order_by(Organisation.name)))
        if SignalChannel.PHONE in channels else []
    )
    codes = territory_codes()
    return {
        "residences": residence_choices(),
        # A cell of one municipality: the person most likely lives there.
        "residence_default": codes[0] if len(codes) == 1 else None,
        "municipality_names": all_municipality_names(),
        "channels": [(channel.value, CHANNEL_LABELS[channel]) for channel in channels],
        "logs_calls": SignalChannel.PHONE in channels,
        "assessments": assessments,
        "urgencies": list(URGENCY_LABELS.items()),
        "registration_options": list(REGISTRATION_LABELS.items()),
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
        return no_store_page("tenants/signal_new.html", **_intake_context())
    values, errors = form_values(SignalSchema())
    if not errors:
        try:
            signal = submit_signal(g.membership, values)
        except ValidationError as error:
            errors = field_messages(error)
    if errors:
        return no_store_page("tenants/signal_new.html", 422, errors, **_intake_context())
    _recorded_message(signal)
    return redirect(url_for("tenant.signal", signal_id=signal.id))


@blueprint.get("/signals")
@guard(Action.SIGNAL_SUBMIT)
def signals():
    coordinator = _is_coordinator(g.person)
    page = _visible_signals(g.person)
    return no_store_page("tenants/signal_list.html", signals=page.items, page=page, all_of_them=coordinator,
                         labels=LABELS, may_weigh=bool(decide(g.person, Action.SIGNAL_WEIGH)))


def _signal_page(signal: Signal, status: int = 200, errors: dict | None = None):
    read_signal(signal)
    weighing = weighing_of(signal)
    return no_store_page(
        "tenants/signal_page.html", status, errors, signal=signal, weighing=weighing, labels=LABELS,
        residence=residence_of(signal.residence_nis),
        case=case_reference(g.person, signal.case), full_weighing=bool(decide(g.person, Action.SIGNAL_WEIGH)),
        case_url=case_url,
    )


@blueprint.get("/signals/<int:signal_id>")
@guard(Action.SIGNAL_READ, load=load_signal)
def signal(signal_id: int):
    return _signal_page(g.resource)


@blueprint.post("/signals/<int:signal_id>/registration")
@guard(Action.SIGNAL_READ, load=load_signal)
def signal_registration(signal_id: int):
    """Whoever brought the signal changes their choice: registered, or shared orally only."""
    signal = g.resource
    values, errors = form_values(SignalRegistrationSchema())
    if not errors:
        try:
            change_signal_registration(signal, g.membership, values)
        except ValidationError as error:
            errors = field_messages(error)
    if errors:
        return _signal_page(signal, 422, errors)
    if signal.registration == Registration.ORAL_ONLY:
        flash(_l("The signal is now kept as shared orally: what was observed was erased."), "info")
    else:
        flash(_l("The signal is now registered."), "info")
    return redirect(url_for("tenant.signal", signal_id=signal.id))


@blueprint.get("/api/signals")
@documented(answer=SignalSummaryOut, many=True, envelope="signals", query=PageQuery, paged=True,
            summary="The signals the member may see, newest first, a page at a time.", tags=("signals",))
@guard(Action.SIGNAL_SUBMIT)
def api_signals():
    """Every signal for the coordinator; the signals they recorded for others. ``next`` is the
    address of the next page, ``null`` on the last."""
    page = _visible_signals(g.person)
    return no_store_answer(**page_answer(page, "signals", SignalSummaryOut(many=True).dump(page.items)))


@blueprint.post("/api/signals")
@documented(body=SignalSchema, answer=SignalOut, envelope="signal", status=201, summary="Record a signal.", tags=("signals",))
@guard(Action.SIGNAL_SUBMIT)
def api_signal_new():
    values = load_body(SignalSchema())
    signal = apply_or_422(submit_signal, g.membership, values)
    return no_store_answer(201, url_for("tenant.api_signal", signal_id=signal.id), signal=SignalOut(g.person).dump(signal))


@blueprint.get("/api/signals/<int:signal_id>")
@documented(answer=SignalOut, envelope="signal", summary="A signal with what was observed.", tags=("signals",))
@guard(Action.SIGNAL_READ, load=load_signal)
def api_signal(signal_id: int):
    read_signal(g.resource)
    return no_store_answer(signal=SignalOut(g.person).dump(g.resource))


@blueprint.put("/api/signals/<int:signal_id>/registration")
@documented(body=SignalRegistrationSchema, answer=SignalOut, envelope="signal", summary="Change whether a signal is registered.", tags=("signals",))
@guard(Action.SIGNAL_READ, load=load_signal)
def api_signal_registration(signal_id: int):
    """Whoever brought the signal changes their choice: ``registered`` with the
    ``observation``, or ``oral_only`` (what was observed is erased)."""
    signal = apply_or_422(change_signal_registration, g.resource, g.membership, load_body(SignalRegistrationSchema()))
    return no_store_answer(signal=SignalOut(g.person).dump(signal))


# --- case settings ---------------------------------------------------------------------------


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
        return no_store_page("tenants/signal_settings.html", **_settings_form_context())
    values, errors = _settings_from_form()
    if not errors:
        changed, errors = run_rule(change_settings, values)
    if errors:
        return no_store_page("tenants/signal_settings.html", form_status(errors), errors, **_settings_form_context())
    flash(_l("The case settings were saved.") if changed else _l("Nothing changed."), "info")
    return redirect(url_for("tenant.case_settings"))


def _settings_form_context() -> dict:
    return {
        "settings": case_settings(),
        "levels": [(level.value, FLAG_LABELS[level], DEFAULT_FLAG_CRITERIA[level]) for level in FlagLevel],
    }


@blueprint.get("/api/case-settings")
@documented(answer=CaseSettingsAnswer, summary="The cell's case settings.", tags=("signals",))
@guard(Action.CASE_SETTINGS_MANAGE)
def api_case_settings():
    return no_store_answer(settings=CaseSettingsOut().dump(case_settings()))


@blueprint.patch("/api/case-settings")
@documented(body=CaseSettingsSchema, answer=CaseSettingsChangedAnswer, summary="Change the cell's case settings.", tags=("signals",))
@guard(Action.CASE_SETTINGS_MANAGE)
def api_case_settings_change():
    """Change the settings sent (a criterion sent as ``null`` goes back to the standard text)."""
    values = load_body(CaseSettingsSchema())
    if not values:
        raise InvalidFields({"_schema": [str(SETTINGS_EMPTY)]})
    changed = apply_or_422(change_settings, values)
    return no_store_answer(settings=CaseSettingsOut().dump(case_settings()), changed=changed)
