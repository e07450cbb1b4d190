"""The operator console's lists of constant cost (issue 20): the tenants (page and API) and the
operator accounts run as many SQL statements with a full page and 10 more rows as with a full
page alone (a tenant's onboarding steps are read for the page's tenants only), show one page at most,
and their "next" links reach every row exactly once, in the list's order; the tenants list's
filters work in the query.

Tenants are written straight into the database (directory rows, a municipality each, and the
operator trail's invitation), and pages are asked five rows at a time (``?per_page=5``).
"""

from __future__ import annotations

import json
import re
from itertools import count

import pytest
from statements import every_page as walk_pages
from statements import read as statements_read

from admin_helpers import add_operator, give_operator_session
from livc.admin.operators.models import OperatorRole
from livc.admin.operators.operations import record_action
from livc.platform.db import db
from livc.platform.tenancy import Tenant, TenantKind, TenantMunicipality, TenantStatus

EN = {"Accept-Language": "en"}
PER_PAGE = 5
numbers = count(1)


def add_tenants(app, how_many: int, status: TenantStatus = TenantStatus.ACTIVE) -> list[str]:
    """Cells with a municipality each, their coordinator invited by an operator (the trail)."""
    slugs = []
    with app.test_request_context():
        for _ in range(how_many):
            number = next(numbers)
            tenant = Tenant(slug=f"cell-{number:03d}", name=f"LIVC-R Cell {number:03d}", kind=TenantKind.MUNICIPALITY,
                            status=status, languages_csv="nl")
            tenant.municipalities.append(TenantMunicipality(nis_code=f"{90000 + number:05d}", name=f"Place {number}"))
            db.session.add(tenant)
            db.session.flush()
            record_action("tenant.onboarded", actor="operator:test", tenant=tenant)
            slugs.append(tenant.slug)
        db.session.commit()
        db.session.remove()
    return slugs


def add_operators(app, how_many: int) -> None:
    for _ in range(how_many):
        add_operator(app, OperatorRole.SUPPORT, f"support{next(numbers):03d}@operators.example.test")


def rows_of(kind: str, body: str) -> list[str]:
    if kind == "api/tenants":
        return [tenant["slug"] for tenant in json.loads(body)["tenants"]]
    if kind == "tenants":
        return re.findall(r'data-tenant="([^"]+)"', body)
    return re.findall(r'data-operator="(\d+)"', body)


def read(app, client, path: str) -> tuple[int, str]:
    return statements_read(app, client, path, EN)


def every_page(app, client, kind: str, first: str) -> list[str]:
    return walk_pages(app, client, kind, first, rows_of, PER_PAGE, EN)


@pytest.fixture
def console(app):
    client = app.test_client()
    give_operator_session(app, client, add_operator(app))
    return client


@pytest.mark.parametrize("kind", ["tenants", "api/tenants"])
def test_the_tenants_list_costs_the_same_for_a_page_and_10_more_cells_and_reaches_each_once(app, console, kind):
    first = f"/admin/{kind}?per_page={PER_PAGE}"
    read(app, console, first)  # warm: the first request of a session may set it up
    add_tenants(app, PER_PAGE)
    few, _ = read(app, console, first)

    add_tenants(app, 10)
    many, body = read(app, console, first)
    assert many <= few + 1, f"{kind}: {few} statements with {PER_PAGE} cells, {many} with {PER_PAGE + 10}"
    assert len(rows_of(kind, body)) == PER_PAGE

    seen = every_page(app, console, kind, first)
    with app.app_context():
        every_slug = db.session.scalars(db.select(Tenant.slug).order_by(Tenant.slug)).all()
    assert seen == every_slug and len(set(seen)) == len(seen)
    if kind == "api/tenants":
        listed = json.loads(body)["tenants"]
        ours = [tenant for tenant in listed if tenant["slug"].startswith("cell-")]
        assert ours and all(tenant["invited_at"] and tenant["municipalities"] for tenant in ours)
        assert all([step["key"] for step in tenant["progress"] if step["done"]] == ["onboarded"]
                   and tenant["progress"][-1]["key"] == "finished" for tenant in ours), \
            "each cell's onboarding steps (only onboarded: nobody was invited inside these cells)"
    else:
        assert body.count("steps done") == PER_PAGE


def test_the_tenants_list_filters_in_the_query(sqlite_app):
    app = sqlite_app
    client = app.test_client()
    give_operator_session(app, client, add_operator(app))
    active = add_tenants(app, 3)
    suspended = add_tenants(app, 2, TenantStatus.SUSPENDED)

    def slugs(query: str) -> list[str]:
        answer = client.get(f"/admin/api/tenants?{query}")
        assert answer.status_code == 200, answer.get_json()
        return [tenant["slug"] for tenant in answer.get_json()["tenants"]]

    assert slugs("status=suspended") == suspended
    assert set(active) <= set(slugs("status=active"))
    assert slugs(f"q={active[1][-3:]}&kind=municipality") == [active[1]]
    assert slugs("q=CELL%20") == active + suspended  # the name, whatever its case
    page = client.get("/admin/tenants?status=suspended", headers=EN).get_data(as_text=True)
    assert re.findall(r'data-tenant="([^"]+)"', page) == suspended
    assert "No cell matches these filters." in client.get("/admin/tenants?q=nowhere", headers=EN).get_data(as_text=True)
    for wrong in ("status=gone", "kind=city", "after=forged"):
        assert client.get(f"/admin/api/tenants?{wrong}").status_code == 400
        assert client.get(f"/admin/tenants?{wrong}", headers=EN).status_code == 400


def test_the_operator_accounts_page_costs_the_same_at_any_length(sqlite_app):
    app = sqlite_app
    client = app.test_client()
    give_operator_session(app, client, add_operator(app))
    first = f"/admin/operators?per_page={PER_PAGE}"
    read(app, client, first)
    add_operators(app, 2)
    few, _ = read(app, client, first)

    add_operators(app, 10)
    many, body = read(app, client, first)
    assert many <= few + 1, f"operators: {few} statements with 2 accounts, {many} with 12"
    assert len(rows_of("operators", body)) == PER_PAGE
    seen = every_page(app, client, "operators", first)
    assert len(seen) == len(set(seen)) == 13  # the administrator and the twelve
