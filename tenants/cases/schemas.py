"""What the case forms and the JSON API accept: one input schema per operation, the weighing
and the person search included.

Pages and API validate with the same schemas (the API sends JSON, pages send forms that the
views turn into the same shape), then call :mod:`livc.tenants.cases.operations`, which keeps
the rules. The field helpers are the signals' (:mod:`livc.tenants.signals.schemas`).
"""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from marshmallow import fields, post_load, validate, validates_schema

from livc.platform.forms import REQUIRED, edit_version
from livc.tenants.cases.models import (
    CHOSEN_MEASURE_CATEGORIES,
    ClosureReason,
    FurtherFollowUp,
    MeasureCategory,
    MeasureStatus,
    NoteVisibility,
    ReviewOutcome,
    TerroristPhase,
)
from livc.tenants.decisions.models import DecisionWay
from livc.tenants.members.schemas import FieldSchema
from livc.tenants.signals.models import (
    SHORT_TEXT_MAX,
    FlagLevel,
    FollowUpKind,
    ObservedFact,
    TargetGroup,
    WeighingDecision,
)
from livc.tenants.signals.registration import Registration
from livc.tenants.signals.schemas import (
    CHOOSE,
    NAME_MAX,
    ResidenceSchema,
    choice,
    day,
    organisation_id,
    registered_needs,
    text,
)


def member_id(**kwargs) -> fields.Integer:
    return fields.Integer(strict=False, error_messages={**REQUIRED, "invalid": _l("Choose a member of the cell.")}, **kwargs)


NAMED_PARTICIPANTS = _l(
    "Who took part is not typed: it is the members who confirm the proposal, or who are registered "
    "present at the meeting that takes it."
)


class DecisionSchema(FieldSchema):
    """A joint decision (:mod:`livc.tenants.decisions`): proposed (the default), taken in the
    meeting in session, or, on an urgent signal, acted on by the coordinator at once."""

    way = choice(DecisionWay, load_default=DecisionWay.PROPOSE)


class FactSchema(FieldSchema):
    fact = choice(ObservedFact, required=True)
    description = text(required=True)
    observed_on = day()


class WeighingSchema(DecisionSchema, ResidenceSchema):
    """The API sends ``facts`` as a list; the page sends ``fact_<key>`` checkboxes with
    ``fact_<key>_description`` and ``fact_<key>_on`` (see :func:`facts_from_form`). The
    residence, when sent, sets or corrects where the person lives."""

    flag = choice(FlagLevel, required=True)
    decision = choice(WeighingDecision, required=True)
    # Refused when sent: a decision by one person is never presented as joint.
    participant_ids = fields.List(member_id(), load_default=list, validate=validate.Length(max=0, error=NAMED_PARTICIPANTS))
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


class CaseResidenceSchema(FieldSchema):
    """A move within the territory: the NIS code of another of the cell's municipalities."""

    residence_nis = text(5, required=True)


class CaseChangeSchema(FieldSchema):
    target_group = choice(TargetGroup)
    follow_up_kind = choice(FollowUpKind)
    approached_for_other_problem = fields.Boolean()
    goal = text()
    version = edit_version()


class TeamMemberSchema(DecisionSchema):
    membership_id = member_id(required=True)
    until = day()


def measure_category(*, required: bool = False) -> fields.Enum:
    """One of the categories a measure is given; "not recorded" is only what older measures have."""
    return choice(MeasureCategory, required=required, validate=validate.OneOf(CHOSEN_MEASURE_CATEGORIES, error=CHOOSE))


class MeasureSchema(FieldSchema):
    description = text(required=True)
    organisation_id = organisation_id(required=True)
    due_on = day()
    status = choice(MeasureStatus)
    category = measure_category(required=True)


class MeasureChangeSchema(FieldSchema):
    description = text()
    organisation_id = organisation_id()
    due_on = day()
    status = choice(MeasureStatus)
    category = measure_category()
    version = edit_version()


class NoteSchema(FieldSchema):
    """A note: its body is required when registered (the operation says so, field by field)."""

    body = text()
    visibility = choice(NoteVisibility, required=True)
    registration = choice(Registration, load_default=Registration.REGISTERED)
    brought_by_id = member_id(allow_none=True)  # recorded for another partner: then oral only

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _body(self, data, original, **_kwargs) -> None:
        registered_needs(data, original, "body")


class NoteRegistrationSchema(FieldSchema):
    """The bringing partner's change of choice: registered (with the body) or oral only."""

    registration = choice(Registration, required=True)
    body = text()


class ReviewSchema(FieldSchema):
    outcome = choice(ReviewOutcome, required=True)
    summary = text(required=True)
    flag = choice(FlagLevel)
    next_review_on = day()


class ClosureSchema(DecisionSchema):
    reason = choice(ClosureReason, required=True)
    note = text()
    municipality = text(5)  # the NIS code of the new municipality, when the person moved away


class FeedbackSchema(FieldSchema):
    effectiveness = text()
    cooperation = text()
    distance = text()
    further_follow_up = choice(FurtherFollowUp)
    further_note = text()
    other_elements = text()
    terrorist_phase = choice(TerroristPhase)
    phase_explanation = text()
    version = edit_version()


class ApprovalSchema(FieldSchema):
    revision = fields.Integer(strict=False, required=True, error_messages={**REQUIRED, "invalid": _l("Not a revision of this form.")})


BELGIAN_TIME = ZoneInfo("Europe/Brussels")
DELIVERED_AT_ERRORS = {**REQUIRED, "invalid": _l("Enter a day and a time as YYYY-MM-DDTHH:MM (Belgian time).")}


class DeliverySchema(FieldSchema):
    """When the information officer handed the form to the LTF: typed in Belgian time, kept in UTC."""

    delivered_at = fields.NaiveDateTime(required=True, error_messages=DELIVERED_AT_ERRORS)

    @post_load
    def _in_utc(self, values: dict, **_kwargs) -> dict:
        local = values["delivered_at"].replace(tzinfo=BELGIAN_TIME)
        return {**values, "delivered_at": local.astimezone(UTC).replace(tzinfo=None)}


class LtfAnswerSchema(FieldSchema):
    answer = text(required=True)


class SearchSchema(FieldSchema):
    name = text(NAME_MAX * 2)
    national_number = text(20)
