"""No operator route reveals what a cell discusses (issue 6: "Tests prove that no operator route
reveals case content").

A cell is seeded with a case opened from a signal, an identity, a progress note and a second
signal, all carrying recognisable markers. Then every route of the console found in the URL
map (pages and API, the lifecycle's included, the development outbox switched on) is asked by
an administrator, with its ids filled from the seeded data, and no answer may contain any
marker: not the names, the date of birth, the national number, the address, the observation,
the note, nor even the case code or the signal references.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from admin_helpers import add_operator, give_operator_session, operator_csrf
from case_helpers import IDENTITY, OBSERVATION, membership, open_case, ready_cell, signal_values
from livc.admin.operators.models import OperatorRole
from livc.platform.db import db, tenant_context
from livc.tenants.cases.models import NoteVisibility
from livc.tenants.signals.models import Signal

SLUG = "demo-leuven"
NOTE = "Marker note: met the pupil's older brother at the Zwarte Zusters youth centre."


@pytest.fixture
def seeded(app, demo_tenants):
    from livc.tenants.cases import operations as cases
    from livc.tenants.signals.operations import submit_signal

    cell = ready_cell(app, demo_tenants[SLUG], SLUG)
    case_id, code = open_case(app, cell)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        case = cases.find_case(case_id)
        cases.add_note(case, membership(cell.coordinator), {"body": NOTE, "visibility": NoteVisibility.TEAM})
        second = submit_signal(membership(cell.partner), signal_values(family_name="Markerlinckx",
                                                                       observation="Marker observation of a second signal"))
        db.session.commit()
        references = db.session.scalars(sa.select(Signal.reference)).all()
        assert second.reference in references
    markers = [value for value in IDENTITY.values()] + ["2007-03-14", "14/03/2007", "Markerlinckx", OBSERVATION,
                                                       "Marker observation", NOTE, "Zwarte Zusters", code, *references]
    return {"tenant_id": cell.tenant_id, "markers": markers}


def test_no_operator_route_reveals_case_signal_or_identity_content(app, seeded):
    app.config["LIVC_OUTBOX_PAGE"] = True
    administrator = add_operator(app, OperatorRole.ADMINISTRATOR)
    target = add_operator(app, OperatorRole.SUPPORT, "target@operators.example.test")
    client = app.test_client()
    give_operator_session(app, client, administrator)
    # The outbox holds what the cell's mails said (invitations, and whatever the seeding sent).
    outbox = client.get("/admin/outbox").get_data(as_text=True)
    mail_names = re.findall(r"/admin/outbox/(\d{8}T\d{12}\.eml)", outbox) or ["20260101T000000000000.eml"]
    with app.app_context():  # a zone of the police-zone directory, so that its pages answer too
        from livc.admin.police_zones.operations import set_zone

        set_zone({"code": "5388", "name": "Leuven", "nis_codes": ["24062"]}, actor="cli")
        db.session.commit()
    values = {"slug": [SLUG], "operator_id": [target.id], "name": mail_names, "token": ["x" * 43], "code": ["5388"]}

    asked, leaks = 0, []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method != "GET" and "/api/" not in rule.rule:
                continue
            for path in _paths(rule, values):
                if method == "GET":
                    response = client.get(path, headers={"Accept": "text/html"})
                else:
                    response = client.post(path, json={}, headers={"X-CSRFToken": operator_csrf(client)})
                asked += 1
                assert response.status_code < 500, f"{method} {path}: {response.status_code}"
                text = response.get_data(as_text=True)
                leaks += [f"{method} {path}: {marker!r}" for marker in seeded["markers"] if marker in text]
    assert asked >= 15
    assert leaks == []


def _paths(rule, values: dict[str, list]) -> list[str]:
    paths = [rule.rule]
    for name in rule.arguments:
        pattern = rf"<(?:\w+:)?{name}>"
        paths = [re.sub(pattern, str(value), path) for path in paths for value in values.get(name, ["x" * 43])]
    return paths


def test_the_operators_view_of_the_seeded_cell_has_numbers_not_content(app, seeded):
    client = app.test_client()
    give_operator_session(app, client, add_operator(app, OperatorRole.SUPPORT))
    health = client.get("/admin/api/health").get_json()
    (leuven,) = [tenant for tenant in health["tenants"] if tenant["slug"] == SLUG]
    assert leuven["cases"] == 1 and leuven["members"] == 6  # the ready cell's six, its alderman included
    assert set(leuven) == {"slug", "name", "status", "members", "cases", "chain"}
