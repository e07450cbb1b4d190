"""What the meeting forms and the JSON API accept: one input schema per operation.

Pages and API validate with the same schemas, then call :mod:`livc.tenants.meetings.operations`,
which keeps the rules. Times are typed in Belgian time, as ``YYYY-MM-DDTHH:MM`` (what a browser's
date-and-time field sends).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from livc.platform.forms import REQUIRED, edit_version
from livc.platform.inputs import moment_field
from livc.tenants.meetings.models import (
    LINK_MAX,
    NAME_MAX,
    PLACE_MAX,
    REASON_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    Attendance,
    MeetingKind,
)
from livc.tenants.members.schemas import FieldSchema
from livc.tenants.signals.models import REFERENCE_MAX
from livc.tenants.signals.registration import Registration
from livc.tenants.signals.schemas import choice, text

TIME_ERRORS = {**REQUIRED, "invalid": _l("Enter a day and a time as YYYY-MM-DDTHH:MM (Belgian time).")}
MEMBER_ERRORS = {**REQUIRED, "invalid": _l("Choose a member of the cell.")}


def moment(**kwargs) -> fields.NaiveDateTime:
    return moment_field(errors=TIME_ERRORS, **kwargs)


def member(**kwargs) -> fields.Integer:
    return fields.Integer(strict=False, allow_none=True, error_messages=MEMBER_ERRORS, **kwargs)


def required_text(max_length: int) -> fields.String:
    return fields.String(required=True, error_messages=REQUIRED, validate=validate.Length(
        min=1, max=max_length, error=_l("Between {min} and {max} characters.")))


class WhenAndWhereSchema(FieldSchema):
    """When and where a meeting is: what planning and moving it share."""

    starts_at = moment(required=True)
    ends_at = moment(required=True)
    place = text(PLACE_MAX)
    video_link = fields.String(allow_none=True, validate=[
        validate.Length(max=LINK_MAX, error=_l("At most {max} characters.")),
        validate.URL(schemes={"https"}, error=_l("Give the https:// address of the video meeting.")),
    ])


class MeetingSchema(WhenAndWhereSchema):
    table_id = fields.Integer(strict=False, allow_none=True,
                              error_messages={**REQUIRED, "invalid": _l("Choose a table of the cell.")})
    case_id = fields.Integer(strict=False, allow_none=True,
                             error_messages={**REQUIRED, "invalid": _l("Choose an open case you follow.")})
    kind = choice(MeetingKind, load_default=MeetingKind.REGULAR)
    chair_id = member()
    secretary_id = member()


class RescheduleSchema(WhenAndWhereSchema):
    """Moving a planned meeting: the page sends every field; the API (``partial=True``) the
    fields that change."""

    version = edit_version()


class ItemSchema(FieldSchema):
    """Another point of the agenda."""

    title = required_text(TITLE_MAX)
    case_code = text(REFERENCE_MAX)
    police_information = fields.Boolean(load_default=False)
    guest_id = member()
    # The partner who brings the point (none: the one adding it) and their choice (seed 001).
    brought_by_id = member()
    registration = choice(Registration, load_default=Registration.REGISTERED)


class TakeUpSchema(FieldSchema):
    """Proposed points to put on the agenda (none named: all of them)."""

    tokens = fields.List(fields.String(), load_default=None)


class GuestSchema(FieldSchema):
    guest_id = member(required=True)


class MoveSchema(FieldSchema):
    direction = fields.String(required=True, error_messages=REQUIRED,
                              validate=validate.OneOf(("up", "down"), error=_l("Choose up or down.")))


NOTHING_MARKED = _l("Register at least one member.")


class SessionSchema(FieldSchema):
    action = fields.String(required=True, error_messages=REQUIRED, validate=validate.OneOf(
        ("open", "close"), error=_l("Send open or close.")))


class MarkSchema(FieldSchema):
    membership_id = fields.Integer(strict=False, required=True, error_messages=MEMBER_ERRORS)
    attendance = choice(Attendance)


class AttendanceSchema(FieldSchema):
    """The API's register: ``{"marks": [{"membership_id": 7, "attendance": "present"}, ...]}``."""

    marks = fields.List(fields.Nested(MarkSchema), required=True, error_messages=REQUIRED)


class OccasionalSchema(FieldSchema):
    name = required_text(NAME_MAX)
    organisation = required_text(NAME_MAX)
    capacity = required_text(NAME_MAX)
    undertaking_signed = fields.Boolean(load_default=False)


class MinutesItemSchema(FieldSchema):
    summary = text(SUMMARY_MAX)
    off_the_record = fields.Boolean(load_default=False)
    version = edit_version()


class ItemRegistrationSchema(FieldSchema):
    """The bringing partner's change of choice: registered (with the summary) or oral only."""

    registration = choice(Registration, required=True)
    summary = text(SUMMARY_MAX)


class AddendumSchema(FieldSchema):
    text = required_text(SUMMARY_MAX)


class RequestSchema(FieldSchema):
    reason = required_text(REASON_MAX)
