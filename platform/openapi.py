"""The JSON API's contract: what each endpoint reads and answers, for the OpenAPI document.

A view of the API says what it takes and gives with :func:`documented`, placed directly under
its route decorator::

    @blueprint.post("/<tenant_slug>/api/scenarios")
    @documented(body=ScenarioIn, answer=ScenarioOut, status=201, errors=(409,))
    @guard(Action.SCENARIO_MANAGE)
    def api_create_scenario(): ...

The decorator only records the description on the view (``view.__openapi__``) and returns the
view unchanged; the document itself is built from the app's URL map (:func:`document`, served at
``GET /api/openapi.json``), so a route of the API without a description is noticed (see
``tests/test_openapi.py``) and fuzzed all the same (``tests/test_api_fuzz.py``).

The answers every endpoint may give are added here, not by each view: the platform's error
shape (:data:`ERROR_SCHEMA`, what :func:`livc.platform.web.error_response`,
:func:`livc.tenants.access.json_error` and :class:`livc.platform.api.InvalidFields` answer) for
503 always, 401 and 403 where a sign-in is needed, 400 and 413 for every change (the CSRF
token, the size limit), 415 and 422 where a body is read, 404 where the path names something.
"""
from __future__ import annotations

import re
import warnings
from importlib import metadata
from typing import Any, Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask, current_app, jsonify
from marshmallow import Schema, fields

from livc.platform.policy import public
from livc.platform.web import blueprint

#: The attribute a described view carries.
ATTRIBUTE = "__openapi__"

#: Where the document is served (outside any cell).
DOCUMENT_PATH = "/api/openapi.json"

#: The largest id a path accepts: the databases' BIGINT.
MAX_ID = 2**63 - 1

CHANGES = ("POST", "PUT", "PATCH", "DELETE")

#: The platform's error answer, whoever answers it.
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "title"],
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status, repeated."},
                "title": {"type": "string", "description": "What went wrong, in the member's language."},
                "message": {"type": "string", "description": "What to do about it."},
                "code": {"type": "string", "description": "A machine-readable reason (e.g. `sign_in_required`)."},
                "fields": {
                    "type": "object",
                    "description": "Each field at fault with its messages (422).",
                    "additionalProperties": True,
                },
                "version": {
                    "type": "integer",
                    "description": "A stale edit (409): the record's version now, to send again once the change is reconsidered.",
                },
                "current": {
                    "type": "object",
                    "description": "A stale edit (409): each field sent that someone else changed meanwhile, with its value now.",
                    "additionalProperties": True,
                },
            },
        }
    },
}

ERROR_DESCRIPTIONS = {
    400: "Malformed request: the body is not JSON, the CSRF token is missing or stale, or a query value is wrong.",
    401: "Not signed in.",
    403: "Signed in, but the policy does not allow this (or the cell is suspended, or its undertaking is pending).",
    404: "Nothing at this address (or not visible to the one asking).",
    409: ("In conflict with the current state: done already by a request at the same moment, or an edit "
          "made on an older `version` (then `error.current` holds what changed and `error.version` the version now)."),
    410: "The link has expired or was already used.",
    413: "The body is larger than the platform accepts.",
    415: "The body is not sent as `application/json`.",
    422: "Some fields need attention: `error.fields` names each with its messages.",
    429: "Too many attempts; wait a moment.",
    503: "The database (or the job queue) cannot be reached; nothing was saved.",
}


def documented(
    *,
    body: type[Schema] | Schema | None = None,
    answer: type[Schema] | Schema | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    query: type[Schema] | Schema | None = None,
    many: bool = False,
    summary: str | None = None,
    tags: tuple[str, ...] = (),
    envelope: str | None = None,
    also: tuple[int, ...] = (),
    paged: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe an API view: ``body`` the JSON it reads, ``answer`` the JSON it gives with
    ``status`` (``many`` for a list), ``errors`` the statuses beyond the ones every endpoint may
    answer, ``query`` its query-string parameters. ``envelope`` names the one key the answer is
    wrapped in (``{"member": {...}}``, ``{"members": [...]}`` with ``many``); ``also`` lists other
    success statuses answered with the same body (``201`` when a PUT created); ``paged`` says a
    list answers one page (:mod:`livc.platform.paging`) with ``next``, the next page's path or
    ``null``."""

    description = {
        "body": body,
        "answer": answer,
        "status": status,
        "errors": tuple(errors),
        "query": query,
        "many": many,
        "summary": summary,
        "tags": tuple(tags),
        "envelope": envelope,
        "also": tuple(also),
        "paged": paged,
    }

    def record(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, ATTRIBUTE, description)
        return view

    return record


# --- the document ------------------------------------------------------------------------------


@blueprint.get(DOCUMENT_PATH)
@public
def openapi_document():
    """The OpenAPI 3 document of the JSON API, cells' and console's alike."""
    return jsonify(document(current_app))


def document(app: Flask) -> dict:
    """The OpenAPI document of ``app``'s API, built once per app from its URL map."""
    built = app.extensions.get("livc.openapi")
    if built is None:
        built = app.extensions["livc.openapi"] = build(app)
    return built


def api_rules(app: Flask) -> list:
    """The URL rules of the JSON API (every path with ``/api/``), the document's own excepted."""
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "/api/" in rule.rule and rule.rule != DOCUMENT_PATH),
        key=lambda rule: rule.rule,
    )


def build(app: Flask) -> dict:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="livc",
        version=_version(),
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": (
                "The JSON API of the cells (`/{tenant_slug}/api/...`) and of the operators' console "
                "(`/admin/api/...`). A client works like a browser: it keeps the session cookie "
                f"(`{app.config['SESSION_COOKIE_NAME']}`), reads the CSRF token from `GET /{{tenant_slug}}/api/session` "
                f"(or `GET /admin/api/session`) and sends it in the `{_csrf_header(app)}` header with every change."
            )
        },
    )
    # The platform keeps UTC without an offset, and marshmallow writes it so ("2026-05-01T09:00:00"):
    # not an RFC 3339 ``date-time``, so the document does not promise one.
    plugin.map_to_openapi_type(fields.DateTime, "string", None)
    spec.components.schema("Error", ERROR_SCHEMA)
    spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": app.config["SESSION_COOKIE_NAME"],
                    "description": "The session cookie set by signing in."})
    spec.components.security_scheme(
        "csrf", {"type": "apiKey", "in": "header", "name": _csrf_header(app),
                 "description": "The CSRF token of the session, required with every POST, PUT, PATCH and DELETE."})
    with warnings.catch_warnings():
        # The same schema with other ``exclude``/``partial`` gets a numbered name; that is fine.
        warnings.filterwarnings("ignore", message="Multiple schemas resolved to the name")
        for rule in api_rules(app):
            view = app.view_functions[rule.endpoint]
            methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
            operations = {
                method.lower(): _operation(app, rule, view, method, len(methods) > 1) for method in methods
            }
            path, parameters = _path(rule)
            spec.path(path=path, operations=operations, parameters=parameters)
    return spec.to_dict()


def _version() -> str:
    try:
        return metadata.version("livc")
    except metadata.PackageNotFoundError:  # a checkout that was never installed
        return "0.0.0"


def _csrf_header(app: Flask) -> str:
    return app.config.get("WTF_CSRF_HEADERS", ["X-CSRFToken"])[0]


def _schema_name(schema) -> str:
    """One component per schema class: its module's domain and its name (two ``ResendSchema``
    classes live in different domains)."""
    cls = resolve_schema_cls(schema)
    parts = cls.__module__.split(".")
    domain = "".join(part.title().replace("_", "") for part in parts[1:-1]) or parts[-1].title()
    name = cls.__name__.removesuffix("Schema") or cls.__name__
    return f"{domain}{name}"


_PARAMETER = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<arguments>.*?)\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")


def _path(rule) -> tuple[str, list[dict]]:
    """The rule as an OpenAPI path, and its path parameters with their types."""
    parameters = []
    for match in _PARAMETER.finditer(rule.rule):
        converter = match["converter"] or "default"
        if converter == "int":
            schema: dict = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _PARAMETER.sub(lambda match: "{" + match["name"] + "}", rule.rule), parameters


def _operation(app: Flask, rule, view, method: str, several: bool) -> dict:
    described = getattr(view, ATTRIBUTE, None)
    access = getattr(view, "access", None)
    signed_in = access is not None and access.action is not None
    change = method in CHANGES
    operation: dict[str, Any] = {
        "operationId": f"{rule.endpoint}_{method.lower()}" if several else rule.endpoint,
        "tags": [*(described or {}).get("tags", ())] or [_tag(rule)],
    }
    summary = (described or {}).get("summary") or _first_line(view.__doc__)
    if summary:
        operation["summary"] = summary
    security: dict[str, list] = {}
    if signed_in:
        security["session"] = []
    if change:
        security["csrf"] = []
    operation["security"] = [security] if security else []

    errors = {503}
    if rule.arguments:
        errors.add(404)
    if signed_in:
        errors.update((401, 403))
    if change:
        # 409: a double submit that met a unique constraint, or an edit on an older version.
        errors.update((400, 409, 413))
    if described is None:
        operation["description"] = "Not described yet: any answer."
        operation["x-undocumented"] = True
        operation["responses"] = {"default": {"description": "Not described yet."}}
        return operation

    if described["body"] is not None:
        errors.update((400, 413, 415, 422))
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": described["body"]}},
        }
    if described["query"] is not None:
        errors.update((400, 422))
        operation["parameters"] = [{"in": "query", "schema": described["query"]}]
    errors.update(described["errors"])

    responses: dict[str, dict] = {}
    for status in (described["status"], *described["also"]):
        success: dict[str, Any] = {"description": "Done." if described["answer"] is None else "The answer."}
        if described["answer"] is not None:
            success["content"] = {"application/json": {"schema": _answer(described)}}
        responses[str(status)] = success
    for status in sorted(errors):
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS.get(status, "Refused."),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation["responses"] = responses
    return operation


def _answer(described: dict) -> dict | Schema | type[Schema]:
    schema: Any = described["answer"]
    if described["many"]:
        schema = {"type": "array", "items": schema}
    if described["envelope"]:
        schema = {"type": "object", "required": [described["envelope"]], "properties": {described["envelope"]: schema}}
        if described.get("paged"):
            schema["required"].append("next")
            schema["properties"]["next"] = {
                "type": "string", "nullable": True,
                "description": "The path of the next page (same filters), or null on the last page.",
            }
    return schema


def _tag(rule) -> str:
    """``console`` for ``/admin/api/``, else the cell's resource (``cases``, ``members``...)."""
    if rule.rule.startswith("/admin/"):
        return "console"
    after = rule.rule.split("/api/", 1)[1]
    return after.split("/", 1)[0] or "cell"


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    return " ".join(text.strip().split("\n\n", 1)[0].split())
