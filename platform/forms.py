"""Forms and JSON bodies validated by the same marshmallow schemas, answered field by field."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate

from livc.platform.accounts import EMAIL_MAX, NAME_MAX, PASSWORD_MAX
from livc.platform.api import STALE_EDIT, InvalidFields
from livc.platform.db import EditConflict
from livc.platform.inputs import NUMBER_OUT_OF_RANGE, field_faults

REQUIRED = {"required": _l("This field is required."), "null": _l("This field is required.")}


def email_field(**kwargs) -> fields.String:
    return fields.String(
        required=True,
        validate=[
            validate.Length(max=EMAIL_MAX, error=_l("At most {max} characters.")),
            validate.Email(error=_l("Enter a valid e-mail address.")),
        ],
        error_messages=REQUIRED,
        **kwargs,
    )


def text_field(max_length: int, required: bool = True, **kwargs) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.Length(min=1 if required else 0, max=max_length, error=_l("Between {min} and {max} characters.")),
        error_messages=REQUIRED,
        **kwargs,
    )


def secret_field() -> fields.String:
    # Checked for length only: a too-long value is refused before any hashing.
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=PASSWORD_MAX, error=_l("At most {max} characters.")),
        error_messages=REQUIRED,
    )


class SignInSchema(Schema):
    email = email_field()
    password = secret_field()


class CodeSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=6, max=20, error=_l("Enter the 6-digit code or a recovery code.")),
        error_messages=REQUIRED,
    )


class NewPasswordSchema(Schema):
    password = secret_field()
    password_repeat = secret_field()


class InvitationAcceptSchema(NewPasswordSchema):
    display_name = text_field(NAME_MAX)


class ResetRequestSchema(Schema):
    email = email_field()


class ChangePasswordSchema(NewPasswordSchema):
    current_password = secret_field()


def form_values(schema: Schema, source=None) -> tuple[dict, dict[str, list[str]]]:
    """Validated values and field errors (as translated strings) of a submitted form."""
    raw = {name: value.strip() if name not in SECRET_FIELDS else value for name, value in (source or request.form).items()}
    raw = {name: raw[name] for name in schema.fields if name in raw and raw[name] != ""}
    try:
        values = schema.load(raw)
    except ValidationError as error:
        return {}, field_messages(error)
    # A typed id no column holds is refused on its field, as in JSON bodies.
    faults = field_faults(values, text=False)
    return ({}, {name: [str(NUMBER_OUT_OF_RANGE)] for name in faults}) if faults else (values, {})


def field_messages(error: ValidationError) -> dict[str, list[str]]:
    """Every field's messages as a list of strings in the reader's language (marshmallow gives a
    message or a list of them, possibly lazy; form-level ones under ``_schema``)."""
    return {
        field: [str(m) for m in (messages if isinstance(messages, list | tuple) else [messages])]
        for field, messages in error.normalized_messages().items()
    }


NOTHING_SENT = _l("Fill in the form first: nothing was sent.")


def form_sent(schema: Schema) -> bool:
    """Whether the posted form carries any of ``schema``'s fields (an empty post is not a form)."""
    return any(name in request.form for name in schema.fields)


def run_rule(operation: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, dict[str, list[str]]]:
    """Run an operation for a page: (result, {}) or (None, the refused rule's messages per field)."""
    try:
        return operation(*args, **kwargs), {}
    except ValidationError as error:
        return None, field_messages(error)
    except EditConflict as conflict:
        return None, conflict_messages(conflict)


def conflict_messages(conflict: EditConflict) -> dict[str, list[str]]:
    """A stale edit on a page: the message, and beside each field someone else changed meanwhile
    its current value (the form keeps what the person typed, and the current version, so saving
    again applies their values on purpose)."""
    messages = {"_schema": [str(STALE_EDIT)]}
    for name, value in conflict.current.items():
        shown = value.value if isinstance(value, enum.Enum) else value.isoformat() if isinstance(value, date) else value
        messages[name] = [str(_l("Changed meanwhile; it now reads: %(value)s", value="—" if shown in (None, "") else shown))]
    return messages


def form_status(errors: dict) -> int:
    """The status of a form shown again: 409 for an edit someone else overtook, else 422."""
    return 409 if str(STALE_EDIT) in errors.get("_schema", ()) else 422


def submit_form(schema: Schema, operation: Callable[[dict], Any], *,
                require_sent: bool = False) -> tuple[Any, dict[str, list[str]]]:
    """Validate the posted form with ``schema`` and run ``operation(values)``: (result, errors),
    the errors of the form and of the operation's rules alike, field by field. ``require_sent``:
    a post without any of the form's fields is answered "nothing was sent"."""
    if require_sent and not form_sent(schema):
        return None, {"_schema": [str(NOTHING_SENT)]}
    values, errors = form_values(schema)
    if errors:
        return None, errors
    return run_rule(operation, values)


def every_field(values: dict, schema: Schema) -> dict:
    """What an edit form sends: every field, an optional one left empty meaning "none"."""
    return {name: values.get(name) for name in schema.fields}


def edit_version() -> fields.Integer:
    """The edit version of the record the person read (optional): an edit made on an older one is
    refused with 409 and the current values (:func:`livc.platform.db.check_version`). Sent by
    every edit form as a hidden field; an API client that leaves it out edits the current row."""
    return fields.Integer(
        strict=False, allow_none=True, validate=validate.Range(min=1, error=_l("Not a version of this record.")),
        error_messages={"invalid": _l("Not a version of this record.")},
        metadata={"description": "The version read (from the answer's `version`): an older one answers 409."},
    )


def apply_or_422(operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run an operation for the API; a refused rule answers 422 with the fields at fault."""

    try:
        return operation(*args, **kwargs)
    except ValidationError as error:
        raise InvalidFields(field_messages(error)) from None


SECRET_FIELDS = {"password", "password_repeat", "current_password", "code"}


def render_form(template: str, status: int = 200, errors: dict | None = None, **context):
    """Render ``template`` with what the person typed (never passwords) and the errors per field."""
    typed = {name: value for name, value in request.form.items() if name not in SECRET_FIELDS and name != "csrf_token"}
    return render_template(template, typed=typed, errors=errors or {}, **context), status
