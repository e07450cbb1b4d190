"""What the policy follow-up's forms and JSON API accept: an entry put to the strategic table, a
report on its status, and the list's filters.

Pages and API validate with the same schemas; they check shape only (a known choice, a real
date, a length), the rules live in :mod:`livc.tenants.strategy.operations`.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate

from livc.platform.forms import REQUIRED, field_messages
from livc.tenants.decisions.models import DecisionWay
from livc.tenants.members.schemas import FieldSchema
from livc.tenants.signals.schemas import choice, day, organisation_id, text
from livc.tenants.strategy.models import (
    FIRST_YEAR,
    NOTE_MAX,
    TEXT_MAX,
    TITLE_MAX,
    EntryKind,
    EntryStatus,
)

ENTRY_WAYS = (DecisionWay.PROPOSE, DecisionWay.MEETING)
WAY_CHOICE = _l("Choose how the table decides: propose it, or decide it in the meeting in session.")
YEAR = _l("Enter a year, such as 2026.")
MEMBER = _l("Choose a member at the strategic table.")
MEETING = _l("Choose a meeting of the strategic table that has been held.")


def year(**kwargs) -> fields.Integer:
    return fields.Integer(strict=False, allow_none=True, error_messages={**REQUIRED, "invalid": YEAR},
                          validate=validate.Range(min=FIRST_YEAR, max=9999, error=YEAR), **kwargs)


class EntrySchema(FieldSchema):
    """An entry of the policy follow-up, put to the strategic table as a joint decision."""

    kind = choice(EntryKind, required=True)
    title = text(TITLE_MAX, required=True)
    text = text(TEXT_MAX)
    owner_membership_id = fields.Integer(strict=False, allow_none=True, error_messages={**REQUIRED, "invalid": MEMBER})
    owner_organisation_id = organisation_id()
    decided_on = day(required=True)
    due_on = day()
    year = year()
    meeting_id = fields.Integer(strict=False, allow_none=True, error_messages={**REQUIRED, "invalid": MEETING})
    way = fields.Enum(DecisionWay, by_value=True, load_default=DecisionWay.PROPOSE,
                      validate=validate.OneOf(ENTRY_WAYS, error=WAY_CHOICE),
                      error_messages={**REQUIRED, "unknown": WAY_CHOICE})


class StatusReportSchema(FieldSchema):
    """Where an entry stands, said by its owner (or the coordinator)."""

    status = choice(EntryStatus, required=True)
    note = text(NOTE_MAX)


class FilterSchema(FieldSchema):
    """The list's filters (a query string): each optional, a wrong value named field by field."""

    kind = choice(EntryKind)
    status = choice(EntryStatus)
    year = year()


def read_filters(args) -> tuple[dict, dict[str, list[str]]]:
    """The list's filters from a query string: (values, {}) or ({}, the faults field by field)."""
    schema = FilterSchema()
    raw = {name: value.strip() for name, value in args.items() if name in schema.fields and value.strip()}
    try:
        return schema.load(raw), {}
    except ValidationError as error:
        return {}, field_messages(error)
