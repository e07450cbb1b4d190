"""Reading JSON request bodies for API endpoints: one way, with field-level answers.

``load_body(schema)`` returns the validated data or ends the request with a JSON error that
names every field at fault (422), a malformed body (400), or a body that is not JSON (415).
Oversized bodies never get this far: ``LIVC_MAX_CONTENT_LENGTH`` answers 413 first, and a body
nested too deeply answers 400 before it is parsed (:mod:`livc.platform.inputs`). Numbers no
column holds and characters no database stores answer 422 on their field, before the schema.
"""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType

from livc.platform.inputs import field_faults

STALE_EDIT = _l("Someone else changed this since you opened it. Nothing you sent was saved: compare with the "
                "current values and save again if your change is still needed.")


class InvalidFields(HTTPException):
    """422 with every field's messages, in the user's language."""

    code = 422

    def __init__(self, messages: dict):
        super().__init__()
        self.messages = messages

    def get_response(self, environ=None, scope=None):
        response = jsonify(
            error={
                "status": self.code,
                "title": str(_l("Some fields need attention")),
                "fields": _as_text(self.messages),
            }
        )
        response.status_code = self.code
        return response


def _as_text(messages):
    if isinstance(messages, dict):
        return {str(key): _as_text(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [_as_text(value) for value in messages]
    return str(messages)


def json_payload():
    """The request's JSON document, refused (415, 400, 422) unless every value can be stored."""
    if not request.is_json:
        raise UnsupportedMediaType(_l("Send the data as JSON (Content-Type: application/json)."))
    payload = request.get_json(silent=True)
    if payload is None:
        raise BadRequest(_l("The request body is not valid JSON."))
    faults = field_faults(payload)
    if faults:
        raise InvalidFields(faults)
    return payload


def load_body(schema: Schema) -> dict:
    payload = json_payload()
    try:
        values = schema.load(payload)
    except ValidationError as error:
        raise InvalidFields(_as_lists(error.normalized_messages())) from None
    # A schema turns "1e30" or 1e30 into an integer too large for any column: refused the same way.
    faults = field_faults(values, text=False)
    if faults:
        raise InvalidFields(faults)
    return values


def _as_lists(messages: dict) -> dict:
    """Every field's messages as a list (marshmallow gives a bare message for some errors)."""
    return {
        key: _as_lists(value) if isinstance(value, dict) else value if isinstance(value, list) else [value]
        for key, value in messages.items()
    }
