"""What the signal forms and the JSON API accept: intake, the identity of the person concerned,
the cell's case settings; and the field helpers every input schema of signals and cases uses.

Schemas check shape only (lengths, a known choice, a real date, a well-formed Belgian national
number); the rules live in :mod:`livc.tenants.signals.operations`.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates, validates_schema

from livc.platform.forms import REQUIRED, edit_version
from livc.platform.inputs import date_field
from livc.tenants.members.schemas import DATE_ERRORS, FieldSchema
from livc.tenants.signals.models import (
    CODE_PREFIX_MAX,
    SHORT_TEXT_MAX,
    TEXT_MAX,
    InternalAssessment,
    SignalChannel,
    Urgency,
)
from livc.tenants.signals.registration import Registration

AT_MOST = _l("At most {max} characters.")
CHOOSE = _l("Choose one of the options.")
NAME_MAX = 120
ADDRESS_MAX = 300
NATIONAL_NUMBER_PATTERN = re.compile(r"^\d{2}\.?\d{2}\.?\d{2}-?\d{3}\.?\d{2}$")
NATIONAL_NUMBER_SHAPE = _l("Enter the 11 digits of a Belgian national number (YY.MM.DD-XXX.CC).")
NATIONAL_NUMBER_CHECK = _l("This national number's check digits do not match: check it for a typing error.")


def choice(enum_type, *, required: bool = False, **kwargs) -> fields.Enum:
    return fields.Enum(enum_type, by_value=True, required=required, allow_none=not required,
                       error_messages={**REQUIRED, "unknown": CHOOSE}, **kwargs)


def text(max_length: int = TEXT_MAX, *, required: bool = False) -> fields.String:
    return fields.String(required=required, allow_none=not required, error_messages=REQUIRED,
                         validate=validate.Length(max=max_length, error=AT_MOST))


def day(**kwargs) -> fields.Date:
    """A date in the platform's range (``past=True``: not after today, e.g. a date of birth)."""
    return date_field(allow_none=True, errors=DATE_ERRORS, **kwargs)


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
    date_of_birth = day(past=True)
    national_number = text(20)
    address = text(ADDRESS_MAX)

    @validates("national_number")
    def _national_number(self, value: str | None, **_kwargs) -> None:
        if not value:
            return
        if not NATIONAL_NUMBER_PATTERN.match(value.strip()):
            raise ValidationError(NATIONAL_NUMBER_SHAPE)
        if not national_number_valid(value):  # 11 digits, but not a number the register gives out
            raise ValidationError(NATIONAL_NUMBER_CHECK)


class ResidenceSchema(FieldSchema):
    """Where the person lives (:mod:`livc.tenants.signals.territory`): ``residence`` is a NIS
    code, ``"outside"`` (then ``residence_outside``, a name or a NIS code) or ``"unknown"``."""

    residence = text(20)
    residence_outside = text(NAME_MAX)


class SignalSchema(IdentitySchema, ResidenceSchema):
    channel = choice(SignalChannel, load_default=SignalChannel.FORM)
    observation = text()  # required when registered (the operation says so)
    registration = choice(Registration, load_default=Registration.REGISTERED)
    reporter_contact = text(SHORT_TEXT_MAX * 2)
    reporter_organisation_id = organisation_id()
    internal_assessment = choice(InternalAssessment, required=True)
    assessment_note = text()
    urgency = choice(Urgency, required=True)
    observed_from = day()
    observed_until = day()

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _observation(self, data, original, **_kwargs) -> None:
        registered_needs(data, original, "observation")


def registered_needs(data: dict, original, field: str) -> None:
    """What is registered has content: ``field`` is required unless shared orally only (a
    value sent but refused has its own message already)."""
    sent = original.get(field) if hasattr(original, "get") else None
    if data.get("registration", Registration.REGISTERED) == Registration.REGISTERED and not str(sent or "").strip():
        raise ValidationError(REQUIRED["required"], field)


class SignalRegistrationSchema(FieldSchema):
    """The reporter's change of choice: registered (with the observation) or oral only."""

    registration = choice(Registration, required=True)
    observation = text()


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
    version = edit_version()
