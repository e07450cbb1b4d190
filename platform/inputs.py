"""Bad input answered 4xx at the edge, the same way for every route.

A probe found requests that reached the database or the interpreter's limits and ended in a
500: ids above 2^63-1 (no column holds them), lone surrogates (no encoder writes them), NUL
characters (PostgreSQL refuses them in text), JSON nested thousands deep (the parser recurses)
and dates in year 1 or 9999 (arithmetic on them overflows). Each is refused here once, before
any view runs or any schema loads, so no route can forget it:

- URLs: the app's ``int`` converter matches 0 .. 2^63-1 only; a larger id is a page not found;
- JSON bodies: nested at most :data:`MAX_JSON_DEPTH` levels (checked on the raw text, before
  the parser recurses); :func:`payload_faults` names every field holding a number out of
  range or a character that cannot be stored (used by ``load_body`` and the forms);
- query strings and posted forms: a NUL or a lone surrogate answers 400 naming the field;
- dates: :func:`date_field` and :func:`moment_field` accept a range that makes sense.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

#: The largest id any of our integer columns (``BIGINT``, SQLite's ``INTEGER``) can hold.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
#: Our deepest body is a list of objects in an object; 32 leaves ample room, never recursion.
MAX_JSON_DEPTH = 32
#: The dates the platform accepts unless a field says otherwise.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2100, 12, 31)

NUMBER_OUT_OF_RANGE = _l("This number is out of range.")
CHARACTER_REFUSED = _l("Contains a character that is not allowed (a NUL or an invalid Unicode character).")
TOO_DEEP = _l("The JSON body is nested too deeply (at most %(levels)s levels).", levels=MAX_JSON_DEPTH)
DATE_OUT_OF_RANGE = _l("Enter a date between {min} and {max}.")
DATE_IN_FUTURE = _l("This date cannot be in the future.")

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A JSON string (skipped whole, so brackets inside text do not count) or a bracket.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` limited to what a 64-bit column holds: a larger number matches no route (404)
    instead of reaching the database as an overflow."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=INT64_MAX if max is None else max, signed=signed)


def json_depth(text: str | bytes) -> int:
    """How deeply ``text``'s arrays and objects nest, counted without parsing (no recursion)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


class DepthLimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing a document nested deeper than :data:`MAX_JSON_DEPTH` before the
    recursive parser sees it (5,000 levels would end in a RecursionError, a 500)."""

    def loads(self, s: str | bytes, **kwargs):
        if json_depth(s) > MAX_JSON_DEPTH:
            raise BadRequest(TOO_DEEP)
        return super().loads(s, **kwargs)


def payload_faults(value, *, text: bool = True) -> dict:
    """Every place in a decoded body holding what cannot be stored, as field messages:
    ``{"name": [...], "items": {0: {"id": [...]}}}`` (marshmallow's shape). ``text=False``
    checks numbers only (for values a schema already loaded)."""
    if isinstance(value, dict):
        faults: dict = {}
        for key, item in value.items():
            if text and isinstance(key, str) and _UNSTORABLE.search(key):
                faults.setdefault("_schema", [CHARACTER_REFUSED])
                continue
            found = payload_faults(item, text=text)
            if found:
                faults[key] = found
        return faults
    if isinstance(value, list | tuple):
        return {index: found for index, item in enumerate(value) if (found := payload_faults(item, text=text))}
    return {"_value": [message]} if (message := _fault(value, text)) else {}


def _fault(value, text: bool):
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return NUMBER_OUT_OF_RANGE
    if isinstance(value, float) and (not math.isfinite(value) or abs(value) > INT64_MAX):
        return NUMBER_OUT_OF_RANGE
    if text and isinstance(value, str) and _UNSTORABLE.search(value):
        return CHARACTER_REFUSED
    return None


def field_faults(value, **kwargs) -> dict:
    """:func:`payload_faults` with each leaf's messages directly under its field's name (a bare
    value's under ``_schema``)."""
    faults = _flatten(payload_faults(value, **kwargs))
    return faults if isinstance(faults, dict) else {"_schema": faults}


def bounded_id(value: str) -> int:
    """``type=`` for an id read from a query string or a form field: beyond what a column holds
    it is a ValueError, so werkzeug's ``get`` gives the default instead of an overflow."""
    number = int(value)
    if not 0 <= number <= INT64_MAX:
        raise ValueError("id out of range")
    return number


def _flatten(faults):
    if isinstance(faults, dict):
        if set(faults) == {"_value"}:
            return faults["_value"]
        return {key: _flatten(item) for key, item in faults.items()}
    return faults


def _refuse_unstorable_parameters() -> None:
    """A NUL in a query string or a form field answers 400 naming the field (werkzeug already
    replaces bytes that are not UTF-8, so lone surrogates cannot arrive this way)."""
    sources = (request.args, request.form) if request.mimetype in _FORM_TYPES else (request.args,)
    for source in sources:
        for name, value in source.items(multi=True):
            if _UNSTORABLE.search(name) or _UNSTORABLE.search(value):
                shown = _UNSTORABLE.sub("", name)[:40]
                raise BadRequest(_l("The field %(field)s contains a character that is not allowed "
                                    "(a NUL or an invalid Unicode character).", field=shown))


_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def date_field(*, earliest: date = EARLIEST_DAY, latest: date = LATEST_DAY, past: bool = False,
               errors: dict | None = None, **kwargs) -> fields.Date:
    """A date in ``earliest .. latest`` (``past``: not after today, e.g. a date of birth)."""
    checks = [_between(earliest, latest, past=past)]
    extra = kwargs.pop("validate", None)
    checks.extend(extra if isinstance(extra, list) else [extra] if extra else [])
    return fields.Date(validate=checks, error_messages=errors or {}, **kwargs)


def moment_field(*, errors: dict | None = None, **kwargs) -> fields.NaiveDateTime:
    """A date and time in the platform's date range (time-zone arithmetic near year 1 or 9999
    overflows)."""
    checks = [_between(EARLIEST_DAY, LATEST_DAY)]
    extra = kwargs.pop("validate", None)
    checks.extend(extra if isinstance(extra, list) else [extra] if extra else [])
    return fields.NaiveDateTime(validate=checks, error_messages=errors or {}, **kwargs)


def _between(earliest: date, latest: date, *, past: bool = False):
    def check(value: date | datetime) -> None:
        day = value.date() if isinstance(value, datetime) else value
        if not earliest <= day <= latest:
            raise ValidationError(str(DATE_OUT_OF_RANGE).format(min=earliest.isoformat(), max=latest.isoformat()))
        if past and day > date.today():
            raise ValidationError(str(DATE_IN_FUTURE))
    return check


def init_app(app: Flask) -> None:
    """Before any route is added: the bounded ``int`` converter, the depth-limited JSON, the
    query-string and form check."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.json = DepthLimitedJSONProvider(app)
    app.before_request(_refuse_unstorable_parameters)
