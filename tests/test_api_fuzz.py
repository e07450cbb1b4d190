"""The JSON API fuzzed against its OpenAPI document (schemathesis): a bounded run in ``make test``.

A coordinator and a partner of a ready cell, and an administrator of the console, each send a
few generated requests to every operation they can reach (about 2,500 calls in all). Every
answer must be no 5xx, a status the document declares and a body of the shape it declares.
The longer run (10,000 calls) is ``scripts/fuzz-api.py``.
"""

from __future__ import annotations

import pytest
from fuzz_support import fuzz

from admin_helpers import add_operator, give_operator_session
from auth_helpers import sign_in
from case_helpers import ready_cell

LEUVEN = "demo-leuven"
EN = {"Accept-Language": "en"}
EXAMPLES = 12  # per operation and person: ~100 cell operations x 2 + ~17 console ones


def _member_client(app, member):
    client = app.test_client()
    sign_in(client, member)
    token = client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    return client, {"X-CSRFToken": token, **EN}


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ["coordinator", "partner"])
def test_the_cell_api_keeps_to_its_document(app, cells, role):
    cell = ready_cell(app, cells[LEUVEN], LEUVEN)
    client, headers = _member_client(app, getattr(cell, role))
    document = client.get("/api/openapi.json").get_json()
    run = fuzz(app, client, document, slug=LEUVEN, console=False, headers=headers, examples=EXAMPLES)
    print(run.summary())
    assert run.calls > 500
    assert not run.failures, run.summary()
    assert client.get(f"/{LEUVEN}/api/me").status_code == 200  # still signed in: the run meant something


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_console_api_keeps_to_its_document(app, cells):
    operator = add_operator(app)
    client = app.test_client()
    give_operator_session(app, client, operator)
    token = client.get("/admin/api/session").get_json()["csrf_token"]
    document = client.get("/api/openapi.json").get_json()
    run = fuzz(app, client, document, slug=LEUVEN, console=True, headers={"X-CSRFToken": token, **EN},
               examples=EXAMPLES * 3)
    print(run.summary())
    assert run.calls > 300
    assert not run.failures, run.summary()
    assert client.get("/admin/api/session").status_code == 200


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_an_organisation_name_taken_in_another_case_of_letters_beyond_ascii_answers_422(app, cells):
    """Found by the fuzzing: SQLite's lower() folds ASCII only, so a second "Ärzte" reached the
    unique constraint and answered 500."""
    cell = ready_cell(app, cells[LEUVEN], LEUVEN)
    client, headers = _member_client(app, cell.coordinator)
    first = client.post(f"/{LEUVEN}/api/organisations", json={"name": "Ärzte", "kind": "other"}, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post(f"/{LEUVEN}/api/organisations", json={"name": "Ärzte", "kind": "other"}, headers=headers)
    assert again.status_code == 422
    assert "name" in again.get_json()["error"]["fields"]
