"""Pages of constant cost (issue 20): the home page, the case list and the API's cases and
dashboard run as many SQL statements for a cell of 43 cases as for one of 3, answer one page of
cases at most, and their "next" links reach every other case exactly once, in order.

The extra cases are written straight into the database (open and closed ones, with measures,
reviews and case teams), not through 40 weighings: the point is the pages' reading.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from statements import statements

from auth_helpers import give_session
from case_helpers import LEUVEN, membership, open_case, ready_cell
from conftest import seed_demo_tenants
from livc.platform.db import db, tenant_context
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import (
    Case,
    CaseStatus,
    CaseTeamMember,
    ClosureReason,
    Measure,
    MeasureStatus,
    Review,
    ReviewKind,
)
from livc.tenants.signals.models import FlagLevel, FollowUpKind, TargetGroup

EN = {"Accept-Language": "en"}
PAGES = ("home", "cases", "api/cases", "api/dashboard")


@pytest.fixture
def cell(app, cells):
    cell = ready_cell(app, cells[LEUVEN], LEUVEN)
    open_case(app, cell)  # one case through the real weighing, for the shape of a real one
    return cell


def add_cases(app, cell, count: int, first: int) -> None:
    """``count`` cases written directly: every fourth closed (every eighth with a review after
    closure still due), every third with an overdue open measure, every second with a review due;
    the partner in every team."""
    today = utcnow().date()
    with app.test_request_context(), tenant_context(cell.tenant_id):
        partner = membership(cell.partner)
        for number in range(first, first + count):
            closed = number % 4 == 0
            case = Case(
                code=f"T-{number:04d}", status=CaseStatus.CLOSED if closed else CaseStatus.OPEN,
                target_group=list(TargetGroup)[number % len(TargetGroup)], follow_up_kind=list(FollowUpKind)[0],
                flag=list(FlagLevel)[number % len(FlagLevel)], residence_nis=None,
                next_review_on=None if closed else today + timedelta(days=number % 20 - 5),
                closed_at=utcnow() if closed else None, closure_reason=ClosureReason.GOALS_REACHED if closed else None,
            )
            db.session.add(case)
            db.session.flush()
            db.session.add(CaseTeamMember(case_id=case.id, membership_id=partner.id))
            if number % 3 == 0:
                db.session.add(Measure(case_id=case.id, organisation_id=partner.organisation_id,
                                       status=MeasureStatus.PLANNED, due_on=today - timedelta(days=1),
                                       description="Talk with the school."))
            if closed and number % 8 == 0:
                db.session.add(Review(case_id=case.id, kind=ReviewKind.AFTER_CLOSURE, due_on=today + timedelta(days=3)))
            elif not closed and number % 2 == 0:
                db.session.add(Review(case_id=case.id, kind=ReviewKind.FOLLOW_UP, due_on=today + timedelta(days=number % 10)))
        db.session.commit()
        db.session.remove()


def cost(app, client, slug: str, page: str, query: str = "") -> tuple[int, str]:
    """The statements a page runs, and its body."""
    with statements(app) as ran:
        answer = client.get(f"/{slug}/{page}{query}", headers=EN)
    assert answer.status_code == 200, (page, answer.status_code)
    return len(ran), answer.get_data(as_text=True)


def signed_in(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def listed_codes(page: str, body: str) -> list[str]:
    if page == "api/cases":
        return [case["code"] for case in json.loads(body)["cases"]]
    return re.findall(r'<tr data-case="\d+"[^>]*>\s*<td><a href="[^"]+">([^<]+)</a>', body)


def test_each_page_runs_as_many_statements_for_43_cases_as_for_3(app, cell):
    add_cases(app, cell, 2, first=1)
    client = signed_in(app, cell.coordinator)
    partner = signed_in(app, cell.partner)
    for page in PAGES:  # warm: the first request of a client may set up its session
        cost(app, client, cell.slug, page), cost(app, partner, cell.slug, page)
    few = {(who, page): cost(app, c, cell.slug, page)[0] for page in PAGES
           for who, c in (("coordinator", client), ("partner", partner))}

    add_cases(app, cell, 40, first=100)
    many = {(who, page): cost(app, c, cell.slug, page)[0] for page in PAGES
            for who, c in (("coordinator", client), ("partner", partner))}

    grown = {key: (few[key], many[key]) for key in few if many[key] > few[key] + 1}
    assert not grown, f"statements grow with the number of cases: {grown}"


@pytest.mark.parametrize("page", ["cases", "api/cases"])
def test_the_case_list_answers_one_page_and_its_next_links_reach_every_case_once_in_order(sqlite_app, page):
    app = sqlite_app
    tenants = seed_demo_tenants(app)
    cell = ready_cell(app, tenants[LEUVEN], LEUVEN)
    open_case(app, cell)
    add_cases(app, cell, 42, first=1)
    client = signed_in(app, cell.coordinator)
    everything = listed_codes(page, cost(app, client, cell.slug, page, "?per_page=200")[1])
    assert len(everything) == 43
    assert everything.index("T-0004") > everything.index("T-0042")  # the open ones first

    seen, address = [], f"/{cell.slug}/{page}?per_page=10"
    while address:
        answer = client.get(address, headers=EN)
        assert answer.status_code == 200
        body = answer.get_data(as_text=True)
        codes = listed_codes(page, body)
        assert 0 < len(codes) <= 10
        seen += codes
        if page == "api/cases":
            address = answer.get_json()["next"]
        else:
            found = re.search(r'<a [^>]*href="([^"]+)" rel="next"', body)
            address = found.group(1).replace("&amp;", "&") if found else None
    assert seen == everything

    default = listed_codes(page, cost(app, client, cell.slug, page)[1])
    assert len(default) == 43  # 50 a page by default

    bad = client.get(f"/{cell.slug}/{page}?after=not-a-cursor", headers=EN)
    assert bad.status_code == 400
    assert "no longer valid" in bad.get_data(as_text=True)
