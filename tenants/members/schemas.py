"""What member management accepts and answers: one schema per form, shared by pages and the API.

Input schemas validate the shape of what was sent (lengths, a known role, a real date); the
rules of the cell (who may sit for whom, the last coordinator) live in
:mod:`livc.tenants.members`. Output schemas list what a member record may show, field by
field: never password hashes, second-factor secrets or link tokens.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate

from livc.platform import registry
from livc.platform.accounts import NAME_MAX
from livc.platform.forms import REQUIRED, email_field, field_messages, text_field
from livc.platform.inputs import date_field
from livc.platform.roles import ORGANISATION_KIND_LABELS, ROLE_LABELS, OrganisationKind, Role
from livc.platform.settings import LANGUAGES
from livc.tenants.members.models import STATUS_LABELS

ORGANISATION_NAME_MAX = 120  # organisations.name is String(120)
DATE_ERRORS = {"invalid": _l("Enter a date as YYYY-MM-DD.")}


class FieldSchema(Schema):
    """Answers every fault as ``{field: [text, ...]}``, whatever marshmallow produced.

    Lazy messages would otherwise reach JSON answers as a bare string for some fields and a
    list for others.
    """

    def handle_error(self, error: ValidationError, data, **kwargs) -> None:
        raise ValidationError(field_messages(error), data=error.data, valid_data=error.valid_data)


def _role_field(**kwargs) -> fields.Enum:
    return fields.Enum(Role, by_value=True, error_messages={**REQUIRED, "unknown": _l("Choose one of the roles.")}, **kwargs)


def _organisation_field(**kwargs) -> fields.Integer:
    return fields.Integer(
        strict=False, error_messages={**REQUIRED, "invalid": _l("Choose an organisation of the cell.")}, **kwargs
    )


def _date_field() -> fields.Date:
    return date_field(required=False, allow_none=True, errors=DATE_ERRORS)


def _language_field() -> fields.String:
    """The language of the invitation mail (the cell's first working language when absent)."""
    return fields.String(
        required=False, validate=validate.OneOf(LANGUAGES, error=_l("Choose one of the cell's working languages."))
    )


def _municipality_field() -> fields.String:
    """The municipality (NIS code) a mayor stands for, in a cell of several municipalities."""
    return fields.String(required=False, allow_none=True, validate=validate.Length(
        max=5, error=_l("Choose one of the cell's municipalities.")))


class InviteSchema(FieldSchema):
    email = email_field()
    display_name = fields.String(
        required=False, validate=validate.Length(max=NAME_MAX, error=_l("At most {max} characters."))
    )
    role = _role_field(required=True)
    organisation_id = _organisation_field(required=True)
    clearance_expires_on = _date_field()
    expires_on = _date_field()
    municipality_nis = _municipality_field()
    language = _language_field()


class MemberChangeSchema(FieldSchema):
    """The edit form sends every field (an empty date clears it); the API may send only some."""

    role = _role_field(required=True)
    organisation_id = _organisation_field(required=True)
    clearance_expires_on = _date_field()
    expires_on = _date_field()
    municipality_nis = _municipality_field()
    # Stands in for the alderman for social affairs (seed 004): the edit form's checkbox.
    social_mandatee = fields.Boolean(required=False, allow_none=True)


class ResendSchema(FieldSchema):
    language = _language_field()


class OrganisationSchema(FieldSchema):
    name = text_field(ORGANISATION_NAME_MAX)
    kind = fields.Enum(
        OrganisationKind, by_value=True, required=True,
        error_messages={**REQUIRED, "unknown": _l("Choose one of the kinds of organisation.")},
    )


class OrganisationRenameSchema(FieldSchema):
    name = text_field(ORGANISATION_NAME_MAX)


# --- answers ---------------------------------------------------------------------------------
# Each answer is wrapped in one key (``{"member": {...}}``): the views say which to the OpenAPI
# document (``documented(envelope=...)``).


class OrganisationOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.Enum(OrganisationKind, by_value=True)
    kind_label = fields.Function(lambda organisation: str(ORGANISATION_KIND_LABELS[organisation.kind]))


class MemberOut(Schema):
    """A seat at the table. ``email`` only for those who manage members (pass ``exclude``)."""

    id = fields.Integer()
    # While a seat is only invited: no account id and the inviter's name for it (``shown_name``).
    account_id = fields.Integer(attribute="shown_account_id", allow_none=True)
    display_name = fields.String(attribute="shown_name")
    email = fields.Function(lambda membership: membership.account.email)
    role = fields.Enum(Role, by_value=True)
    role_label = fields.Function(lambda membership: str(ROLE_LABELS[membership.role]))
    organisation = fields.Nested(OrganisationOut)
    status = fields.Function(lambda membership: membership.seat_status)
    status_label = fields.Function(lambda membership: str(STATUS_LABELS[membership.seat_status]))
    clearance_expires_on = fields.Date(allow_none=True)
    clearance_valid = fields.Boolean()
    expires_on = fields.Date(allow_none=True)
    # the municipality a mayor stands for (cells of several)
    municipality_nis = fields.String(allow_none=True)
    municipality = fields.Function(lambda membership: registry.name_of(membership.municipality_nis), allow_none=True)
    social_mandatee = fields.Boolean()  # stands in for the alderman for social affairs
    created_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


class MeOut(Schema):
    """The signed-in member, as ``GET /api/me`` shows them."""

    account_id = fields.Integer()
    membership_id = fields.Integer(attribute="id")
    display_name = fields.Function(lambda membership: membership.account.display_name)
    email = fields.Function(lambda membership: membership.account.email)
    role = fields.Enum(Role, by_value=True)
    role_label = fields.Function(lambda membership: str(ROLE_LABELS[membership.role]))
    organisation = fields.Nested(OrganisationOut)
    clearance_valid = fields.Boolean()
    expires_on = fields.Date(allow_none=True)
