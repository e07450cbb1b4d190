"""What the cell's organisation accepts and answers: one schema per form, for pages and API alike.

Input schemas check the shape (a known form or kind, lengths, a number for a member); the rules
of the cell (who may chair, who may sit where) live in :mod:`livc.tenants.cell`. Answers name
members by display name, role and organisation, never by e-mail address: every member of the
table reads them.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from livc.platform.forms import REQUIRED, text_field
from livc.platform.roles import ORGANISATION_KIND_LABELS, ROLE_LABELS, Role
from livc.platform.tenancy import COLOUR
from livc.tenants.cell.models import (
    CADENCE_MAX,
    CELL_FORM_LABELS,
    NAME_MAX,
    NOTES_MAX,
    PARTICIPATION_LABELS,
    PARTNER_KIND_LABELS,
    TABLE_KIND_LABELS,
    CellForm,
    Participation,
    PartnerKind,
    TableKind,
    serves_as_operational,
)
from livc.tenants.cell.operations import UNKNOWN_MEMBER, table_problems
from livc.tenants.members.schemas import FieldSchema


def _choice(enum, message, **kwargs) -> fields.Enum:
    return fields.Enum(enum, by_value=True, error_messages={**REQUIRED, "unknown": message}, **kwargs)


def _member_field() -> fields.Integer:
    """A membership id, or null for nobody (the rules check it is one of the cell's)."""
    return fields.Integer(strict=False, required=False, allow_none=True, error_messages={"invalid": UNKNOWN_MEMBER})


def _optional_text(max_length: int) -> fields.String:
    return fields.String(
        required=False, allow_none=True, validate=validate.Length(max=max_length, error=_l("At most {max} characters."))
    )


def _partner_kind(**kwargs) -> fields.Enum:
    return _choice(PartnerKind, _l("Choose one of the kinds of organisation."), **kwargs)


class ProfileSchema(FieldSchema):
    form = _choice(CellForm, _l("Choose one of the forms of a cell."), required=True)
    appointed_official_id = _member_field()


class ColourSchema(Schema):
    """The cell's colour as a colour picker gives it ("#1d70b8"); ``reset`` goes back to the
    platform's colours."""

    colour = fields.String(load_default=None, validate=validate.Regexp(
        COLOUR, error=_l("Choose a colour, written as # and six hexadecimal digits.")))
    reset = fields.String(load_default=None)


class TableSchema(FieldSchema):
    kind = _choice(TableKind, _l("Choose one of the kinds of table."), required=True)
    name = text_field(NAME_MAX)
    chair_membership_id = _member_field()
    secretary_membership_id = _member_field()
    cadence = _optional_text(CADENCE_MAX)


class SeatSchema(FieldSchema):
    """A member (``membership_id``) or an outside participant (kind and organisation)."""

    membership_id = _member_field()
    participant_kind = _partner_kind(required=False, allow_none=True)
    participant_organisation = _optional_text(NAME_MAX)
    capacity = _optional_text(NAME_MAX)


class PartnerSchema(FieldSchema):
    organisation_name = text_field(NAME_MAX)
    kind = _partner_kind(required=True)
    participation = _choice(Participation, _l("Choose one of the participation levels."), required=True)
    contact_role = _optional_text(NAME_MAX)
    notes = _optional_text(NOTES_MAX)


# --- answers ---------------------------------------------------------------------------------


class MemberRefOut(Schema):
    """A member as the table knows them: no e-mail address."""

    id = fields.Integer()
    display_name = fields.Function(lambda membership: membership.account.display_name)
    role = fields.Enum(Role, by_value=True)
    role_label = fields.Function(lambda membership: str(ROLE_LABELS[membership.role]))
    organisation = fields.Function(lambda membership: membership.organisation.name)
    organisation_kind = fields.Function(lambda membership: membership.organisation.kind.value)
    organisation_kind_label = fields.Function(lambda membership: str(ORGANISATION_KIND_LABELS[membership.organisation.kind]))
    status = fields.Function(lambda membership: membership.seat_status)


class ProfileOut(Schema):
    form = fields.Enum(CellForm, by_value=True, allow_none=True)
    form_label = fields.Function(lambda profile: str(CELL_FORM_LABELS[profile.form]) if profile.form else None)
    appointed_official = fields.Nested(MemberRefOut, allow_none=True)
    updated_at = fields.DateTime(allow_none=True)  # null: the cell has no profile yet


class SeatOut(Schema):
    id = fields.Integer()
    table_id = fields.Integer()
    member = fields.Nested(MemberRefOut, attribute="membership", allow_none=True)
    participant_kind = fields.Enum(PartnerKind, by_value=True, allow_none=True)
    participant_kind_label = fields.Function(
        lambda seat: str(PARTNER_KIND_LABELS[seat.participant_kind]) if seat.participant_kind else None
    )
    participant_organisation = fields.String(allow_none=True)
    capacity = fields.String(allow_none=True)


class TableOut(Schema):
    id = fields.Integer()
    kind = fields.Enum(TableKind, by_value=True)
    kind_label = fields.Function(lambda table: str(TABLE_KIND_LABELS[table.kind]))
    serves_as_operational = fields.Function(lambda table: serves_as_operational(table.kind))
    name = fields.String()
    chair = fields.Nested(MemberRefOut, allow_none=True)
    secretary = fields.Nested(MemberRefOut, allow_none=True)
    cadence = fields.String(allow_none=True)
    seats = fields.Nested(SeatOut, many=True)
    # Rules broken since by a member's change (a chair who now sits for the police, ...).
    problems = fields.Function(lambda table: [str(problem) for problem in table_problems(table)])
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PartnerOut(Schema):
    id = fields.Integer()
    organisation_name = fields.String()
    kind = fields.Enum(PartnerKind, by_value=True)
    kind_label = fields.Function(lambda entry: str(PARTNER_KIND_LABELS[entry.kind]))
    participation = fields.Enum(Participation, by_value=True)
    participation_label = fields.Function(lambda entry: str(PARTICIPATION_LABELS[entry.participation]))
    contact_role = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class LegalMinimumOut(Schema):
    """Whether the cell may open cases, and what the law still requires (dump ``{"missing": [...]}``)."""

    can_open_cases = fields.Function(lambda report: not report["missing"])
    missing = fields.Function(lambda report: [str(problem) for problem in report["missing"]])


class MunicipalityOut(Schema):
    nis_code = fields.String()
    name = fields.String()


# --- the answers' envelopes, for the OpenAPI document -------------------------------------------


class StructureAnswer(Schema):
    """Everything the organisation page shows."""

    profile = fields.Nested(ProfileOut)
    municipalities = fields.List(fields.Nested(MunicipalityOut))
    tables = fields.List(fields.Nested(TableOut))
    legal_minimum = fields.Nested(LegalMinimumOut)
    composition_problems = fields.List(fields.String())
    partners = fields.List(fields.Nested(PartnerOut))
