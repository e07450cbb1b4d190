"""What signal and case forms and the JSON API accept: one input schema per operation.

Pages and API validate with the same schemas (the API sends JSON, pages send forms that the
views turn into the same shape), then call the operations of :mod:`livc.tenants.signals` and
:mod:`livc.tenants.cases`, which keep the rules. Schemas check shape only: lengths, a known
choice, a real date, a well-formed Belgian national number.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates

from livc.tenants.case_models import (
    CODE_PREFIX_MAX,
    SHORT_TEXT_MAX,
    TEXT_MAX,
    ClosureReason,
    FlagLevel,
    FollowUpKind,
    FurtherFollowUp,
    InternalAssessment,
    MeasureStatus,
    NoteVisibility,
    ObservedFact,
    ReviewOutcome,
    SignalChannel,
    TargetGroup,
    TerroristPhase,
    Urgency,
    WeighingDecision,
)
from livc.tenants.forms import REQUIRED
from livc.tenants.member_schemas import DATE_ERRORS, FieldSchema

AT_MOST = _l("At most {max} characters.")
CHOOSE = _l("Choose one of the options.")
NAME_MAX = 120
ADDRESS_MAX = 300
NATIONAL_NUMBER_PATTERN = re.compile(r"^\d{2}\.?\d{2}\.?\d{2}-?\d{3}\.?\d{2}$")


def choice(enum_type, *, required: bool = False, **kwargs) -> fields.Enum:
    return fields.Enum(enum_type, by_value=True, required=required, allow_none=not required,
                       error_messages={**REQUIRED, "unknown": CHOOSE}, **kwargs)


def text(max_length: int = TEXT_MAX, *, required: bool = False) -> fields.String:
    return fields.String(required=required, allow_none=not required, error_messages=REQUIRED,
                         validate=validate.Length(max=max_length, error=AT_MOST))


def day(**kwargs) -> fields.Date:
    return fields.Date(allow_none=True, error_messages=DATE_ERRORS, **kwargs)


def member_id(**kwargs) -> fields.Integer:
    return fields.Integer(strict=False, error_messages={**REQUIRED, "invalid": _l("Choose a member of the cell.")}, **kwargs)


def organisation_id(**kwargs) -> fields.Integer:
    return fields.Integer(strict=False, allow_none=True,
                          error_messages={**REQUIRED, "invalid": _l("Choose an organisation of the cell.")}, **kwargs)


def national_number_valid(value: str) -> bool:
    """A Belgian national register number (*rijksregisternummer*): 11 digits whose last two
    are 97 minus the first nine modulo 97 (for births from 2000 on, with a 2 before them)."""
    digits = re.sub(r"\D", "", value)
    if len(digits) != 11:
        return False
    body, check = int(digits[:9]), int(digits[9:])
    return check in (97 - body % 97, 97 - int("2" + digits[:9]) % 97)


class IdentitySchema(FieldSchema):
    """The person concerned: every field optional (a signal may stay anonymous)."""

    given_names = text(NAME_MAX)
    family_name = text(NAME_MAX)
    date_of_birth = day()
    national_number = text(20)
    address = text(ADDRESS_MAX)

    @validates("national_number")
    def _national_number(self, value: str | None, **_kwargs) -> None:
        if value and not (NATIONAL_NUMBER_PATTERN.match(value.strip()) and national_number_valid(value)):
            raise ValidationError(_l("Enter the 11 digits of a Belgian national number (YY.MM.DD-XXX.CC)."))


class SignalSchema(IdentitySchema):
    channel = choice(SignalChannel, load_default=SignalChannel.FORM)
    observation = text(required=True)
    reporter_contact = text(SHORT_TEXT_MAX * 2)
    reporter_organisation_id = organisation_id()
    internal_assessment = choice(InternalAssessment, required=True)
    assessment_note = text()
    urgency = choice(Urgency, required=True)
    observed_from = day()
    observed_until = day()


class FactSchema(FieldSchema):
    fact = choice(ObservedFact, required=True)
    description = text(required=True)
    observed_on = day()


class WeighingSchema(FieldSchema):
    """The API sends ``facts`` as a list; the page sends ``fact_<key>`` checkboxes with
    ``fact_<key>_description`` and ``fact_<key>_on`` (see :func:`facts_from_form`)."""

    flag = choice(FlagLevel, required=True)
    decision = choice(WeighingDecision, required=True)
    participant_ids = fields.List(member_id(), load_default=list)
    facts = fields.List(fields.Nested(FactSchema), load_default=list)
    rationale = text()
    referred_to = text(SHORT_TEXT_MAX)
    # open a case
    target_group = choice(TargetGroup)
    follow_up_kind = choice(FollowUpKind)
    approached_for_other_problem = fields.Boolean(load_default=False)
    team_ids = fields.List(member_id(), load_default=list)
    # add to a case
    case_id = fields.Integer(strict=False, allow_none=True, error_messages={"invalid": _l("Choose an open case of the cell.")})


def facts_from_form(form) -> list[dict]:
    """The ticked checklist items of the weighing page, as :class:`FactSchema` dicts."""
    ticked = []
    for fact in ObservedFact:
        if form.get(f"fact_{fact.value}"):
            ticked.append({
                "fact": fact.value,
                "description": form.get(f"fact_{fact.value}_description", "").strip(),
                **({"observed_on": form[f"fact_{fact.value}_on"]} if form.get(f"fact_{fact.value}_on") else {}),
            })
    return ticked


class CaseChangeSchema(FieldSchema):
    target_group = choice(TargetGroup)
    follow_up_kind = choice(FollowUpKind)
    approached_for_other_problem = fields.Boolean()
    goal = text()


class TeamMemberSchema(FieldSchema):
    membership_id = member_id(required=True)
    until = day()


class MeasureSchema(FieldSchema):
    description = text(required=True)
    organisation_id = organisation_id(required=True)
    due_on = day()
    status = choice(MeasureStatus)


class MeasureChangeSchema(FieldSchema):
    description = text()
    organisation_id = organisation_id()
    due_on = day()
    status = choice(MeasureStatus)


class NoteSchema(FieldSchema):
    body = text(required=True)
    visibility = choice(NoteVisibility, required=True)


class ReviewSchema(FieldSchema):
    outcome = choice(ReviewOutcome, required=True)
    summary = text(required=True)
    flag = choice(FlagLevel)
    next_review_on = day()


class ClosureSchema(FieldSchema):
    reason = choice(ClosureReason, required=True)
    note = text()


class FeedbackSchema(FieldSchema):
    effectiveness = text()
    cooperation = text()
    distance = text()
    further_follow_up = choice(FurtherFollowUp)
    further_note = text()
    other_elements = text()
    terrorist_phase = choice(TerroristPhase)
    phase_explanation = text()


class ApprovalSchema(FieldSchema):
    revision = fields.Integer(strict=False, required=True, error_messages={**REQUIRED, "invalid": _l("Not a revision of this form.")})


class SearchSchema(FieldSchema):
    name = text(NAME_MAX * 2)
    national_number = text(20)


class CaseSettingsSchema(FieldSchema):
    code_prefix = fields.String(
        validate=validate.Regexp(r"^[A-Z]{2,%d}$" % CODE_PREFIX_MAX,
                                 error=_l("Two to six capital letters, e.g. GNT for Gent.")),
    )
    flag_green_criteria = text()
    flag_yellow_criteria = text()
    flag_red_criteria = text()
    flag_black_criteria = text()
    review_interval_days = fields.Integer(strict=False, validate=validate.Range(
        min=7, max=365, error=_l("Between {min} and {max} days.")))
    reviews_after_closure = fields.Boolean()
    review_months_after_closure = fields.String(validate=validate.Regexp(
        r"^\s*(\d{1,2})(\s*,\s*\d{1,2})*\s*$", error=_l("Months separated by commas, e.g. 6,12.")))
    retention_months_closed = fields.Integer(strict=False, validate=validate.Range(
        min=1, max=120, error=_l("Between {min} and {max} months.")))
    retention_months_signals = fields.Integer(strict=False, validate=validate.Range(
        min=1, max=60, error=_l("Between {min} and {max} months.")))
