"""Reading JSON request bodies for API endpoints: one way, with field-level answers.

``load_body(schema)`` returns the validated data or ends the request with a JSON error that
names every field at fault (422), a malformed body (400), or a body that is not JSON (415).
Oversized bodies never get this far: ``LIVC_MAX_CONTENT_LENGTH`` answers 413 first.
"""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType


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


def load_body(schema: Schema) -> dict:
    if not request.is_json:
        raise UnsupportedMediaType(_l("Send the data as JSON (Content-Type: application/json)."))
    payload = request.get_json(silent=True)
    if payload is None:
        raise BadRequest(_l("The request body is not valid JSON."))
    try:
        return schema.load(payload)
    except ValidationError as error:
        raise InvalidFields(_as_lists(error.normalized_messages())) from None


def _as_lists(messages: dict) -> dict:
    """Every field's messages as a list (marshmallow gives a bare message for some errors)."""
    return {
        key: _as_lists(value) if isinstance(value, dict) else value if isinstance(value, list) else [value]
        for key, value in messages.items()
    }
