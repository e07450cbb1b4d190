"""The strategic table's figures (issue 17): small counts hidden, also by difference; each reader's
scope; erased records still counted; the API's answers to bad queries."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from auth_helpers import Member, give_session
from livc.app.demo import seed_demo
from livc.app.demo_cases import demo_email
from livc.platform.accounts import Account
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import accept_undertaking, has_accepted_current
from livc.tenants.monitoring.suppression import Cube, Dimension, Hidden, audit

EN = {"Accept-Language": "en"}


# --- the suppression itself, on cubes built by hand -------------------------------------------


def _cube(facts: dict, *, two_breakdowns: bool = False, places=("x", "y")) -> Cube:
    categories = Dimension("category", "all")
    categories.add("all", ["a", "b", "c"])
    if two_breakdowns:
        categories.add("all", ["k", "l"])
    periods = Dimension("period", "Y")
    periods.add("Y", ["Q1", "Q2"])
    periods.add("Q1", ["m1", "m2", "m3"])
    periods.add("Q2", ["m4", "m5", "m6"])
    municipalities = Dimension("municipality", "cell")
    municipalities.add("cell", list(places))
    return Cube.from_facts([categories, periods, municipalities], facts).suppress()


def _relations_hold(cube: Cube) -> None:
    """No relation gives a hidden number away by one subtraction, and no total shown beside only
    small hidden counts forces them up."""
    for parent, children in cube.relations():
        hidden = [cell for cell in [parent, *children] if cell in cube.hidden]
        assert len(hidden) != 1, (parent, children)
        if hidden and parent not in cube.hidden:
            small = [c for c in children if cube.hidden.get(c) == Hidden.SMALL]
            if small:
                assert any(cube.hidden.get(c) == Hidden.COMPLEMENT for c in children), (parent, children)


def test_a_small_count_is_shown_as_fewer_than_five_and_its_total_cannot_give_it_away():
    cube = _cube({("a", "m1", "x"): 2, ("b", "m1", "x"): 9, ("c", "m1", "x"): 12, ("a", "m2", "x"): 8})
    assert cube.shown(("a", "m1", "x")) == Hidden.SMALL
    assert cube.values[("all", "m1", "x")] == 23
    # The month's total is shown, so one more of its parts is hidden: 23 - 12 - ? is not 2.
    parts = [cube.shown((c, "m1", "x")) for c in "abc"]
    assert sum(isinstance(part, Hidden) for part in parts) >= 2
    _relations_hold(cube)
    assert audit(cube) == []


def test_counts_below_the_threshold_are_never_shown_even_zero():
    cube = _cube({("a", "m1", "x"): 7})
    assert cube.shown(("b", "m1", "x")) == Hidden.SMALL  # a zero
    for coordinate, value in cube.values.items():
        if value < 5:
            assert cube.shown(coordinate) == Hidden.SMALL


def test_no_small_count_can_be_worked_out_across_periods_breakdowns_and_municipalities():
    """Random cubes of two breakdowns, months, quarters and municipalities: every relation holds,
    and an adversary solving all relations at once (linear programming) pins no small count."""
    rnd = random.Random(17)
    pinned = []
    for trial in range(8):
        facts: dict = {}
        for _ in range(rnd.randint(4, 70)):
            key = ((rnd.choice("abc"), rnd.choice("kl")), f"m{rnd.randint(1, 6)}", rnd.choice("xy"))
            facts[key] = facts.get(key, 0) + 1
        cube = _cube(facts, two_breakdowns=True)
        _relations_hold(cube)
        pinned += [(trial, cell, cube.values[cell]) for cell in audit(cube)]
    assert pinned == []


# --- the demo, through the API ------------------------------------------------------------------


@pytest.fixture
def demo(app) -> dict[str, int]:
    with app.app_context():
        tenants = {tenant.slug: tenant.id for tenant in seed_demo(with_members=True)}
        db.session.remove()
    return tenants


def demo_member(app, tenants, slug: str, role: Role, variant: str | None = None) -> Member:
    with app.app_context(), tenant_context(tenants[slug]):
        account = db.session.scalar(sa.select(Account).where(Account.email == demo_email(slug, role, variant)))
        membership = db.session.scalar(sa.select(Membership).where(Membership.account_id == account.id))
        if not has_accepted_current(membership):
            accept_undertaking(membership)
            db.session.commit()
        member = Member(account.email, "", "", slug, tenants[slug], account.id, membership.id, role)
        db.session.remove()
    return member


def signed_in(app, client, member: Member):
    give_session(app, client, member)
    return client


def values_of(body: dict, figure: str, table_suffix: str) -> dict[str, list]:
    found = next(f for f in body["figures"] if f["key"] == figure)
    table = next(t for t in found["tables"] if t["key"] == f"{figure}-{table_suffix}")
    return {row["key"]: row["values"] for row in table["rows"]}


def test_the_demo_mayor_gets_the_year_with_small_counts_hidden(app, client, demo):
    mayor = demo_member(app, demo, "demo-leuven", Role.MAYOR)
    answer = signed_in(app, client, mayor).get("/demo-leuven/api/monitoring", headers=EN)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["scope"]["kind"] == "cell" and body["threshold"] == 5
    shown = [v for f in body["figures"] for t in f["tables"] for r in t["rows"] for v in r["values"]]
    assert "< 5" in shown
    assert all(v in ("< 5", "×") or (isinstance(v, int) and v >= 5) for f in body["figures"] if f["about_people"]
               for t in f["tables"] for r in t["rows"] for v in r["values"])
    text = answer.get_data(as_text=True)
    assert "LEU-" not in text and "Archiefgeval" not in text  # no case code, no name


def test_a_mayor_of_a_zonal_cell_sees_their_municipality_and_the_cells_total_only(app, client, demo):
    mayor = demo_member(app, demo, "demo-herko", Role.MAYOR, "kortenberg")
    answer = signed_in(app, client, mayor).get("/demo-herko/api/monitoring", headers=EN)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["scope"] == {"kind": "municipality", "municipality": "24055", "municipality_name": "Kortenberg"}
    places = values_of(body, "signals_received", "municipality")
    assert set(places) == {"24055", "cell"}  # never Herent's own row
    other = client.get("/demo-herko/api/monitoring?municipality=24038", headers=EN)
    assert other.status_code == 403
    assert other.get_json()["error"]["fields"]["municipality"] == ["You see the figures of your own municipality only."]
    assert client.get("/demo-herko/api/monitoring?municipality=24055", headers=EN).status_code == 200


def test_what_two_readers_see_together_hides_the_same_cells(app, client, demo):
    """The Kortenberg mayor's numbers are the coordinator's Kortenberg numbers, hidden the same
    way: subtracting one municipality from the cell's total gives nothing the other cannot see."""
    mayor = demo_member(app, demo, "demo-herko", Role.MAYOR, "kortenberg")
    coordinator = demo_member(app, demo, "demo-herko", Role.COORDINATOR)
    own = signed_in(app, client, mayor).get("/demo-herko/api/monitoring?period=2026", headers=EN).get_json()
    client.delete_cookie("session")
    everything = signed_in(app, app.test_client(), coordinator).get(
        "/demo-herko/api/monitoring?period=2026", headers=EN).get_json()
    for figure in ("signals_received", "cases_opened", "measures_planned"):
        seen_by_mayor = values_of(own, figure, "municipality")
        seen_by_coordinator = values_of(everything, figure, "municipality")
        assert seen_by_mayor["24055"] == seen_by_coordinator["24055"]
        assert seen_by_mayor["cell"] == seen_by_coordinator["cell"]
    with app.app_context(), tenant_context(demo["demo-herko"]):
        from livc.platform.tenancy import Tenant
        from livc.tenants.monitoring.reading import cubes

        tenant = db.session.get(Tenant, demo["demo-herko"])
        for built in cubes(tenant, 2026):
            assert audit(built.cube) == [], built.figure.key


def test_a_partner_sees_the_measures_of_their_own_organisation_only(app, client, demo):
    partner = demo_member(app, demo, "demo-leuven", Role.PARTNER)
    body = signed_in(app, client, partner).get("/demo-leuven/api/monitoring", headers=EN).get_json()
    assert body["scope"]["kind"] == "organisation"
    assert {figure["key"] for figure in body["figures"]} == {"measures_planned", "measures_done", "measures_late"}
    assert body["active"] is None
    for figure in body["figures"]:
        (table,) = figure["tables"]
        assert [row["label"] for row in table["rows"]] == ["CLB (DEMO)"]


def test_a_guest_expert_sees_no_figures(app, client, demo):
    guest = demo_member(app, demo, "demo-leuven", Role.GUEST_EXPERT)
    assert signed_in(app, client, guest).get("/demo-leuven/api/monitoring").status_code == 403


@pytest.mark.parametrize(("query", "field", "message"), [
    ("period=2999", "period", "This period has not begun yet: choose one up to today."),
    ("period=2026-13", "period", "Give a year (2026), a quarter (2026-Q2) or a month (2026-05)."),
    ("period=last+year", "period", "Give a year (2026), a quarter (2026-Q2) or a month (2026-05)."),
    ("period=1999", "period", "Figures start in 2015."),
    ("figure=names", "figure", "There is no such figure."),
    ("breakdown=person", "breakdown", "Break the figures down by category, municipality or organisation."),
    ("municipality=21004", "municipality", "This municipality is not one of the cell's."),
])
def test_a_query_that_cannot_be_answered_is_refused_field_by_field(app, client, demo, query, field, message):
    mayor = demo_member(app, demo, "demo-leuven", Role.MAYOR)
    answer = signed_in(app, client, mayor).get(f"/demo-leuven/api/monitoring?{query}", headers=EN)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["fields"] == {field: [message]}


def test_one_figure_one_breakdown_and_a_quarter(app, client, demo):
    mayor = demo_member(app, demo, "demo-leuven", Role.MAYOR)
    body = signed_in(app, client, mayor).get(
        "/demo-leuven/api/monitoring?period=2026-Q2&figure=cases_closed&breakdown=category", headers=EN).get_json()
    assert body["period"] == "2026-Q2"
    (figure,) = body["figures"]
    assert [table["key"] for table in figure["tables"]] == ["cases_closed-outcome", "cases_closed-time"]
    assert [column["key"] for column in figure["tables"][0]["columns"]] == ["2026-04", "2026-05", "2026-06", "2026-Q2"]


def test_erased_records_leave_their_facts_in_the_kept_counts(app, demo):
    """What the figures count of a case does not change when retention erases it."""
    from livc.platform.tenancy import Tenant
    from livc.tenants.cases.erasure import erase_case
    from livc.tenants.cases.models import Case, CaseStatus
    from livc.tenants.monitoring.reading import all_facts

    with app.app_context(), tenant_context(demo["demo-leuven"]):
        tenant = db.session.get(Tenant, demo["demo-leuven"])
        closed = db.session.scalars(sa.select(Case).where(Case.status == CaseStatus.CLOSED)).first()
        assert closed is not None

        def totals():
            counted: dict = {}
            for fact, count in all_facts(tenant.id):
                if fact.figure in ("alerts_confirmed", "meetings"):
                    continue  # not the case's (the federation's alert stays, without its case)
                key = (fact.figure, fact.month, fact.category)
                counted[key] = counted.get(key, 0) + count
            return counted

        before = totals()
        erase_case(closed)
        db.session.flush()
        assert db.session.get(Case, closed.id) is None
        assert totals() == before


def test_the_audit_finds_what_subtraction_rules_alone_miss_and_suppression_closes_it():
    """Relation by relation, the hidden cells look safe; solving every relation at once pins a
    small count (here 4: its row's other hidden number is bounded by its column). The audited
    suppression hides more until nothing is pinned."""
    rnd = random.Random(17)
    facts_sets = []
    for _ in range(8):
        facts: dict = {}
        for _ in range(rnd.randint(4, 70)):
            key = ((rnd.choice("abc"), rnd.choice("kl")), f"m{rnd.randint(1, 6)}", rnd.choice("xy"))
            facts[key] = facts.get(key, 0) + 1
        facts_sets.append(facts)
    found_unsafe = False
    for facts in facts_sets:
        categories = Dimension("category", "all")
        categories.add("all", ["a", "b", "c"])
        categories.add("all", ["k", "l"])
        periods = Dimension("period", "Y")
        periods.add("Y", ["Q1", "Q2"])
        periods.add("Q1", ["m1", "m2", "m3"])
        periods.add("Q2", ["m4", "m5", "m6"])
        places = Dimension("municipality", "cell")
        places.add("cell", ["x", "y"])
        rules_only = Cube.from_facts([categories, periods, places], facts).suppress(audited=False)
        pinned = audit(rules_only)
        for cell in pinned:
            assert 0 < rules_only.values[cell] < 5
        found_unsafe = found_unsafe or bool(pinned)
        assert audit(Cube.from_facts([categories, periods, places], facts).suppress()) == []
    assert found_unsafe
