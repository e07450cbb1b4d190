"""The API's contract: ``GET /api/openapi.json`` answers an OpenAPI 3 document that describes
every route of the JSON API, and real answers are checked against it."""

from __future__ import annotations

import copy

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from admin_helpers import add_operator, give_operator_session
from auth_helpers import sign_in
from livc.platform.openapi import ATTRIBUTE, MAX_ID, api_rules

EN = {"Accept-Language": "en"}
LEUVEN = "demo-leuven"


def _document(client) -> dict:
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200, answer.status_code
    assert answer.mimetype == "application/json"
    return answer.get_json()


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_document_is_a_valid_openapi_3_document(app):
    document = _document(app.test_client())
    validate(document)  # raises on anything the specification does not allow
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "livc" and document["info"]["version"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": app.config["SESSION_COOKIE_NAME"],
                                  "description": schemes["session"]["description"]}
    assert schemes["csrf"]["in"] == "header" and schemes["csrf"]["name"] == "X-CSRFToken"
    case = document["paths"]["/{tenant_slug}/api/cases/{case_id}"]
    ids = {parameter["name"]: parameter["schema"] for parameter in case["parameters"]}
    assert ids["case_id"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    assert ids["tenant_slug"]["type"] == "string"
    # A change needs the session and the CSRF token; signing in needs the token only.
    invite = document["paths"]["/{tenant_slug}/api/members"]["post"]
    assert invite["security"] == [{"session": [], "csrf": []}]
    assert document["paths"]["/{tenant_slug}/api/session"]["post"]["security"] == [{"csrf": []}]
    assert {"401", "403", "413", "415", "422", "503"} <= set(invite["responses"])
    assert "/admin/api/tenants" in document["paths"]


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_every_route_of_the_api_is_in_the_document_and_described(app):
    """A new API view without ``@documented`` (or a route the document misses) fails here."""
    document = _document(app.test_client())
    operations = {(path, method) for path, item in document["paths"].items() for method in item if method != "parameters"}
    missing, undescribed = [], []
    for rule in api_rules(app):
        path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (path, method.lower()) not in operations:
                missing.append(f"{method} {rule.rule}")
            if getattr(app.view_functions[rule.endpoint], ATTRIBUTE, None) is None:
                undescribed.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, f"routes missing from the document: {missing}"
    assert not undescribed, f"API views without @documented: {undescribed}"


def _validated(schema, path: str, method: str, answer) -> bool:
    """Whether ``answer`` keeps to the document: a declared status, a body of the declared shape."""
    case = schema[path][method].Case(path_parameters={"tenant_slug": LEUVEN} if "{tenant_slug}" in path else {})
    try:
        case.validate_response(answer, checks=[status_code_conformance, response_schema_conformance])
    except (AssertionError, FailureGroup) as failure:
        print(path, method, answer.status_code, failure)
        return False
    return True


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_real_answers_are_checked_against_the_document(app, coordinator):
    client = app.test_client()
    document = _document(client)
    schema = schemathesis.openapi.from_dict(document)
    anonymous = app.test_client()
    token = anonymous.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]

    # Answers that keep to the contract: successes and refusals alike.
    assert _validated(schema, "/{tenant_slug}/api/session", "GET", anonymous.get(f"/{LEUVEN}/api/session"))
    assert _validated(schema, "/{tenant_slug}/api/me", "GET", anonymous.get(f"/{LEUVEN}/api/me", headers=EN))
    refused = anonymous.post(f"/{LEUVEN}/api/session", json={"email": "x"}, headers={"X-CSRFToken": token, **EN})
    assert refused.status_code == 422
    assert _validated(schema, "/{tenant_slug}/api/session", "POST", refused)
    sign_in(client, coordinator)
    for path in ("/api/me", "/api/members", "/api/organisations", "/api/undertaking", "/api/sso"):
        answer = client.get(f"/{LEUVEN}{path}", headers=EN)
        assert answer.status_code == 200, (path, answer.status_code)
        assert _validated(schema, "/{tenant_slug}" + path, "GET", answer), path
    operator = add_operator(app)
    console = app.test_client()
    give_operator_session(app, console, operator)
    for path in ("/admin/api/session", "/admin/api/tenants", "/admin/api/police-zones", "/admin/api/figures"):
        answer = console.get(path, headers=EN)
        assert answer.status_code == 200, (path, answer.status_code)
        assert _validated(schema, path, "GET", answer), path

    # An answer outside the contract is caught: a status not declared, a body of another shape.
    me = client.get(f"/{LEUVEN}/api/me", headers=EN)
    teapot = copy.copy(me)
    teapot.status_code = 418
    assert not _validated(schema, "/{tenant_slug}/api/me", "GET", teapot)
    me.set_data(b'{"member": {"id": "not a number"}}')
    assert not _validated(schema, "/{tenant_slug}/api/me", "GET", me)
