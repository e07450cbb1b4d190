"""The platform-wide figures (issue 17, part 7): a cell counts only after its joint decision; the
administrators see sums over the cells that agreed, hidden as a cell's own figures, never per
cell; and the demo's history (part 8): the mayor's year has real numbers, and erased cases still
count."""

from __future__ import annotations

import random
from datetime import date

import sqlalchemy as sa
from test_monitoring import demo, demo_member, signed_in, values_of  # noqa: F401  (demo: the fixture)

from admin_helpers import add_operator, give_operator_session
from auth_helpers import give_session, post_form
from case_helpers import HERKO, LEUVEN, membership, ready_cell
from livc.admin.figures.platform import (
    counting_cells,
    platform_cube,
    platform_facts,
    sum_platform_figures,
)
from livc.admin.operators.models import OperatorAuditEntry, OperatorRole
from livc.app.demo import seed_demo
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow
from livc.tenants.cases.erasure import erase_case
from livc.tenants.cases.models import Case, CaseStatus
from livc.tenants.decisions.models import DecisionKind, Proposal
from livc.tenants.decisions.operations import confirm
from livc.tenants.members.models import Organisation
from livc.tenants.monitoring.consent import counts_in_platform_figures, propose_consent
from livc.tenants.monitoring.facts import SEPARATOR
from livc.tenants.monitoring.figures import FIGURES, ORGANISATION_KINDS, parse_period
from livc.tenants.monitoring.models import KeptCount
from livc.tenants.monitoring.suppression import audit

EN = {"Accept-Language": "en"}
YEAR = utcnow().year


# --- the cell's consent: a joint decision --------------------------------------------------------


def test_a_cell_counts_only_once_a_second_member_confirms_the_coordinators_proposal(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN)
    coordinator, mayor = app.test_client(), app.test_client()
    give_session(app, coordinator, cell.coordinator)
    give_session(app, mayor, cell.mayor)

    page = coordinator.get(f"/{LEUVEN}/figures/consent", headers=EN)
    assert page.status_code == 200
    assert "The cell does not count in the platform-wide figures." in page.get_data(as_text=True)
    proposed = post_form(coordinator, f"/{LEUVEN}/figures/consent", {"platform_figures": "true", "way": "propose"})
    assert proposed.status_code == 302

    # Proposed by one member alone: nothing changes yet.
    state = mayor.get(f"/{LEUVEN}/api/monitoring/consent").get_json()
    assert state["consent"]["platform_figures"] is False
    assert state["consent"]["pending"]["platform_figures"] is True
    assert state["may_propose"] is False
    with app.app_context(), tenant_context(cell.tenant_id):
        assert counts_in_platform_figures() is False
    assert "Waiting for confirmation" in coordinator.get(f"/{LEUVEN}/figures/consent", headers=EN).get_data(as_text=True)

    # The proposer cannot confirm it; a second member of the table does, on the decisions page.
    decision = state["consent"]["pending"]["id"]
    own = post_form(coordinator, f"/{LEUVEN}/decisions/{decision}/confirm", {}, form_path=f"/{LEUVEN}/decisions/{decision}")
    assert own.status_code == 422
    confirmed = post_form(mayor, f"/{LEUVEN}/decisions/{decision}/confirm", {}, form_path=f"/{LEUVEN}/decisions/{decision}")
    assert confirmed.status_code == 302
    state = mayor.get(f"/{LEUVEN}/api/monitoring/consent").get_json()["consent"]
    assert state["platform_figures"] is True and state["pending"] is None and state["decided_at"]
    with app.app_context(), tenant_context(cell.tenant_id):
        assert counts_in_platform_figures() is True
    page = coordinator.get(f"/{LEUVEN}/figures/consent", headers=EN).get_data(as_text=True)
    assert "The cell counts in the platform-wide figures." in page and "Propose to stop counting" in page

    # Opting out is a joint decision too.
    answer = coordinator.post(f"/{LEUVEN}/api/monitoring/consent", json={"platform_figures": False},
                              headers={"X-CSRFToken": _csrf(coordinator)})
    assert answer.status_code == 202, answer.get_data(as_text=True)
    with app.app_context(), tenant_context(cell.tenant_id):
        assert counts_in_platform_figures() is True


def _csrf(client) -> str:
    page = client.get(f"/{LEUVEN}/figures/consent").get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_only_the_coordinator_puts_it_to_the_cell_and_the_current_state_is_not_proposed(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN)
    partner, coordinator = app.test_client(), app.test_client()
    give_session(app, partner, cell.partner)
    give_session(app, coordinator, cell.coordinator)
    assert partner.get(f"/{LEUVEN}/api/monitoring/consent").status_code == 200
    refused = partner.post(f"/{LEUVEN}/api/monitoring/consent", json={"platform_figures": True},
                           headers={"X-CSRFToken": _csrf(partner)})
    assert refused.status_code == 403
    same = coordinator.post(f"/{LEUVEN}/api/monitoring/consent", json={"platform_figures": False},
                            headers={"X-CSRFToken": _csrf(coordinator), **EN})
    assert same.status_code == 422
    assert same.get_json()["error"]["fields"] == {
        "platform_figures": ["The cell does not count in the platform-wide figures."]}
    empty = coordinator.post(f"/{LEUVEN}/api/monitoring/consent", json={}, headers={"X-CSRFToken": _csrf(coordinator), **EN})
    assert empty.status_code == 422 and "platform_figures" in empty.get_json()["error"]["fields"]


# --- the platform-wide figures -------------------------------------------------------------------


def _decide_to_count(app, cell) -> None:
    """The coordinator proposes, the mayor confirms: the cell counts."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        proposal = propose_consent(membership(cell.coordinator), {"platform_figures": True})
        confirm(proposal, membership(cell.mayor))
        db.session.commit()
        db.session.remove()


def _keep(app, tenant_id: int, rows: list[tuple]) -> None:
    """Counts as erased records leave them: (figure, month, place, category, organisation name, count)."""
    with app.app_context(), tenant_context(tenant_id):
        for figure, month, place, category, organisation, count in rows:
            found = db.session.scalar(sa.select(Organisation).where(Organisation.name == organisation)) if organisation else None
            if found is not None:
                category = (f"{found.kind.value}/{found.id}",)
            db.session.add(KeptCount(figure=figure, month=month, municipality=place, category=SEPARATOR.join(category),
                                     organisation_id=found.id if found else None, count=count))
        db.session.commit()
        db.session.remove()


def _two_cells(app, demo_tenants):
    """Leuven and Herent-Kortenberg with 7 and 6 signals and 6 and 5 measures of an OCMW in January."""
    leuven, herko = ready_cell(app, demo_tenants[LEUVEN], LEUVEN), ready_cell(app, demo_tenants[HERKO], HERKO)
    january = date(YEAR, 1, 1)
    _keep(app, leuven.tenant_id, [("signals_received", january, "24062", ("form", "police"), None, 7),
                                  ("measures_planned", january, "24062", (), "OCMW test", 6)])
    _keep(app, herko.tenant_id, [("signals_received", january, "24038", ("form", "police"), None, 6),
                                 ("measures_planned", january, "24055", (), "OCMW test", 5)])
    return leuven, herko


def _administrator(app):
    client = app.test_client()
    give_operator_session(app, client, add_operator(app, OperatorRole.ADMINISTRATOR))
    return client


def _platform(client, period=YEAR) -> dict:
    answer = client.get(f"/admin/api/figures?period={period}", headers=EN)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def _year_total(body: dict, figure: str, table: str):
    return values_of(body, figure, table)["all"][-1]


def test_the_platform_sums_only_the_active_cells_that_decided_to_count(app, demo_tenants):
    leuven, herko = _two_cells(app, demo_tenants)
    administrator = _administrator(app)
    nobody = _platform(administrator)
    assert _year_total(nobody, "signals_received", "channel") == "< 5"  # no cell decided yet: nothing counts

    _decide_to_count(app, leuven)
    assert _year_total(_platform(administrator), "signals_received", "channel") == 7  # Herent-Kortenberg did not decide

    _decide_to_count(app, herko)
    both = _platform(administrator)
    assert _year_total(both, "signals_received", "channel") == 13
    assert _year_total(both, "measures_planned", "organisation_kind") == 11
    assert both["cells"] == {"counted": None, "at_least": 5, "text": "fewer than 5 cells"}

    with app.app_context():  # a suspended cell is not summed
        db.session.get(Tenant, leuven.tenant_id).status = TenantStatus.SUSPENDED
        db.session.commit()
    assert _year_total(_platform(administrator), "signals_received", "channel") == 6


def test_no_cell_municipality_or_organisation_of_its_own_reaches_the_console(app, demo_tenants):
    leuven, herko = _two_cells(app, demo_tenants)
    _decide_to_count(app, leuven)
    _decide_to_count(app, herko)
    administrator = _administrator(app)
    body = _platform(administrator)
    breakdowns = {table["breakdown"] for figure in body["figures"] for table in figure["tables"]}
    assert "municipality" not in breakdowns and "organisation" not in breakdowns
    measures = values_of(body, "measures_planned", "organisation_kind")
    assert set(measures) == {leaf for leaf, _label in ORGANISATION_KINDS.categories} | {"all"}  # kinds only
    signals = [value for table in ("channel", "reporter") for row in values_of(body, "signals_received", table).values()
               for value in row]
    assert 7 not in signals and 6 not in signals  # never one cell's own count
    page = administrator.get(f"/admin/figures?period={YEAR}", headers=EN).get_data(as_text=True)
    for name in ("Leuven", "Herent", "Kortenberg", "OCMW test", LEUVEN, HERKO):
        assert name not in page and name not in str(body)


def test_the_platform_cubes_hide_small_counts_so_that_none_can_be_worked_out(app, demo_tenants):
    leuven, herko = _two_cells(app, demo_tenants)
    rnd = random.Random(7)
    channels, reporters = ["form", "email", "phone"], ["police", "school", "clb", "none"]
    for cell, place in ((leuven, "24062"), (herko, "24055")):
        _keep(app, cell.tenant_id, [
            ("signals_received", date(YEAR, rnd.randint(1, utcnow().month), 1), place,
             (rnd.choice(channels), rnd.choice(reporters)), None, rnd.randint(1, 3))
            for _ in range(25)
        ])
        _decide_to_count(app, cell)
    with app.test_request_context(headers=EN):
        facts = platform_facts(counting_cells())
        assert sum(count for fact, count in facts.items() if fact.figure == "signals_received") >= 50
        for figure in FIGURES:
            built = platform_cube(figure, YEAR, facts)
            assert audit(built.cube) == [], figure.key
            if figure.about_people:
                for coordinate, value in built.cube.values.items():
                    if 0 < value < 5:
                        assert coordinate in built.cube.hidden, (figure.key, coordinate)
        found = sum_platform_figures(parse_period(str(YEAR)))
        signals = next(shown for shown in found.views if shown.key == "signals_received")
        assert "< 5" in [cell.text for table in signals.tables for row in table.rows for cell in row.cells]


def test_the_console_figures_are_for_administrators_and_audited(app, demo_tenants):
    support = app.test_client()
    give_operator_session(app, support, add_operator(app, OperatorRole.SUPPORT))
    assert support.get("/admin/figures").status_code == 403
    assert support.get("/admin/api/figures").status_code == 403
    assert "/admin/figures" not in support.get("/admin/", headers=EN).get_data(as_text=True)

    administrator = _administrator(app)
    page = administrator.get(f"/admin/figures?period={YEAR}", headers=EN)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Platform-wide figures" in text and "Summed over fewer than 5 cells." in text
    assert 'href="/admin/figures"' in administrator.get("/admin/", headers=EN).get_data(as_text=True)
    refused = administrator.get("/admin/api/figures?period=2999", headers=EN)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["fields"] == {"period": ["This period has not begun yet: choose one up to today."]}
    assert administrator.get("/admin/figures?period=next", headers=EN).status_code == 400
    with app.app_context():
        reads = db.session.scalars(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.action == "figures.platform_read")).all()
        assert [entry.details for entry in reads] == [{"period": str(YEAR)}]


# --- the demo's history -------------------------------------------------------------------------


def test_the_demo_mayor_sees_last_years_and_this_years_history_with_small_counts_hidden(app, client, demo):  # noqa: F811
    mayor = demo_member(app, demo, LEUVEN, Role.MAYOR)
    signed_in(app, client, mayor)
    for period in (YEAR - 1, YEAR):
        body = client.get(f"/{LEUVEN}/api/monitoring?period={period}", headers=EN).get_json()
        total = values_of(body, "signals_received", "channel")["all"]
        assert isinstance(total[-1], int) and total[-1] >= 5, (period, total)
        assert any(isinstance(value, int) and value >= 5 for value in total[-5:-1]), (period, total)  # a quarter
        shown = [v for f in body["figures"] for t in f["tables"] for r in t["rows"] for v in r["values"]]
        assert "< 5" in shown

    def kept() -> list[tuple]:
        with app.app_context(), tenant_context(demo[LEUVEN]):
            rows = sorted(tuple(row) for row in db.session.execute(sa.select(
                KeptCount.figure, KeptCount.month, KeptCount.category, KeptCount.count)))
            db.session.remove()
        return rows

    history = kept()
    with app.app_context():  # seeding the demo again adds nothing
        seed_demo(with_members=True)
        db.session.remove()
    assert kept() == history
    with app.app_context(), tenant_context(demo[LEUVEN]):
        assert counts_in_platform_figures()  # the demo cell decided to count, jointly
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Proposal).where(
            Proposal.kind == DecisionKind.PLATFORM_FIGURES)) == 1


def test_erased_demo_cases_still_count(app, client, demo):  # noqa: F811
    """Retention erases a closed case: the year's figures the mayor sees do not change."""
    mayor = demo_member(app, demo, LEUVEN, Role.MAYOR)
    signed_in(app, client, mayor)

    def figures() -> dict:
        answers = {}
        for period in (YEAR - 1, YEAR):
            body = client.get(f"/{LEUVEN}/api/monitoring?period={period}", headers=EN).get_json()
            answers[period] = [f for f in body["figures"] if f["key"] not in ("alerts_confirmed", "meetings")]
        return answers

    before = figures()
    with app.test_request_context(), tenant_context(demo[LEUVEN]):
        closed = [case for case in db.session.scalars(sa.select(Case).where(Case.status == CaseStatus.CLOSED))
                  if case.opened_at.year >= YEAR - 1]
        assert closed, "the demo has a case closed within the last two years"
        erase_case(closed[0])
        db.session.commit()
        assert db.session.get(Case, closed[0].id) is None
        db.session.remove()
    assert figures() == before
